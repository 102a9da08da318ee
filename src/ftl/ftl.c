/* Page-mapping FTL: device setup, the host command paths, counters and the consistency check. */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "ftl/ftl_internal.h"
#include "util/util.h"

struct ssd *ssd_create(const struct ssd_params *params, char *err, size_t errlen)
{
	return ssd_open(params, NULL, SSD_TABLES_ZERO, NULL, err, errlen);
}

void ssd_destroy(struct ssd *s)
{
	if (!s)
		return;
	if (s->flash)
		pthread_mutex_destroy(&s->lock);
	fdp_destroy(s);
	flash_destroy(s->flash);
	front_destroy(s->front);
	map_cache_destroy(s->map);
	free(s->fold_prev);
	free(s->fold_next);
	for (int t = 0; s->owns_tables && t < SSD_TABLES; t++)
		if (s->tables[t])
			munmap(s->tables[t], s->table_bytes[t]);
	free(s->free_stack);
	free(s->dies);
	free(s->die_full);
	victim_set_free(&s->victims);
	free(s->die_down);
	free(s->host.open_unit);
	free(s->gc.open_unit);
	free(s->cold.open_unit);
	free(s);
}

void ssd_single_thread(struct ssd *s)
{
	s->single_thread = true;
}

uint64_t ssd_logical_pages(const struct ssd *s)
{
	return s->logical_pages;
}

uint32_t ssd_page_bytes(const struct ssd *s)
{
	return s->geo.page_bytes;
}

uint64_t ssd_erase_unit_bytes(const struct ssd *s)
{
	return (uint64_t)s->geo.pages_per_unit * s->geo.page_bytes;
}

/*
 * Page ppn no longer holds lpn. The check keeps the counts right even on tables that do not
 * agree (a crash-recovered or handed-over device is checked at open, but cheaply here too).
 */
static inline void invalidate(struct ssd *s, uint64_t ppn, uint64_t lpn)
{
	if (s->p2l[ppn] != lpn + 1)
		return;
	s->p2l[ppn] = 0;
	uint32_t u = page_unit(s, ppn);
	s->units[u].valid--;
	if (s->fdp)
		fdp_valid_dropped(s, u, (uint32_t)lpn);
	else if (s->units[u].state == UNIT_CLOSED)
		victim_set_dropped(&s->victims, u);
}

uint64_t ftl_random(struct ssd *s) { return splitmix64(&s->rng); }

/*
 * Work every command does first: run the idle time's work (placed in the past, so before the
 * calendars forget it), forget the past, take a firmware core.
 */
static inline uint64_t command_start(struct ssd *s, uint64_t now, struct lat_parts *parts)
{
	idle_work(s, now, s->fdp ? fdp_idle_step : gc_idle_step);
	flash_advance(s->flash, now);
	if (s->has_link)
		front_advance(s->front, now);
	return front_command(s->front, now, parts);
}

static inline unsigned page_flags(const struct ssd *s, uint64_t ppn)
{
	return s->slc_on && s->units[page_unit(s, ppn)].slc ? FLASH_SLC : 0;
}

