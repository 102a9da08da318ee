/*
 * Flexible Data Placement in the FTL: reclaim groups, reclaim units (RUs), reclaim unit
 * handles, and a GC that never mixes a persistently isolated handle's data with other data.
 *
 * Layout. The dies are split into fdp_nrg reclaim groups of consecutive dies. An RU is
 * `slot_units` consecutive erase units on every die of its group, at the same place on each
 * die: RU j of group g holds units j * slot_units .. (j + 1) * slot_units - 1 of each of g's
 * dies. A die's share of an RU is its slot; slot pages are numbered in unit order, so
 * consecutive pages of a slot form multi-plane programs.
 *
 * Write points. Every handle has a host write point in every group, every persistently
 * isolated handle a GC point too, and the initially isolated handles share one GC point per
 * group. A point fills its open RU page by page on the die that will be free first (the host
 * stream's rule in gc.c), so one handle's writes stripe over the whole group.
 *
 * GC. Each group is a GC domain whose victims are whole RUs. Its RUs fall into isolation
 * pools: one per persistently isolated handle (its host and GC RUs), one for the initially
 * isolated handles together (their host RUs and the shared GC RUs). A moved page goes to the
 * GC point of the handle that wrote it (tag[lpn]), on its own die when the destination's slot
 * there has room (a copyback), else over the channel to another die of the group.
 *
 * Which pool gives the next victim: a fully invalid RU anywhere first (reclaiming it moves
 * nothing), else the pool in most debt (RUs it opened, host or GC, minus RUs of it erased),
 * and within the pool, gc_policy (victims.c). Each pool thus reclaims what it consumes: a
 * handle written as a sequential log frees its own oldest RUs once they are fully overwritten
 * (WAF 1) instead of having its half-overwritten RUs collected for a hot neighbour, and a
 * handle's WAF follows from the spare area its pool ends up holding (docs/fdp.md).
 * Pacing, foreground work and idle-time work follow gc.c. A group whose RUs hold nothing but
 * valid data sends host pages to the same handle in another group, so a full drive slows down
 * but never fails a write.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftl/fdp_internal.h"
#include "util/util.h"

static void set_units_state(struct ssd *s, struct fdp *f, uint32_t r, uint8_t state)
{
	const struct rgroup *grp = &f->groups[group_of(f, r)];
	for (uint32_t i = 0; i < f->dies_per_group; i++) {
		uint64_t first = ru_slot_unit(s, f, r, grp->first_die + i);
		for (uint32_t k = 0; k < f->slot_units; k++)
			s->units[first + k].state = state;
	}
}

static void record_event(struct fdp *f, uint8_t type, uint32_t ruh, uint32_t rg, uint64_t at)
{
	uint32_t slot = (f->event_head + f->event_count) % EVENT_RING;
	if (f->event_count == EVENT_RING)
		f->event_head = (f->event_head + 1) % EVENT_RING; /* the oldest goes */
	else
		f->event_count++;
	f->events[slot] = (struct ssd_fdp_event){
	    .type = type, .ruh = (uint16_t)ruh, .rg = (uint16_t)rg, .at_ns = at};
}

static void close_ru(struct ssd *s, struct fdp *f, struct point *pt)
{
	uint32_t r = pt->ru;
	pt->ru = NO_UNIT;
	f->info[r].closed_seq = s->seq; /* victim_set_add's, kept before the units say CLOSED */
	set_units_state(s, f, r, UNIT_CLOSED);
	victim_set_add(&f->victims, r);
}

static void open_ru(struct ssd *s, struct fdp *f, uint32_t g, struct point *pt, uint16_t owner,
		    uint64_t now)
{
	struct rgroup *grp = &f->groups[g];
	if (grp->free_count == 0) {
		/* GC keeps fg_limit >= 1 free for its own points; the host stops above it. */
		fprintf(stderr, "ftl: reclaim group %u has no free reclaim unit left\n", g);
		abort();
	}
	uint32_t r = grp->free_stack[--grp->free_count];
	s->free_units -= (uint64_t)f->dies_per_group * f->slot_units;
	/* Whose it is goes to the table before its units say OPEN (a crash between leaves a
	 * free RU). The first pick starts at the group's first die. */
	f->info[r] = (struct ru_info){.owner = owner,
				      .point = (uint16_t)(pt - grp->points),
				      .cursor = grp->first_die + f->dies_per_group - 1,
				      .opened_ns = now};
	f->rus[r].state = UNIT_OPEN;
	set_units_state(s, f, r, UNIT_OPEN);
	f->ru_domain[r] = g * f->npools + pool_of(f, owner);
	grp->debt[pool_of(f, owner)]++;
	pt->ru = r;
	memset(pt->filled, 0, f->dies_per_group * sizeof(*pt->filled));
	for (uint32_t d = 0; d < s->geo.dies; d++)
		pt->full[d] = d < grp->first_die || d >= grp->first_die + f->dies_per_group;
	grp->count.rus_opened++;
	if (owner < f->nruh && pt == &grp->points[owner])
		f->handle[owner].rus_opened++;
}

