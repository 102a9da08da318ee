/*
 * Write points, victim choice and relocation, one GC domain per die; the victim candidates of
 * each die are kept by victims.c.
 *
 * Foreground GC is on demand: when the host stream needs a new unit on a die whose free units
 * are at the limit, victims of that die are collected first, in the same call, so the host
 * write waits behind the GC work on the die's timeline. The GC stream may dip into the last
 * free unit (the reserve); the victim it empties replaces it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ftl/ftl_internal.h"
#include "util/util.h"

/*
 * How far ahead of its scan GC fetches a victim's mapping entries. Every move rewrites the
 * L2P entry of a random logical page, a cache miss (the table is tens of MiB) that would stall
 * each move; fetched a few moves early, the misses overlap. The P2L entries further ahead are
 * fetched as well, since reading them is what finds the L2P entries to fetch.
 */
#define MOVE_PREFETCH_PAGES 8
#define MOVE_PREFETCH_P2L_PAGES 32

static void fold_list_add(struct ssd *s, uint32_t d, uint32_t u);
static void fold_list_remove(struct ssd *s, uint32_t d, uint32_t u);

void victims_init(struct ssd *s)
{
	for (uint32_t d = 0; d < s->geo.dies; d++) {
		s->dies[d].victim.unit = NO_UNIT;
		s->dies[d].fold.unit = NO_UNIT;
		s->dies[d].fold_head = s->dies[d].fold_tail = NO_UNIT;
	}
}

/*
 * Opens a free unit of die d (one must exist) for `stream`; a unit opened for the host while
 * the SLC cache has room is written in SLC mode. Out of line: it runs once a unit, and its
 * call would otherwise cost every page placed a heavier prologue.
 */
static __attribute__((noinline)) uint32_t stream_open(struct ssd *s, struct stream *stream,
						      uint32_t d)
{
	struct die_gc *die = &s->dies[d];
	if (die->free_count == 0) {
		fprintf(stderr, "ftl: die %u has no free unit left\n", d);
		abort();
	}
	uint32_t u = wear_take_free(s, d, stream);
	s->free_units--;
	s->units[u].stream = stream->id;
	s->units[u].state = UNIT_OPEN;
	s->units[u].slc = stream == &s->host && s->host_slc;
	s->slc_units += s->units[u].slc;
	stream->open_unit[d] = u;
	return u;
}

/* The unit `stream` writes on die d, opening one if needed. */
static inline uint32_t stream_unit(struct ssd *s, struct stream *stream, uint32_t d)
{
	uint32_t u = stream->open_unit[d];
	return u != NO_UNIT ? u : stream_open(s, stream, d);
}

/*
 * Maps lpn to the next page of `stream` on die d and returns it; a unit is closed (a victim
 * candidate) once full.
 */
static inline uint64_t place(struct ssd *s, struct stream *stream, uint32_t d, uint32_t lpn)
{
	uint32_t u = stream_unit(s, stream, d);
	uint32_t offset = s->units[u].written++;
	uint64_t ppn = (uint64_t)u * s->geo.pages_per_unit + offset;
	s->p2l[ppn] = lpn + 1;
	s->l2p[lpn] = (uint32_t)ppn + 1;
	s->units[u].valid++;
	if (offset + 1 == s->geo.pages_per_unit) {
		stream->open_unit[d] = NO_UNIT;
		victim_set_add(&s->victims, u);
		if (s->units[u].slc)
			fold_list_add(s, d, u);
	}
	return ppn;
}

/* Starts emptying unit u of die d, a closed unit taken out of the victim candidates. */
static void relocation_start(struct ssd *s, struct relocation *r, uint32_t d, uint32_t u)
{
	victim_set_remove(&s->victims, u);
	if (s->units[u].slc)
		fold_list_remove(s, d, u);
	s->units[u].state = UNIT_VICTIM;
	r->unit = u;
	r->scan = 0;
	r->erase_ready = 0;
}