/* Writes placed on handle ruh of group rg when the device has FDP (ignored otherwise). */
static uint64_t write_pages(struct ssd *s, uint64_t lpn, uint32_t npages, uint32_t ruh, uint32_t rg,
			    bool fua, uint64_t now, struct lat_parts *parts, uint64_t *programmed_at)
{
	assert(lpn + npages <= s->logical_pages);
	lock(s);
	uint64_t start = command_start(s, now, parts);
	bool buffered = flash_buffer_pages(s->flash) > 0, on_nand = fua || !buffered;
	struct lat_pages lp;
	struct lat_parts *pp = lat_pages_begin(&lp, parts, npages);
	uint64_t done = start, last_on_nand = start;
	for (uint64_t lpage = lpn; lpage < lpn + npages; lpage++) {
		lat_page_begin(&lp);
		uint32_t old = s->l2p[lpage];
		if (old && !s->params.in_place_writes)
			invalidate(s, old - 1, lpage);
		else if (!old)
			s->mapped_pages++;
		/* The entry is updated in controller memory; loading it is not on the host's path. */
		if (s->map)
			map_cache_access(s, lpage, true, start, NULL);
		uint64_t arrived =
		    s->has_link ? front_link(s->front, LINK_TO_DRIVE, start, pp) : start;
		uint64_t ready = buffered ? flash_buffer_admit(s->flash, arrived) : arrived;
		lat_add(pp, LAT_BUFFER_WAIT, ready - arrived);
		/* Media written in place keeps a page where it is (never with FDP). */
		uint64_t ppn = old && s->params.in_place_writes ? old - 1
			       : s->fdp ? fdp_place(s, (uint32_t)lpage, ruh, rg, start)
					: host_place(s, (uint32_t)lpage, start);
		unsigned flags = page_flags(s, ppn);
		uint64_t programmed =
		    flash_program(s->flash, ppn, ready, flags, on_nand ? pp : NULL);
		flash_buffer_release(s->flash, programmed);
		last_on_nand = max_u64(last_on_nand, programmed);
		s->count.slc_pages_written += flags & FLASH_SLC;
		lat_page_end(&lp, on_nand ? programmed : ready, &done);
	}
	lat_pages_end(&lp);
	s->seq += npages;
	s->count.host_pages_written += npages;
	s->count.nand_pages_written += npages;
	unlock(s);
	if (programmed_at)
		*programmed_at = last_on_nand;
	return done;
}

uint64_t ssd_write(struct ssd *s, uint64_t lpn, uint32_t npages, bool fua, uint64_t now,
		   struct lat_parts *parts)
{
	return write_pages(s, lpn, npages, 0, 0, fua, now, parts, NULL);
}

uint64_t ssd_write_placed(struct ssd *s, uint64_t lpn, uint32_t npages, uint32_t ruh, uint32_t rg,
			  bool fua, uint64_t now, struct lat_parts *parts)
{
	return ssd_write_placed_at(s, lpn, npages, ruh, rg, fua, now, parts, NULL);
}

uint64_t ssd_write_placed_at(struct ssd *s, uint64_t lpn, uint32_t npages, uint32_t ruh,
			     uint32_t rg, bool fua, uint64_t now, struct lat_parts *parts,
			     uint64_t *programmed_at)
{
	assert(!s->params.fdp || (ruh < s->params.fdp_nruh && rg < s->params.fdp_nrg));
	return write_pages(s, lpn, npages, ruh, rg, fua, now, parts, programmed_at);
}

uint64_t ssd_read(struct ssd *s, uint64_t lpn, uint32_t npages, uint64_t now,
		  struct lat_parts *parts)
{
	assert(lpn + npages <= s->logical_pages);
	lock(s);
	uint64_t start = command_start(s, now, parts);
	if (npages == 1 && !parts && s->plain_reads) {
		/* The loop below for one page with every optional piece off. */
		uint32_t mapped = s->l2p[lpn];
		uint64_t end = mapped ? flash_read(s->flash, mapped - 1, start, 0, 0, NULL) +
					    s->params.controller_read_ns
				      : start + s->params.unmapped_read_ns;
		s->count.host_pages_read++;
		unlock(s);
		return end;
	}
	struct lat_pages lp;
	struct lat_parts *pp = lat_pages_begin(&lp, parts, npages);
	uint64_t done = start;
	for (uint64_t lpage = lpn; lpage < lpn + npages; lpage++) {
		lat_page_begin(&lp);
		uint32_t mapped = s->l2p[lpage];
		uint64_t end;
		if (!mapped) {
			/* Answered from the map: no NAND. */
			end = start + s->params.unmapped_read_ns;
			lat_add(pp, LAT_CONTROLLER, s->params.unmapped_read_ns);
		} else {
			uint64_t ready =
			    s->map ? map_cache_access(s, lpage, false, start, pp) : start;
			/* A worn unit needs retries more often (wear.c). */
			uint64_t below = s->worn_retry_below
					     ? wear_retry_below(s, page_unit(s, mapped - 1))
					     : s->retry_below;
			uint64_t retry = 0;
			if (below && ftl_random(s) < below) {
				retry = s->params.read_retry_ns;
				s->count.read_retries++;
			}
			end = flash_read(s->flash, mapped - 1, ready, page_flags(s, mapped - 1),
					 retry, pp);
			end += s->params.controller_read_ns;
			lat_add(pp, LAT_CONTROLLER, s->params.controller_read_ns);
		}
		if (s->has_link)
			end = front_link(s->front, LINK_TO_HOST, end, pp);
		lat_page_end(&lp, end, &done);
	}
	lat_pages_end(&lp);
	s->count.host_pages_read += npages;
	unlock(s);
	return done;
}