/* The die for a point's next page: `want` when its slot there has room, else as the host stream
 * picks (finish a multi-plane group, else the die free first). */
static uint32_t point_die(struct ssd *s, const struct fdp *f, struct point *pt, uint32_t first_die,
			  uint32_t want)
{
	if (want != UINT32_MAX && !pt->full[want])
		return want;
	uint32_t d = f->info[pt->ru].cursor;
	if (!pt->full[d] && flash_mod(&s->geo.by_group_pages, pt->filled[d - first_die]) != 0)
		return d;
	return flash_first_free_die(s->flash, d, pt->full);
}

/* Maps lpn to the point's next page (on die `want` if it can) and returns the page. */
static uint64_t point_place(struct ssd *s, struct fdp *f, uint32_t g, struct point *pt,
			    uint16_t owner, uint32_t lpn, uint32_t want, uint64_t now)
{
	struct rgroup *grp = &f->groups[g];
	if (pt->ru == NO_UNIT)
		open_ru(s, f, g, pt, owner, now);
	uint32_t r = pt->ru;
	uint32_t d = point_die(s, f, pt, grp->first_die, want);
	uint32_t q = pt->filled[d - grp->first_die]++;
	if (q + 1 == f->slot_pages)
		pt->full[d] = true;
	f->info[r].cursor = d;
	uint64_t ppn = ru_page(s, f, r, d, q);
	/* The unit's write pointer moves before the page it covers is mapped (ftl.h). */
	s->units[page_unit(s, ppn)].written = q % s->geo.pages_per_unit + 1;
	s->p2l[ppn] = lpn + 1;
	s->l2p[lpn] = (uint32_t)ppn + 1;
	s->units[page_unit(s, ppn)].valid++;
	f->rus[r].valid++;
	if (++f->info[r].written == f->ru_pages)
		close_ru(s, f, pt);
	return ppn;
}

static struct point *gc_point(struct fdp *f, struct rgroup *grp, uint8_t handle)
{
	return f->persistent[handle] ? &grp->points[f->nruh + handle] : &grp->points[2 * f->nruh];
}

/* Pool p's victim by gc_policy, NO_UNIT when it has none (or, greedy, only full ones). */
static uint32_t pool_victim(struct fdp *f, uint32_t g, uint32_t p)
{
	uint32_t r = victim_set_pick(&f->victims, g * f->npools + p);
	if (r == NO_UNIT || (f->victims.policy == GC_GREEDY && f->rus[r].valid == f->ru_pages))
		return NO_UNIT;
	return r;
}

/* FIFO: the oldest closed RU of the group, the oldest of the pools' oldest. */
static uint32_t oldest_victim(struct fdp *f, uint32_t g)
{
	uint32_t oldest = NO_UNIT;
	for (uint32_t p = 0; p < f->npools; p++) {
		uint32_t r = victim_set_pick(&f->victims, g * f->npools + p);
		if (r != NO_UNIT &&
		    (oldest == NO_UNIT || f->rus[r].closed_seq < f->rus[oldest].closed_seq))
			oldest = r;
	}
	return oldest;
}

/*
 * The next victim of group g (see the top of the file), NO_UNIT when there is none worth
 * taking. FIFO and random keep their meaning over the whole group (the oldest RU, any RU); the
 * policies that judge victims (greedy, cost-benefit, d-choice) judge within the pool in most
 * debt.
 */