/* Takes die d's next victim out of the candidates; false if the die has none worth taking. */
static bool start_victim(struct ssd *s, uint32_t d)
{
	uint32_t u = wear_victim(s, d); /* cold data to move first, if any (static) */
	if (u == NO_UNIT) {
		u = victim_set_pick(&s->victims, d);
		if (u == NO_UNIT || (s->params.gc_policy == GC_GREEDY &&
				     s->units[u].valid == s->geo.pages_per_unit))
			return false;
	}
	struct die_gc *die = &s->dies[d];
	relocation_start(s, &die->victim, d, u);
	die->pace_valid = s->units[u].valid;
	die->credit = 0;
	return true;
}

static void erase_relocated(struct ssd *s, uint32_t d, struct relocation *r)
{
	struct die_gc *die = &s->dies[d];
	uint32_t u = r->unit;
	flash_erase(s->flash, u, r->erase_ready, FLASH_GC, NULL);
	s->units[u].erases++;
	s->units[u].written = 0;
	s->slc_units -= s->units[u].slc;
	s->units[u].slc = 0;
	s->count.erases++;
	s->count.gc_runs++;
	r->unit = NO_UNIT;
	if (wear_erased(s, d, u))
		return; /* worn out: retired */
	s->units[u].state = UNIT_FREE;
	s->free_stack[(uint64_t)d * s->geo.units_per_die + die->free_count++] = u;
	s->free_units++;
}

/*
 * Moves up to `budget` valid pages of the unit `r` empties on die d into the die's GC stream,
 * starting no earlier than `ready`, and erases it once it is empty. Returns the pages moved.
 */
static uint32_t move_pages(struct ssd *s, uint32_t d, struct relocation *r, uint32_t budget,
			   uint64_t ready)
{
	uint32_t u = r->unit, ppu = s->geo.pages_per_unit, moved = 0;
	uint64_t base = (uint64_t)u * ppu;
	unsigned from_flags = s->units[u].slc ? FLASH_SLC : 0;
	struct stream *to = wear_stream(s, d, r);
	if (r->erase_ready < ready)
		r->erase_ready = ready;
	while (r->scan < ppu && moved < budget) {
		if (r->scan + MOVE_PREFETCH_PAGES < ppu) {
			uint32_t ahead = s->p2l[base + r->scan + MOVE_PREFETCH_PAGES];
			if (ahead)
				__builtin_prefetch(&s->l2p[ahead - 1], 1);
		}
		if (r->scan + MOVE_PREFETCH_P2L_PAGES < ppu)
			__builtin_prefetch(&s->p2l[base + r->scan + MOVE_PREFETCH_P2L_PAGES]);
		uint64_t from = base + r->scan++;
		uint32_t lpn_plus_1 = s->p2l[from];
		if (!lpn_plus_1)
			continue;
		s->p2l[from] = 0;
		s->units[u].valid--;
		uint64_t dest = place(s, to, d, lpn_plus_1 - 1), data_out;
		unsigned to_flags = s->slc_on && s->units[page_unit(s, dest)].slc ? FLASH_SLC : 0;
		flash_copy(s->flash, from, from_flags, dest, to_flags, ready, &data_out);
		if (data_out > r->erase_ready)
			r->erase_ready = data_out;
		moved++;
	}
	s->count.gc_pages_moved += moved;
	s->count.nand_pages_written += moved;
	if (from_flags)
		s->count.slc_pages_folded += moved;
	if (r->scan == ppu)
		erase_relocated(s, d, r);
	return moved;
}

/*
 * Empties victims of die d until it has more than `limit` free units, all at once (the host
 * waits). Returns false when that cannot be done: every closed unit is fully valid (greedy sees
 * it at once; other policies give up after trying as many victims as the die has).
 */