uint64_t ssd_trim(struct ssd *s, uint64_t lpn, uint32_t npages, uint64_t now,
		  struct lat_parts *parts)
{
	assert(lpn + npages <= s->logical_pages);
	lock(s);
	uint64_t done = command_start(s, now, parts);
	for (uint64_t page = lpn; page < lpn + npages; page++) {
		uint32_t mapped = s->l2p[page];
		if (mapped) {
			invalidate(s, mapped - 1, page);
			s->l2p[page] = 0;
			s->mapped_pages--;
			if (s->map)
				map_cache_access(s, page, true, done, NULL);
		}
	}
	s->count.host_pages_trimmed += npages;
	unlock(s);
	return done;
}

uint64_t ssd_flush(struct ssd *s, uint64_t now, struct lat_parts *parts)
{
	lock(s);
	uint64_t start = command_start(s, now, parts);
	uint64_t done = max_u64(start, flash_buffer_drained_at(s->flash));
	lat_add(parts, LAT_BUFFER_WAIT, done - start);
	unlock(s);
	return done;
}

void ssd_prefetch_l2p(const struct ssd *s, uint64_t lpn, uint32_t npages)
{
	if (npages == 0 || lpn >= s->logical_pages)
		return;
	uint64_t end = lpn + npages < s->logical_pages ? lpn + npages : s->logical_pages;
	/* Up to four lines from the first entry on, and the last: a long command pays its other
	 * misses while its first pages are served anyway. */
	const char *table = (const char *)s->l2p;
	uint64_t first = lpn * sizeof(*s->l2p), last = (end - 1) * sizeof(*s->l2p);
	for (uint64_t at = first; at <= last && at < first + 4 * 64; at += 64)
		__builtin_prefetch(table + at);
	__builtin_prefetch(table + last);
}

void ssd_prefetch_p2l(const struct ssd *s, uint64_t lpn, uint32_t npages)
{
	if (!s->single_thread || lpn >= s->logical_pages)
		return;
	/* The first few pages: as above, a long command overlaps the rest with its own work. */
	uint64_t end = lpn + (npages < 8 ? npages : 8);
	for (end = end < s->logical_pages ? end : s->logical_pages; lpn < end; lpn++) {
		uint32_t mapped = s->l2p[lpn];
		if (mapped) {
			__builtin_prefetch(&s->p2l[mapped - 1], 1);
			__builtin_prefetch(&s->units[page_unit(s, mapped - 1)], 1);
		}
	}
}

int ssd_set_die_offline(struct ssd *s, uint32_t die, bool offline, char *err, size_t errlen)
{
	if (die >= s->geo.dies)
		return errorf(err, errlen, "die %u: the device has dies 0 to %u", die,
			      s->geo.dies - 1);
	if (s->params.fdp)
		return errorf(err, errlen, "die %u cannot go offline: FDP (fdp=on) places writes by "
			      "reclaim group, die-offline is not modelled with it", die);
	lock(s);
	int rc = 0;
	char why[200];
	/* Every logical page may be written again on the dies left. */
	if (offline && !s->die_down[die] &&
	    (s->dies_down + 1 == s->geo.dies ||
	     check_spare(s, s->geo.dies - s->dies_down - 1, why, sizeof(why))))
		rc = errorf(err, errlen, "die %u cannot go offline: %s", die,
			    s->dies_down + 1 == s->geo.dies ? "it is the last one online" : why);
	else if (offline && !s->die_down[die]++)
		s->dies_down++;
	else if (!offline && s->die_down[die] && !--s->die_down[die])
		s->dies_down--;
	s->die_full[die] = s->die_down[die] != 0;
	unlock(s);
	return rc;
}