static uint32_t choose_victim(struct fdp *f, uint32_t g)
{
	struct rgroup *grp = &f->groups[g];
	if (f->victims.policy == GC_FIFO)
		return oldest_victim(f, g);
	if (f->victims.policy == GC_RANDOM)
		return victim_set_random(&f->victims, g * f->rus_per_group, f->rus_per_group);
	if (!grp->gc_started) {
		memset(grp->debt, 0, f->npools * sizeof(*grp->debt));
		grp->gc_started = true;
	}
	uint32_t emptiest = NO_UNIT, indebted = NO_UNIT;
	int64_t most_debt = INT64_MIN;
	for (uint32_t p = 0; p < f->npools; p++) {
		uint32_t r = pool_victim(f, g, p);
		if (r == NO_UNIT)
			continue;
		if (emptiest == NO_UNIT || f->rus[r].valid < f->rus[emptiest].valid)
			emptiest = r;
		/* The most indebted pool with something to gain; a tie goes to the emptier RU. */
		if (f->rus[r].valid < f->ru_pages &&
		    (grp->debt[p] > most_debt ||
		     (grp->debt[p] == most_debt && f->rus[r].valid < f->rus[indebted].valid))) {
			most_debt = grp->debt[p];
			indebted = r;
		}
	}
	if (emptiest == NO_UNIT || f->rus[emptiest].valid == 0)
		return emptiest;
	/* The pool in debt pays, unless its victim would free under a quarter of what the best
	 * one frees: then a pool whose units hold nearly nothing but valid data (a group the
	 * host overfilled) does not make every host page wait for several copies. */
	uint32_t best_gain = f->ru_pages - f->rus[emptiest].valid;
	if (indebted == NO_UNIT || 4 * (f->ru_pages - f->rus[indebted].valid) < best_gain)
		return emptiest;
	return indebted;
}

static bool start_victim(struct ssd *s, struct fdp *f, uint32_t g)
{
	uint32_t r = choose_victim(f, g);
	if (r == NO_UNIT)
		return false;
	victim_set_remove(&f->victims, r);
	f->rus[r].state = UNIT_VICTIM;
	set_units_state(s, f, r, UNIT_VICTIM);
	struct rgroup *grp = &f->groups[g];
	grp->victim = r;
	grp->scan = 0;
	grp->pace_valid = f->rus[r].valid;
	grp->credit = 0;
	grp->erase_ready = 0;
	return true;
}

static void erase_victim(struct ssd *s, struct fdp *f, uint32_t g)
{
	struct rgroup *grp = &f->groups[g];
	uint32_t r = grp->victim;
	for (uint32_t i = 0; i < f->dies_per_group; i++) {
		uint64_t first = ru_slot_unit(s, f, r, grp->first_die + i);
		for (uint32_t k = 0; k < f->slot_units; k++) {
			flash_erase(s->flash, first + k, grp->erase_ready, FLASH_GC, NULL);
			s->units[first + k].erases++;
			s->units[first + k].written = 0;
			s->units[first + k].state = UNIT_FREE;
		}
	}
	uint64_t units = (uint64_t)f->dies_per_group * f->slot_units;
	f->rus[r].erases++;
	f->rus[r].state = UNIT_FREE;
	grp->free_stack[grp->free_count++] = r;
	s->free_units += units;
	s->count.erases += units;
	s->count.gc_runs += units;
	grp->count.rus_erased++;
	grp->debt[pool_of(f, f->info[r].owner)]--;
	if (f->info[r].owner < f->nruh)
		f->handle[f->info[r].owner].rus_erased++;
	grp->victim = NO_UNIT;
}

/*
 * Moves up to `budget` valid pages of group g's victim to the GC points of their handles,
 * starting no earlier than `ready`, and erases the victim once it is empty. Returns the pages
 * moved.
 */
