/*
 * Write points, victim choice and relocation. Greedy keeps closed units in lists by valid count
 * so the emptiest unit is found in O(1) amortised (the lowest non-empty bucket only moves down
 * when a page is invalidated, and up by scanning empty buckets, at most pages_per_unit steps
 * between two victims).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ftl/ftl_internal.h"

/* Victims collected per call in idle time: bounds the call's work even with zero latencies. */
#define BACKGROUND_VICTIMS_PER_CALL 4

static uint64_t next_random(struct ssd *s)
{
	/* splitmix64: tiny, fast, and good enough to pick victims. */
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void list_push_front(struct ssd *s, uint32_t *head, uint32_t u)
{
	struct unit *unit = &s->units[u];
	unit->prev = NO_UNIT;
	unit->next = *head;
	if (*head != NO_UNIT)
		s->units[*head].prev = u;
	*head = u;
}

static void list_unlink(struct ssd *s, uint32_t *head, uint32_t *tail, uint32_t u)
{
	struct unit *unit = &s->units[u];
	if (unit->prev != NO_UNIT)
		s->units[unit->prev].next = unit->next;
	else
		*head = unit->next;
	if (unit->next != NO_UNIT)
		s->units[unit->next].prev = unit->prev;
	else if (tail)
		*tail = unit->prev;
}

void victims_init(struct ssd *s)
{
	for (uint32_t v = 0; v <= s->geo.pages_per_unit; v++)
		s->bucket_head[v] = NO_UNIT;
	s->min_bucket = s->geo.pages_per_unit;
	s->fifo_head = s->fifo_tail = NO_UNIT;
	s->rng = s->params.seed;
}

void victim_add(struct ssd *s, uint32_t u)
{
	struct unit *unit = &s->units[u];
	unit->state = UNIT_CLOSED;
	unit->closed_seq = s->seq;
	s->closed_units++;
	if (s->params.gc_policy == GC_FIFO) {
		unit->next = NO_UNIT;
		unit->prev = s->fifo_tail;
		if (s->fifo_tail != NO_UNIT)
			s->units[s->fifo_tail].next = u;
		else
			s->fifo_head = u;
		s->fifo_tail = u;
	} else if (s->params.gc_policy == GC_GREEDY) {
		list_push_front(s, &s->bucket_head[unit->valid], u);
		if (unit->valid < s->min_bucket)
			s->min_bucket = unit->valid;
	}
}

void victim_valid_dropped(struct ssd *s, uint32_t u)
{
	if (s->params.gc_policy != GC_GREEDY)
		return;
	uint32_t valid = s->units[u].valid;
	list_unlink(s, &s->bucket_head[valid + 1], NULL, u);
	list_push_front(s, &s->bucket_head[valid], u);
	if (valid < s->min_bucket)
		s->min_bucket = valid;
}

static void victim_remove(struct ssd *s, uint32_t u)
{
	s->closed_units--;
	if (s->params.gc_policy == GC_FIFO)
		list_unlink(s, &s->fifo_head, &s->fifo_tail, u);
	else if (s->params.gc_policy == GC_GREEDY)
		list_unlink(s, &s->bucket_head[s->units[u].valid], NULL, u);
}

/* A uniformly random closed unit; most units are closed whenever GC runs, so few draws. */
static uint32_t random_closed_unit(struct ssd *s)
{
	for (uint64_t tries = 0; tries < 64 * s->geo.units; tries++) {
		uint32_t u = (uint32_t)(next_random(s) % s->geo.units);
		if (s->units[u].state == UNIT_CLOSED)
			return u;
	}
	return NO_UNIT;
}

/* Cost-benefit (LFS): benefit/cost = (1 - u) * age / (1 + u), u = valid fraction. */
static uint32_t cost_benefit_victim(struct ssd *s)
{
	uint32_t best = NO_UNIT;
	double best_score = -1;
	for (uint32_t u = 0; u < s->geo.units; u++) {
		const struct unit *unit = &s->units[u];
		if (unit->state != UNIT_CLOSED)
			continue;
		double used = (double)unit->valid / s->geo.pages_per_unit;
		double age = (double)(s->seq - unit->closed_seq) + 1;
		double score = (1 - used) * age / (1 + used);
		if (score > best_score) {
			best_score = score;
			best = u;
		}
	}
	return best;
}

static uint32_t pick_victim(struct ssd *s)
{
	if (s->closed_units == 0)
		return NO_UNIT;
	switch ((enum gc_policy)s->params.gc_policy) {
	case GC_GREEDY:
		while (s->bucket_head[s->min_bucket] == NO_UNIT)
			s->min_bucket++;
		return s->bucket_head[s->min_bucket];
	case GC_FIFO:
		return s->fifo_head;
	case GC_RANDOM:
		return random_closed_unit(s);
	case GC_DCHOICE: {
		uint32_t best = NO_UNIT;
		for (uint32_t i = 0; i < s->params.gc_dchoice; i++) {
			uint32_t u = random_closed_unit(s);
			if (u != NO_UNIT && (best == NO_UNIT || s->units[u].valid < s->units[best].valid))
				best = u;
		}
		return best;
	}
	case GC_COST_BENEFIT:
		return cost_benefit_victim(s);
	}
	return NO_UNIT;
}

static inline void advance_cursor(struct ssd *s, struct stream *stream)
{
	if (++stream->cursor == s->geo.dies)
		stream->cursor = 0;
}

/*
 * Takes the stream's next page, skipping dies that have neither an open unit nor a free one
 * (the caller guarantees at least one free unit or some open space exists).
 */
static uint64_t stream_alloc(struct ssd *s, struct stream *stream)
{
	for (uint32_t tries = 0;; tries++) {
		if (tries > 2 * s->geo.dies) {
			fprintf(stderr, "ftl: no free page anywhere (free units %" PRIu64 ")\n",
				s->free_units);
			abort();
		}
		uint32_t d = stream->cursor;
		uint32_t u = stream->open_unit[d];
		if (u == NO_UNIT) {
			if (s->free_count[d] == 0) {
				advance_cursor(s, stream);
				continue;
			}
			u = s->free_stack[(uint64_t)d * s->geo.units_per_die + --s->free_count[d]];
			s->free_units--;
			s->units[u].state = UNIT_OPEN;
			stream->open_unit[d] = u;
			stream->next_page[d] = 0;
		}
		uint32_t offset = stream->next_page[d]++;
		if (stream->next_page[d] == s->geo.pages_per_unit) {
			stream->open_unit[d] = NO_UNIT;
			advance_cursor(s, stream);
		} else if (stream->next_page[d] % s->geo.planes == 0) {
			advance_cursor(s, stream);
		}
		return (uint64_t)u * s->geo.pages_per_unit + offset;
	}
}

/* Maps lpn to a fresh page of `stream`; a unit is closed (becomes a victim) once full. */
uint64_t stream_place(struct ssd *s, struct stream *stream, uint32_t lpn)
{
	uint64_t ppn = stream_alloc(s, stream);
	uint32_t u = page_unit(s, ppn);
	s->p2l[ppn] = lpn + 1;
	s->l2p[lpn] = (uint32_t)ppn + 1;
	s->units[u].valid++;
	if ((ppn + 1) % s->geo.pages_per_unit == 0)
		victim_add(s, u);
	return ppn;
}

/* Moves the valid pages of unit `u` to the GC stream and erases it, starting at `ready`. */
static void collect(struct ssd *s, uint32_t u, uint64_t ready)
{
	victim_remove(s, u);
	uint32_t ppu = s->geo.pages_per_unit;
	uint64_t base = (uint64_t)u * ppu;
	uint64_t erase_ready = ready;
	for (uint32_t off = 0; off < ppu; off++) {
		uint32_t lpn_plus_1 = s->p2l[base + off];
		if (!lpn_plus_1)
			continue;
		s->p2l[base + off] = 0;
		uint64_t data_at = flash_read(s->flash, base + off, ready);
		if (data_at > erase_ready)
			erase_ready = data_at;
		uint64_t dest = stream_place(s, s->gc_stream, lpn_plus_1 - 1);
		flash_program(s->flash, dest, data_at);
		s->count.gc_pages_moved++;
	}
	s->count.nand_pages_written += s->units[u].valid;
	s->units[u].valid = 0;
	flash_erase(s->flash, u, erase_ready);
	s->units[u].erases++;
	s->units[u].state = UNIT_FREE;
	uint32_t d = flash_unit_die(&s->geo, u);
	s->free_stack[(uint64_t)d * s->geo.units_per_die + s->free_count[d]++] = u;
	s->free_units++;
	s->count.erases++;
	s->count.gc_runs++;
}

void gc_foreground(struct ssd *s, uint64_t now)
{
	uint64_t victims = 0;
	while (s->free_units <= s->fg_limit) {
		uint32_t u = pick_victim(s);
		if (u == NO_UNIT || ++victims > 4 * s->geo.units) {
			fprintf(stderr, "ftl: GC cannot free a block (free %" PRIu64 ")\n",
				s->free_units);
			abort();
		}
		collect(s, u, now);
	}
}

/*
 * GC in idle time: the work is placed from the moment the device went idle, as if it had run
 * then, and stops once it reaches `now` (a host command arriving mid-GC waits for it).
 */
void gc_background(struct ssd *s, uint64_t now)
{
	for (int i = 0; i < BACKGROUND_VICTIMS_PER_CALL && s->free_units <= s->bg_limit; i++) {
		uint64_t idle = flash_idle_at(s->flash);
		if (idle >= now)
			return;
		uint32_t u = pick_victim(s);
		if (u == NO_UNIT || s->units[u].valid == s->geo.pages_per_unit)
			return;
		collect(s, u, idle);
	}
}

int gc_check_tracking(struct ssd *s, char *err, size_t errlen)
{
	uint64_t listed = 0;
	if (s->params.gc_policy == GC_GREEDY) {
		for (uint32_t v = 0; v <= s->geo.pages_per_unit; v++) {
			for (uint32_t u = s->bucket_head[v]; u != NO_UNIT; u = s->units[u].next) {
				if (s->units[u].state != UNIT_CLOSED || s->units[u].valid != v) {
					snprintf(err, errlen, "unit %u in bucket %u: valid %u state %u",
						 u, v, s->units[u].valid, s->units[u].state);
					return -1;
				}
				if (v < s->min_bucket) {
					snprintf(err, errlen, "bucket %u below min_bucket %u", v,
						 s->min_bucket);
					return -1;
				}
				listed++;
			}
		}
	} else if (s->params.gc_policy == GC_FIFO) {
		for (uint32_t u = s->fifo_head; u != NO_UNIT; u = s->units[u].next)
			listed++;
	} else {
		listed = s->closed_units;
	}
	uint64_t closed = 0;
	for (uint32_t u = 0; u < s->geo.units; u++)
		closed += s->units[u].state == UNIT_CLOSED;
	if (listed != closed || closed != s->closed_units) {
		snprintf(err, errlen, "victim tracking: %" PRIu64 " listed, %" PRIu64
			 " closed, counter %" PRIu64, listed, closed, s->closed_units);
		return -1;
	}
	return 0;
}