uint64_t ssd_first_lost_page(struct ssd *s, uint64_t lpn, uint32_t npages)
{
	assert(lpn + npages <= s->logical_pages);
	uint64_t lost = UINT64_MAX;
	lock(s);
	for (uint64_t lpage = lpn; s->dies_down && lpage < lpn + npages; lpage++) {
		uint32_t mapped = s->l2p[lpage];
		if (mapped && s->die_down[flash_unit_die(&s->geo, page_unit(s, mapped - 1))]) {
			lost = lpage;
			break;
		}
	}
	unlock(s);
	return lost;
}

void ssd_get_counters(struct ssd *s, struct ssd_counters *out)
{
	lock(s);
	*out = s->count;
	uint64_t min = UINT64_MAX, max = 0, sum = 0;
	for (uint32_t u = 0; u < s->geo.units; u++) {
		uint64_t e = s->units[u].erases;
		min = e < min ? e : min;
		max = e > max ? e : max;
		sum += e;
	}
	out->erase_min = min;
	out->erase_max = max;
	out->erase_mean = (double)sum / (double)s->geo.units;
	out->free_blocks = s->free_units;
	out->waf = out->host_pages_written
			   ? (double)out->nand_pages_written / (double)out->host_pages_written
			   : 0;
	uint64_t unit_bytes = (uint64_t)s->geo.pages_per_unit * s->geo.page_bytes;
	out->slc_cache_bytes = s->slc_on ? slc_capacity_units(s) * unit_bytes : 0;
	out->slc_used_bytes = s->slc_units * unit_bytes;
	wear_counters(s, out);
	unlock(s);
}

bool ssd_read_only(struct ssd *s)
{
	/* One flag, set under the lock and never cleared: a stale read only delays a refusal by
	 * one command. */
	return __atomic_load_n(&s->read_only, __ATOMIC_RELAXED);
}

uint64_t ssd_units(const struct ssd *s) { return s->geo.units; }

void ssd_unit_erases(struct ssd *s, uint32_t *out)
{
	lock(s);
	for (uint64_t u = 0; u < s->geo.units; u++)
		out[u] = s->units[u].erases;
	unlock(s);
}

static int check_mapping(struct ssd *s, uint32_t *counted, char *err, size_t errlen)
{
	uint64_t mapped_pages = 0, valid_pages = 0;
	for (uint64_t lpn = 0; lpn < s->logical_pages; lpn++) {
		uint32_t m = s->l2p[lpn];
		if (!m)
			continue;
		mapped_pages++;
		if (m - 1 >= s->geo.pages || s->p2l[m - 1] != lpn + 1) {
			errorf(err, errlen,
			       "lpn %" PRIu64 " maps to page %u, which does not map back", lpn,
			       m - 1);
			return -1;
		}
	}
	for (uint64_t ppn = 0; ppn < s->geo.pages; ppn++) {
		uint32_t back = s->p2l[ppn];
		if (!back)
			continue;
		valid_pages++;
		counted[page_unit(s, ppn)]++;
		if (back - 1 >= s->logical_pages || s->l2p[back - 1] != ppn + 1) {
			errorf(err, errlen, "page %" PRIu64 " holds lpn %u, which maps elsewhere",
			       ppn, back - 1);
			return -1;
		}
	}
	if (mapped_pages != valid_pages) {
		errorf(err, errlen, "%" PRIu64 " mapped lpns but %" PRIu64 " valid pages",
		       mapped_pages, valid_pages);
		return -1;
	}
	for (uint32_t u = 0; u < s->geo.units; u++) {
		if (counted[u] != s->units[u].valid) {
			errorf(err, errlen, "unit %u: valid counter %u, mapping says %u", u,
			       s->units[u].valid, counted[u]);
			return -1;
		}
	}
	return 0;
}

static int check_free(struct ssd *s, char *err, size_t errlen)
{
	uint64_t free_units = 0, in_stacks = 0;
	for (uint32_t u = 0; u < s->geo.units; u++) {
		if (s->units[u].state != UNIT_FREE)
			continue;
		free_units++;
		if (s->units[u].valid) {
			errorf(err, errlen, "free unit %u has %u valid pages", u,
			       s->units[u].valid);
			return -1;
		}
	}
	for (uint32_t d = 0; d < s->geo.dies; d++) {
		for (uint32_t i = 0; i < s->dies[d].free_count; i++) {
			uint32_t u = s->free_stack[(uint64_t)d * s->geo.units_per_die + i];
			if (s->units[u].state != UNIT_FREE || flash_unit_die(&s->geo, u) != d) {
				errorf(err, errlen, "die %u free list holds unit %u (state %u)", d,
				       u, s->units[u].state);
				return -1;
			}
			in_stacks++;
		}
	}
	if (free_units != s->free_units || in_stacks != s->free_units) {
		errorf(err, errlen,
		       "free units: %" PRIu64 " by state, %" PRIu64 " listed, counter %" PRIu64,
		       free_units, in_stacks, s->free_units);
		return -1;
	}
	return 0;
}