static uint32_t move_pages(struct ssd *s, struct fdp *f, uint32_t g, uint32_t budget,
			   uint64_t ready)
{
	struct rgroup *grp = &f->groups[g];
	uint32_t r = grp->victim, moved = 0;
	if (grp->erase_ready < ready)
		grp->erase_ready = ready;
	while (grp->scan < f->ru_pages && moved < budget) {
		/* Dies interleaved, so GC work spreads over the group like host writes do. */
		uint32_t i = grp->scan++;
		uint32_t die = grp->first_die + i % f->dies_per_group, q = i / f->dies_per_group;
		uint64_t from = ru_page(s, f, r, die, q);
		uint32_t lpn_plus_1 = s->p2l[from];
		if (!lpn_plus_1)
			continue;
		uint32_t lpn = lpn_plus_1 - 1;
		uint8_t handle = f->tag[lpn];
		s->p2l[from] = 0;
		s->units[page_unit(s, from)].valid--;
		f->rus[r].valid--;
		struct point *dst = gc_point(f, grp, handle);
		uint16_t owner = f->persistent[handle] ? handle : SSD_FDP_SHARED;
		uint64_t to = point_place(s, f, g, dst, owner, lpn, die, ready), read_done;
		if (flash_page_die(&s->geo, to) == die) {
			flash_copy(s->flash, from, 0, to, 0, ready, &read_done);
		} else {
			/* Over the channel to another die: a read (served as a host read would be)
			 * and a program of the drive's own. */
			read_done = flash_read(s->flash, from, ready, 0, 0, NULL);
			flash_program(s->flash, to, read_done, FLASH_GC, NULL);
		}
		grp->erase_ready = max_u64(grp->erase_ready, read_done);
		f->handle[handle].gc_pages++;
		f->handle[handle].nand_pages++;
		moved++;
	}
	grp->count.gc_pages += moved;
	grp->count.nand_pages += moved;
	s->count.gc_pages_moved += moved;
	s->count.nand_pages_written += moved;
	if (grp->scan == f->ru_pages)
		erase_victim(s, f, g);
	return moved;
}

/* Empties victims of group g until it has more than fg_limit free RUs (the host waits). False
 * when that cannot be done: every closed RU is full of valid data. */
static bool make_room(struct ssd *s, struct fdp *f, uint32_t g, uint64_t ready)
{
	struct rgroup *grp = &f->groups[g];
	uint32_t budget = 1;
	for (uint32_t p = 0; p < f->npools; p++)
		budget += f->victims.domains[g * f->npools + p].closed_count;
	while (grp->free_count <= f->fg_limit) {
		if (grp->victim == NO_UNIT && (budget-- == 0 || !start_victim(s, f, g)))
			return false;
		move_pages(s, f, g, UINT32_MAX, ready);
	}
	return true;
}

/* gc.c's incremental GC, per group: each host page pays for its share of the victim. */
static void paced_gc(struct ssd *s, struct fdp *f, uint32_t g, uint64_t ready)
{
	struct rgroup *grp = &f->groups[g];
	if (grp->victim == NO_UNIT && (grp->free_count > f->fg_limit + 2 || !start_victim(s, f, g)))
		return;
	uint32_t gain = f->ru_pages - grp->pace_valid;
	if (gain == 0) {
		move_pages(s, f, g, UINT32_MAX, ready);
		return;
	}
	grp->credit += grp->pace_valid;
	uint32_t due = grp->credit / gain + 1;
	grp->credit %= gain;
	move_pages(s, f, g, due, ready);
}

/* A reopened device's open RUs start their time limits at its first call (its clock is not
 * the one that opened them). */
static void restart_clock(struct fdp *f, uint64_t now)
{
	f->restart_clock = false;
	for (uint32_t g = 0; g < f->nrg; g++)
		for (uint32_t i = 0; i < 2 * f->nruh + 1; i++)
			if (f->groups[g].points[i].ru != NO_UNIT)
				f->info[f->groups[g].points[i].ru].opened_ns = now;
}

/* Closes the host RU of handle h in group g if it has been open past the time limit. */
static void expire(struct ssd *s, struct fdp *f, uint32_t h, uint32_t g, uint64_t now)
{
	struct point *pt = &f->groups[g].points[h];
	if (f->restart_clock)
		restart_clock(f, now);
	if (!f->time_limit_ns || pt->ru == NO_UNIT)
		return;
	uint64_t due = f->info[pt->ru].opened_ns + f->time_limit_ns;
	if (now < due)
		return;
	close_ru(s, f, pt);
	record_event(f, SSD_FDP_EVENT_TIME_LIMIT, h, g, due);
}

static void expire_all(struct ssd *s, struct fdp *f, uint64_t now)
{
	if (f->restart_clock)
		restart_clock(f, now);
	if (!f->time_limit_ns)
		return;
	for (uint32_t g = 0; g < f->nrg; g++)
		for (uint32_t h = 0; h < f->nruh; h++)
			expire(s, f, h, g, now);
}

/* A group can take a new RU cheaply: it has RUs to spare, or one whose GC frees an eighth. */
static bool has_room(struct fdp *f, uint32_t g)
{
	if (f->groups[g].free_count > f->fg_limit + 2)
		return true;
	for (uint32_t p = 0; p < f->npools; p++) {
		uint32_t r = pool_victim(f, g, p);
		if (r != NO_UNIT && f->rus[r].valid < f->ru_pages - f->ru_pages / 8)
			return true;
	}
	return false;
}