static bool make_room(struct ssd *s, uint32_t d, uint32_t limit, uint64_t ready)
{
	uint32_t budget = s->victims.domains[d].closed_count + 1;
	while (s->dies[d].free_count <= limit) {
		if (s->dies[d].victim.unit == NO_UNIT && (budget-- == 0 || !start_victim(s, d)))
			return false;
		move_pages(s, d, &s->dies[d].victim, UINT32_MAX, ready);
	}
	return true;
}

/* ---- SLC cache ---- */

/*
 * The SLC cache is a timing and capacity overlay on the native mapping: a unit opened for the
 * host while the cache has room is written in SLC mode (slc_program_ns, later read with
 * slc_read_ns) and holds as many pages as any other unit; folding moves its valid pages to
 * native units of its die (like GC, counted as NAND writes) and erases it. Its size in units is
 * the static part plus the dynamic part, which is at most the unwritten capacity / cell_bits
 * (SLC blocks hold cell_bits times less), so it shrinks as the drive fills.
 */
uint64_t slc_capacity_units(const struct ssd *s)
{
	uint64_t unit_bytes = (uint64_t)s->geo.pages_per_unit * s->geo.page_bytes;
	uint64_t unwritten = (s->logical_pages - s->mapped_pages) * s->geo.page_bytes;
	uint64_t dynamic = unwritten / s->params.cell_bits;
	if (dynamic > s->params.slc_dynamic_bytes)
		dynamic = s->params.slc_dynamic_bytes;
	return (s->params.slc_static_bytes + dynamic) / unit_bytes;
}

static void fold_list_add(struct ssd *s, uint32_t d, uint32_t u)
{
	struct die_gc *die = &s->dies[d];
	s->fold_next[u] = NO_UNIT;
	s->fold_prev[u] = die->fold_tail;
	if (die->fold_tail != NO_UNIT)
		s->fold_next[die->fold_tail] = u;
	else
		die->fold_head = u;
	die->fold_tail = u;
}

void fold_restore(struct ssd *s, uint32_t u)
{
	fold_list_add(s, flash_unit_die(&s->geo, u), u);
}

static void fold_list_remove(struct ssd *s, uint32_t d, uint32_t u)
{
	struct die_gc *die = &s->dies[d];
	if (s->fold_prev[u] != NO_UNIT)
		s->fold_next[s->fold_prev[u]] = s->fold_next[u];
	else
		die->fold_head = s->fold_next[u];
	if (s->fold_next[u] != NO_UNIT)
		s->fold_prev[s->fold_next[u]] = s->fold_prev[u];
	else
		die->fold_tail = s->fold_prev[u];
}

/* Folds up to `budget` pages of die d's unit in progress, else of its oldest closed SLC unit,
 * from `ready` on; false when it has none. */
static bool fold_pages(struct ssd *s, uint32_t d, uint32_t budget, uint64_t ready)
{
	struct die_gc *die = &s->dies[d];
	if (die->fold.unit == NO_UNIT) {
		if (die->fold_head == NO_UNIT)
			return false;
		relocation_start(s, &die->fold, d, die->fold_head);
	}
	move_pages(s, d, &die->fold, budget, ready);
	return true;
}

/* Whether the host's next unit on die d is written in SLC mode; with slc_when_full=fold, a
 * full cache first folds one of the die's SLC units (the host waits for it). */
static bool host_unit_slc(struct ssd *s, uint32_t d, uint64_t ready)
{
	if (!s->slc_on)
		return false;
	if (s->slc_units < slc_capacity_units(s))
		return true;
	if (s->params.slc_when_full != SLC_FULL_FOLD)
		return false;
	/* Finishes the unit in progress (idle time may have started it), else folds one. */
	return fold_pages(s, d, UINT32_MAX, ready) && s->slc_units < slc_capacity_units(s);
}

/*
 * Incremental GC: while die d has at most two units above its limit, each host page written
 * there moves valid/(pages_per_unit - valid) pages of the current victim (the rate at which
 * emptying it keeps up with the host) plus one, so GC gets ahead and pauses again before the
 * host has to wait for a whole victim (make_room). GC work thus interleaves with host programs
 * on the die's timeline instead of arriving as one long burst that stalls every host write.
 */