static int check_open(struct ssd *s, char *err, size_t errlen)
{
	uint64_t open_by_state = 0, open_by_stream = 0;
	for (uint32_t u = 0; u < s->geo.units; u++)
		open_by_state += s->units[u].state == UNIT_OPEN;
	const struct stream *streams[3] = {&s->host, &s->gc, &s->cold};
	for (int i = 0; i < 3; i++) {
		for (uint32_t d = 0; d < s->geo.dies; d++) {
			uint32_t u = streams[i]->open_unit[d];
			if (u == NO_UNIT)
				continue;
			open_by_stream++;
			uint64_t base = (uint64_t)u * s->geo.pages_per_unit;
			if (s->units[u].state != UNIT_OPEN || s->units[u].stream != streams[i]->id) {
				errorf(err, errlen, "unit %u: open for stream %u, recorded as state %u stream %u",
				     u, streams[i]->id, s->units[u].state, s->units[u].stream);
				return -1;
			}
			for (uint32_t off = s->units[u].written; off < s->geo.pages_per_unit; off++) {
				if (s->p2l[base + off]) {
					errorf(err, errlen, "unit %u: unwritten page %u is mapped",
					       u, off);
					return -1;
				}
			}
		}
	}
	if (open_by_state != open_by_stream) {
		errorf(err, errlen, "%" PRIu64 " units open, streams hold %" PRIu64, open_by_state,
		       open_by_stream);
		return -1;
	}
	return 0;
}

int ssd_check(struct ssd *s, char *err, size_t errlen)
{
	lock(s);
	uint32_t *counted = calloc(s->geo.units, sizeof(*counted));
	int rc = -1;
	if (!counted)
		errorf(err, errlen, "out of memory");
	else if (check_mapping(s, counted, err, errlen) == 0 &&
		 (s->fdp ? fdp_check(s, err, errlen) == 0
			 : check_free(s, err, errlen) == 0 && check_open(s, err, errlen) == 0 &&
			       gc_check_tracking(s, err, errlen) == 0) &&
		 wear_check(s, err, errlen) == 0)
		rc = 0;
	free(counted);
	unlock(s);
	return rc;
}

bool ssd_fdp_config(const struct ssd *s, struct ssd_fdp_config *out)
{
	return fdp_config(s, out); /* fixed at creation: no lock */
}

void ssd_fdp_handle_counters(struct ssd *s, uint32_t ruh, struct ssd_fdp_counters *out)
{
	lock(s);
	fdp_handle_counters(s, ruh, out);
	unlock(s);
}

void ssd_fdp_group_counters(struct ssd *s, uint32_t rg, struct ssd_fdp_counters *out)
{
	lock(s);
	fdp_group_counters(s, rg, out);
	unlock(s);
}

void ssd_fdp_ruh_status(struct ssd *s, uint32_t ruh, uint32_t rg, uint64_t now,
			uint64_t *available_pages, uint32_t *seconds_left)
{
	lock(s);
	fdp_ruh_status(s, ruh, rg, now, available_pages, seconds_left);
	unlock(s);
}

bool ssd_fdp_update(struct ssd *s, uint32_t ruh, uint32_t rg, uint64_t now)
{
	lock(s);
	bool partial = fdp_update(s, ruh, rg, now);
	unlock(s);
	return partial;
}

size_t ssd_fdp_take_events(struct ssd *s, uint64_t now, struct ssd_fdp_event *out, size_t max)
{
	lock(s);
	size_t n = fdp_take_events(s, now, out, max);
	unlock(s);
	return n;
}

int ssd_fdp_owner(struct ssd *s, uint64_t lpn)
{
	lock(s);
	int owner = fdp_owner(s, lpn);
	unlock(s);
	return owner;
}