/*
 * True when group g has no room (GC there would copy several pages for each page it frees)
 * and another group not found full has: the host has aimed more data at g than it holds, and
 * the new RU is better taken elsewhere.
 */
static bool overfilled(struct fdp *f, uint32_t g, const bool *full)
{
	if (has_room(f, g))
		return false;
	for (uint32_t other = 0; other < f->nrg; other++)
		if (other != g && !full[other] && has_room(f, other))
			return true;
	return false;
}

uint64_t fdp_place(struct ssd *s, uint32_t lpn, uint32_t ruh, uint32_t rg, uint64_t now)
{
	struct fdp *f = s->fdp;
	bool *full = f->group_full;
	/* The second round takes whatever GC can free: overfilled() is a guess (non-greedy
	 * policies pick victims at random), and a write must never fail on a guess. */
	for (uint32_t tries = 0; tries < 2 * f->nrg; tries++) {
		uint32_t g = (rg + tries) % f->nrg;
		if (tries == f->nrg)
			memset(full, 0, f->nrg * sizeof(*full));
		if (full[g])
			continue;
		struct rgroup *grp = &f->groups[g];
		struct point *pt = &grp->points[ruh];
		expire(s, f, ruh, g, now);
		if (pt->ru != NO_UNIT ||
		    ((tries >= f->nrg || !overfilled(f, g, full)) && make_room(s, f, g, now))) {
			uint64_t ppn =
			    point_place(s, f, g, pt, (uint16_t)ruh, lpn, UINT32_MAX, now);
			f->tag[lpn] = (uint8_t)ruh;
			f->handle[ruh].host_pages++;
			f->handle[ruh].nand_pages++;
			f->handle[ruh].valid_pages++;
			grp->count.host_pages++;
			grp->count.nand_pages++;
			paced_gc(s, f, g, now);
			if (tries)
				memset(full, 0, f->nrg * sizeof(*full));
			return ppn;
		}
		full[g] = true; /* (nearly) only valid data there for now: write in another group */
	}
	fprintf(stderr, "ftl: every reclaim group is full of valid data\n");
	abort();
}

void fdp_valid_dropped(struct ssd *s, uint32_t unit, uint32_t lpn)
{
	struct fdp *f = s->fdp;
	uint32_t r = f->unit_ru[unit];
	f->rus[r].valid--;
	f->handle[f->tag[lpn]].valid_pages--;
	if (f->rus[r].state == UNIT_CLOSED)
		victim_set_dropped(&f->victims, r);
}

/* gc.c's idle-time GC step over reclaim groups: on the next group at or below gc_bg_pcent. */
bool fdp_idle_step(struct ssd *s, uint64_t ready)
{
	struct fdp *f = s->fdp;
	for (uint32_t tries = 0; tries < f->nrg; tries++) {
		uint32_t g = f->bg_cursor;
		f->bg_cursor = g + 1 == f->nrg ? 0 : g + 1;
		if (f->groups[g].free_count > f->bg_limit)
			continue;
		if (f->groups[g].victim == NO_UNIT) {
			uint32_t r = choose_victim(f, g);
			/* Idle time is not spent moving units that would free nothing. */
			if (r == NO_UNIT || f->rus[r].valid == f->ru_pages ||
			    !start_victim(s, f, g))
				continue;
		}
		move_pages(s, f, g, BACKGROUND_STEP_PAGES, ready);
		return true;
	}
	return false;
}

/* Free RUs per group at or below which GC runs, for "GC once pcent % are in use". */
static uint32_t free_limit(uint32_t per_group, double pcent, uint32_t reserve)
{
	uint32_t limit = per_group - (uint32_t)floor((double)per_group * pcent / 100.0);
	limit = limit > reserve ? limit : reserve;
	return limit ? limit : 1;
}