static void paced_gc(struct ssd *s, uint32_t d, uint64_t ready)
{
	struct die_gc *die = &s->dies[d];
	if (die->victim.unit == NO_UNIT &&
	    (die->free_count > s->fg_limit + 2 || !start_victim(s, d)))
		return;
	uint32_t gain = s->geo.pages_per_unit - die->pace_valid;
	if (gain == 0) {
		/* a full victim (FIFO, random) gains nothing */
		move_pages(s, d, &die->victim, UINT32_MAX, ready);
		return;
	}
	die->credit += die->pace_valid;
	uint32_t due = die->credit / gain + 1;
	die->credit %= gain;
	move_pages(s, d, &die->victim, due, ready);
}

/*
 * The die for the host's next page: the one that will be free first (ties go round-robin from
 * the last one used, so an idle device stripes over channels, then dies), except that a
 * multi-plane page group is finished on its die first. Dies marked full are passed over.
 */
static uint32_t pick_host_die(struct ssd *s, const bool *full)
{
	struct stream *host = &s->host;
	uint32_t d = host->cursor;
	uint32_t open = host->open_unit[d];
	if (open != NO_UNIT && flash_mod(&s->geo.by_group_pages, s->units[open].written) != 0 &&
	    !full[d])
		return d;
	return flash_first_free_die(s->flash, d, full);
}

uint64_t host_place(struct ssd *s, uint32_t lpn, uint64_t now)
{
	struct stream *host = &s->host;
	bool *full = s->die_full;
	for (uint32_t tries = 0; tries < s->geo.dies; tries++) {
		uint32_t d = pick_host_die(s, full);
		if (d == UINT32_MAX)
			break; /* the dies left online are full */
		if (host->open_unit[d] != NO_UNIT || make_room(s, d, s->fg_limit, now)) {
			if (host->open_unit[d] == NO_UNIT)
				s->host_slc = host_unit_slc(s, d, now);
			host->cursor = d;
			uint64_t ppn = place(s, host, d, lpn);
			paced_gc(s, d, now);
			if (tries)
				for (uint32_t i = 0; i < s->geo.dies; i++)
					full[i] = s->die_down[i] != 0;
			return ppn;
		}
		full[d] = true; /* only valid data there for now: write elsewhere */
	}
	fprintf(stderr, "ftl: every die is full of valid data\n");
	abort();
}

/*
 * Closes the host's open unit on die d if it is in SLC mode, so that idle time folds it too
 * (its unwritten pages are given up until the fold erases it).
 */
static void close_open_slc(struct ssd *s, uint32_t d)
{
	uint32_t u = s->host.open_unit[d];
	if (u == NO_UNIT || !s->units[u].slc)
		return;
	s->host.open_unit[d] = NO_UNIT;
	victim_set_add(&s->victims, u);
	fold_list_add(s, d, u);
}

/*
 * A step of folding in idle time on the next die that has SLC data (dies take turns, so they
 * fold in parallel); false once none has.
 */
static bool fold_background(struct ssd *s, uint64_t ready)
{
	for (uint32_t tries = 0; tries < s->geo.dies; tries++) {
		uint32_t d = s->fold_cursor;
		s->fold_cursor = d + 1 == s->geo.dies ? 0 : d + 1;
		if (s->die_down[d])
			continue;
		if (s->dies[d].fold.unit == NO_UNIT && s->dies[d].fold_head == NO_UNIT)
			close_open_slc(s, d);
		if (fold_pages(s, d, BACKGROUND_STEP_PAGES, ready))
			return true;
	}
	return false;
}