/* The geometry of reclaim units, and whether the spare area carries every write point. */
int fdp_plan(const struct ssd *s, struct fdp *f, char *err, size_t errlen)
{
	const struct ssd_params *p = &s->params;
	const struct flash_geometry *geo = &s->geo;
	/* Reclaim units are native blocks written out of place: none of the SLC cache (whose
	 * units are the host stream's) or media written in place. */
	if (p->slc_static_bytes || p->slc_dynamic_bytes || p->in_place_writes)
		return errorf(err, errlen,
			      "fdp=on does not model an SLC cache or in_place_writes: set "
			      "slc_static_bytes=0, slc_dynamic_bytes=0 and in_place_writes=off");
	if (geo->dies % p->fdp_nrg)
		return errorf(err, errlen, "fdp_nrg=%u does not divide the %u dies", p->fdp_nrg,
			      geo->dies);
	f->nruh = p->fdp_nruh;
	f->nrg = p->fdp_nrg;
	f->dies_per_group = geo->dies / f->nrg;
	uint64_t unit_bytes = (uint64_t)geo->pages_per_unit * geo->page_bytes;
	uint64_t stripe = unit_bytes * f->dies_per_group;
	f->slot_units = p->fdp_runs ? (uint32_t)((p->fdp_runs + stripe - 1) / stripe) : 1;
	if (!f->slot_units || geo->units_per_die % f->slot_units)
		return errorf(err, errlen,
			      "fdp_runs=%" PRIu64 " makes reclaim units of %u erase units per die, "
			      "which does not divide the %u of a die",
			      p->fdp_runs, f->slot_units, geo->units_per_die);
	uint64_t ru_pages = (uint64_t)f->slot_units * geo->pages_per_unit * f->dies_per_group;
	if (ru_pages > UINT32_MAX / 2)
		return errorf(err, errlen, "fdp_runs=%" PRIu64 " is too large", p->fdp_runs);
	f->slot_pages = f->slot_units * geo->pages_per_unit;
	f->ru_pages = (uint32_t)ru_pages;
	f->rus_per_group = geo->units_per_die / f->slot_units;
	f->fg_limit = free_limit(f->rus_per_group, p->gc_fg_pcent, p->gc_reserve_blocks);
	f->bg_limit = free_limit(f->rus_per_group, p->gc_bg_pcent, p->gc_reserve_blocks);
	f->time_limit_ns = (uint64_t)p->fdp_time_limit_s * 1000000000ull;

	uint16_t ids[SSD_FDP_MAX_HANDLES];
	uint32_t n;
	char why[160];
	if (ssd_parse_handle_list(p->fdp_initially_isolated, f->nruh, ids, &n, why, sizeof(why)))
		return errorf(err, errlen, "fdp_initially_isolated: %s", why);
	for (uint32_t h = 0; h < f->nruh; h++)
		f->persistent[h] = true;
	for (uint32_t i = 0; i < n; i++)
		f->persistent[ids[i]] = false;

	/* Every point of a group may hold an open RU (a host point per handle, a GC point per
	 * persistently isolated handle, one shared), GC keeps fg_limit free, and one more RU must
	 * hold invalid data for GC to gain anything: beyond that, logical data must fit. */
	uint32_t open = f->nruh + 1;
	for (uint32_t h = 0; h < f->nruh; h++)
		open += f->persistent[h];
	uint64_t total = (uint64_t)f->rus_per_group * f->nrg;
	uint64_t data = (s->logical_pages + f->ru_pages - 1) / f->ru_pages;
	uint64_t needed = (uint64_t)f->nrg * (f->fg_limit + open + 1);
	if (total < data + needed)
		return errorf(err, errlen,
			      "fdp: op_pcent=%g leaves %" PRIu64 " spare reclaim units of %" PRIu64
			      " KiB; %u handles need %" PRIu64
			      " (per group: GC reserve %u + up to %u open + 1): raise op_pcent or "
			      "blocks_per_plane, or lower fdp_nruh, fdp_nrg or fdp_runs",
			      p->op_pcent, total > data ? total - data : 0,
			      (uint64_t)f->ru_pages * geo->page_bytes / 1024, f->nruh, needed,
			      f->fg_limit, open);
	return 0;
}

static int alloc_points(struct ssd *s, struct fdp *f, struct rgroup *grp)
{
	uint32_t npoints = 2 * f->nruh + 1;
	grp->points = calloc(npoints, sizeof(*grp->points));
	if (!grp->points)
		return -1;
	for (uint32_t i = 0; i < npoints; i++) {
		struct point *pt = &grp->points[i];
		pt->ru = NO_UNIT;
		pt->filled = calloc(f->dies_per_group, sizeof(*pt->filled));
		pt->full = calloc(s->geo.dies, sizeof(*pt->full));
		if (!pt->filled || !pt->full)
			return -1;
	}
	return 0;
}

int fdp_create(struct ssd *s, char *err, size_t errlen)
{
	struct fdp *f = calloc(1, sizeof(*f));
	if (!f)
		return errorf(err, errlen, "out of memory");
	s->fdp = f;
	if (fdp_plan(s, f, err, errlen))
		return -1;
	uint32_t nrus = f->rus_per_group * f->nrg;
	f->npools = f->nruh + 1;
	f->rus = calloc(nrus, sizeof(*f->rus));
	/* The kept parts: a new device's are zero-filled, a reopened one's are read by fdp_load. */
	f->info = s->tables[SSD_TABLE_FDP_RUS];
	f->tag = s->tables[SSD_TABLE_FDP_TAGS];
	f->ru_domain = calloc(nrus, sizeof(*f->ru_domain));
	f->unit_ru = malloc(s->geo.units * sizeof(*f->unit_ru));
	f->groups = calloc(f->nrg, sizeof(*f->groups));
	f->group_full = calloc(f->nrg, sizeof(*f->group_full));
	if (!f->rus || !f->info || !f->ru_domain || !f->unit_ru || !f->groups || !f->group_full ||
	    !f->tag ||
	    victim_set_init(&f->victims, f->rus, f->nrg * f->npools, f->rus_per_group, f->ru_pages,
			    &s->params, &s->rng, &s->seq))
		return errorf(err, errlen, "out of memory");
	f->victims.rec_domain = f->ru_domain;
	for (uint32_t d = 0; d < f->nrg * f->npools; d++) {
		f->victims.domains[d].first = d / f->npools * f->rus_per_group;
		f->victims.domains[d].count = f->rus_per_group;
	}
	for (uint32_t g = 0; g < f->nrg; g++) {
		struct rgroup *grp = &f->groups[g];
		grp->first_die = g * f->dies_per_group;
		grp->victim = NO_UNIT;
		grp->free_stack = malloc(f->rus_per_group * sizeof(*grp->free_stack));
		grp->debt = calloc(f->npools, sizeof(*grp->debt));
		if (!grp->free_stack || !grp->debt || alloc_points(s, f, grp))
			return errorf(err, errlen, "out of memory");
		/* Stacked highest first so RUs are used in ascending order (easier to follow). */
		for (uint32_t j = f->rus_per_group; j-- > 0;)
			grp->free_stack[grp->free_count++] = g * f->rus_per_group + j;
	}
	for (uint64_t u = 0; u < s->geo.units; u++) {
		uint32_t die = flash_unit_die(&s->geo, u);
		uint32_t local = (uint32_t)(u - (uint64_t)die * s->geo.units_per_die);
		f->unit_ru[u] =
		    (die / f->dies_per_group) * f->rus_per_group + local / f->slot_units;
	}
	return 0;
}

void fdp_destroy(struct ssd *s)
{
	struct fdp *f = s->fdp;
	if (!f)
		return;
	for (uint32_t g = 0; f->groups && g < f->nrg; g++) {
		struct rgroup *grp = &f->groups[g];
		for (uint32_t i = 0; grp->points && i < 2 * f->nruh + 1; i++) {
			free(grp->points[i].filled);
			free(grp->points[i].full);
		}
		free(grp->points);
		free(grp->free_stack);
		free(grp->debt);
	}
	victim_set_free(&f->victims);
	free(f->groups);
	free(f->group_full);
	free(f->rus);
	free(f->ru_domain);
	free(f->unit_ru);
	free(f);
	s->fdp = NULL;
}

/* ---- the public calls (ftl.h); ftl.c holds the lock around them ---- */

bool fdp_config(const struct ssd *s, struct ssd_fdp_config *out)
{
	struct fdp planned;
	const struct fdp *f = s->fdp;
	memset(out, 0, sizeof(*out));
	if (!f) {
		/* FDP off: the configuration fdp=on would give, if the device can carry it. */
		memset(&planned, 0, sizeof(planned));
		if (fdp_plan(s, &planned, NULL, 0))
			return false;
		f = &planned;
	}
	out->enabled = s->fdp != NULL;
	out->nruh = f->nruh;
	out->nrg = f->nrg;
	out->ru_pages = f->ru_pages;
	out->time_limit_s = s->params.fdp_time_limit_s;
	memcpy(out->persistent, f->persistent, sizeof(out->persistent));
	return true;
}

void fdp_handle_counters(struct ssd *s, uint32_t ruh, struct ssd_fdp_counters *out)
{
	const struct fdp *f = s->fdp;
	if (f && ruh < f->nruh)
		*out = f->handle[ruh];
	else
		memset(out, 0, sizeof(*out));
}