/* A step of background GC on the next die over gc_bg_pcent; false when none gains anything. */
static bool gc_step(struct ssd *s, uint64_t ready)
{
	for (uint32_t tries = 0; tries < s->geo.dies; tries++) {
		uint32_t d = s->bg_cursor;
		s->bg_cursor = d + 1 == s->geo.dies ? 0 : d + 1;
		if (s->dies[d].free_count > s->bg_limit || s->die_down[d])
			continue;
		if (s->dies[d].victim.unit == NO_UNIT) {
			uint32_t u = victim_set_pick(&s->victims, d);
			/* Idle time is not spent moving units that would free nothing. */
			if (u == NO_UNIT || s->units[u].valid == s->geo.pages_per_unit ||
			    !start_victim(s, d))
				continue;
		}
		move_pages(s, d, &s->dies[d].victim, BACKGROUND_STEP_PAGES, ready);
		return true;
	}
	return false;
}

/* The SLC cache is folded first, then GC runs. */
bool gc_idle_step(struct ssd *s, uint64_t ready)
{
	return (s->slc_on && s->slc_units && fold_background(s, ready)) || gc_step(s, ready);
}

void idle_work(struct ssd *s, uint64_t now, bool (*step)(struct ssd *s, uint64_t ready))
{
	/* A host command since the last step: a new idle period, which must last first. */
	uint64_t idle = flash_idle_at(s->flash);
	if (idle != s->bg_end)
		s->bg_start = idle + s->params.bg_idle_ns;
	for (; s->bg_start < now && idle < now; idle = flash_idle_at(s->flash)) {
		if (!step(s, s->bg_start))
			break;
		s->bg_end = flash_idle_at(s->flash);
	}
}

/* Die d's fold list holds its closed SLC units, each once; counts SLC units as it goes. */
static int check_fold_list(struct ssd *s, uint32_t d, char *err, size_t errlen)
{
	uint64_t listed = 0, closed_slc = 0, first = (uint64_t)d * s->geo.units_per_die;
	for (uint32_t u = s->dies[d].fold_head; u != NO_UNIT; u = s->fold_next[u]) {
		if (!s->units[u].slc || s->units[u].state != UNIT_CLOSED ||
		    flash_unit_die(&s->geo, u) != d || ++listed > s->geo.units_per_die)
			return errorf(err, errlen,
				      "die %u fold list holds unit %u (slc %u, state %u)", d, u,
				      s->units[u].slc, s->units[u].state);
	}
	for (uint64_t u = first; u < first + s->geo.units_per_die; u++)
		closed_slc += s->units[u].slc && s->units[u].state == UNIT_CLOSED;
	if (listed != closed_slc)
		return errorf(err, errlen,
			      "die %u: %" PRIu64 " closed SLC units, %" PRIu64 " to fold", d,
			      closed_slc, listed);
	return 0;
}

int gc_check_tracking(struct ssd *s, char *err, size_t errlen)
{
	uint64_t slc_units = 0;
	for (uint32_t u = 0; u < s->geo.units; u++) {
		if (s->units[u].slc && s->units[u].state == UNIT_FREE)
			return errorf(err, errlen, "free unit %u is marked SLC", u);
		slc_units += s->units[u].slc;
	}
	if (slc_units != s->slc_units)
		return errorf(err, errlen, "%" PRIu64 " SLC units, counter %" PRIu64, slc_units,
			      s->slc_units);
	for (uint32_t d = 0; d < s->geo.dies; d++) {
		const uint32_t relocating[2] = {s->dies[d].victim.unit, s->dies[d].fold.unit};
		for (int i = 0; i < 2; i++) {
			uint32_t v = relocating[i];
			if (v != NO_UNIT &&
			    (s->units[v].state != UNIT_VICTIM || flash_unit_die(&s->geo, v) != d))
				return errorf(err, errlen, "die %u: unit %u relocated in state %u",
					      d, v, s->units[v].state);
		}
		if (s->slc_on && check_fold_list(s, d, err, errlen))
			return -1;
	}
	return victim_set_check(&s->victims, "die", err, errlen);
}