void fdp_group_counters(struct ssd *s, uint32_t rg, struct ssd_fdp_counters *out)
{
	const struct fdp *f = s->fdp;
	memset(out, 0, sizeof(*out));
	if (!f || rg >= f->nrg)
		return;
	*out = f->groups[rg].count;
	uint64_t first = (uint64_t)rg * f->rus_per_group;
	for (uint64_t r = first; r < first + f->rus_per_group; r++)
		out->valid_pages += f->rus[r].valid;
}

void fdp_ruh_status(struct ssd *s, uint32_t ruh, uint32_t rg, uint64_t now,
		    uint64_t *available_pages, uint32_t *seconds_left)
{
	struct fdp *f = s->fdp;
	*available_pages = 0;
	*seconds_left = 0;
	if (!f || ruh >= f->nruh || rg >= f->nrg)
		return;
	expire_all(s, f, now);
	const struct point *pt = &f->groups[rg].points[ruh];
	*available_pages = f->ru_pages;
	*seconds_left = s->params.fdp_time_limit_s;
	if (pt->ru == NO_UNIT)
		return;
	*available_pages = f->ru_pages - f->info[pt->ru].written;
	if (f->time_limit_ns) {
		uint64_t due = f->info[pt->ru].opened_ns + f->time_limit_ns;
		*seconds_left = (uint32_t)((due - now + 999999999ull) / 1000000000ull);
	}
}

bool fdp_update(struct ssd *s, uint32_t ruh, uint32_t rg, uint64_t now)
{
	struct fdp *f = s->fdp;
	if (!f || ruh >= f->nruh || rg >= f->nrg)
		return false;
	expire(s, f, ruh, rg, now);
	struct point *pt = &f->groups[rg].points[ruh];
	if (pt->ru == NO_UNIT)
		return false; /* the next write starts a new RU already */
	close_ru(s, f, pt);
	return true; /* a full RU is closed when its last page is written: this one was not */
}

size_t fdp_take_events(struct ssd *s, uint64_t now, struct ssd_fdp_event *out, size_t max)
{
	struct fdp *f = s->fdp;
	if (!f)
		return 0;
	expire_all(s, f, now);
	size_t n = 0;
	for (; n < max && f->event_count; n++) {
		out[n] = f->events[f->event_head];
		f->event_head = (f->event_head + 1) % EVENT_RING;
		f->event_count--;
	}
	return n;
}

int fdp_owner(struct ssd *s, uint64_t lpn)
{
	const struct fdp *f = s->fdp;
	if (!f || lpn >= s->logical_pages || !s->l2p[lpn])
		return -1;
	return f->info[f->unit_ru[page_unit(s, s->l2p[lpn] - 1)]].owner;
}

/* ---- handle lists ---- */

int ssd_parse_handle_list(const char *text, uint32_t nruh, uint16_t *ids, uint32_t *count,
			  char *err, size_t errlen)
{
	bool seen[SSD_FDP_MAX_HANDLES] = {false};
	*count = 0;
	if (strcmp(text, "all") == 0) {
		for (uint32_t h = 0; h < nruh; h++)
			ids[(*count)++] = (uint16_t)h;
		return 0;
	}
	if (!*text || strcmp(text, "none") == 0)
		return 0;
	const char *at = text;
	for (;;) {
		char item[32];
		size_t len = strcspn(at, ",;");
		if (len == 0 || len >= sizeof(item))
			return errorf(err, errlen, "'%s' is not a list of handles (0,2,4-7)", text);
		memcpy(item, at, len);
		item[len] = '\0';
		char *dash = strchr(item, '-');
		uint64_t first, last;
		char why[128];
		if (dash)
			*dash = '\0';
		if (parse_u64(item, 0, nruh - 1, &first, why, sizeof(why)) ||
		    (dash && parse_u64(dash + 1, first, nruh - 1, &last, why, sizeof(why))))
			return errorf(err, errlen, "handle %s (there are %u handles)", why, nruh);
		if (!dash)
			last = first;
		for (uint64_t h = first; h <= last; h++) {
			if (seen[h])
				return errorf(err, errlen, "handle %" PRIu64 " is listed twice", h);
			seen[h] = true;
			ids[(*count)++] = (uint16_t)h;
		}
		at += len;
		if (!*at)
			return 0;
		at++;
	}
}
