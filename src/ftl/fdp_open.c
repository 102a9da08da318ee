/*
 * FDP across runs (ssd_open in ftl.h): the sizes of its tables, checkpoints of its counters,
 * and a device reopened on the tables it left: clean ones checked, crashed ones reconciled.
 * What is kept as it changes: each reclaim unit's owner, write point and closing order (its
 * record), its state and write pointers (its erase units' records), each logical page's handle
 * (tags). What is rebuilt: free lists, victim lists, write points, valid counts. What is of
 * the last checkpoint: the counters and GC debts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftl/fdp_internal.h"
#include "util/util.h"

int fdp_table_counts(const struct ssd_params *p, uint64_t logical_pages, uint64_t *rus,
		     uint32_t *groups, char *err, size_t errlen)
{
	/* fdp_plan reads the parameters and the geometry flash_create builds from them. */
	struct ssd *s = calloc(1, sizeof(*s));
	struct fdp *f = calloc(1, sizeof(*f));
	int rc = -1;
	if (!s || !f) {
		errorf(err, errlen, "out of memory");
	} else {
		s->params = *p;
		s->logical_pages = logical_pages;
		s->geo.dies = p->channels * p->luns_per_channel;
		s->geo.units_per_die = p->blocks_per_plane;
		s->geo.pages_per_unit = p->planes_per_lun * p->pages_per_block;
		s->geo.page_bytes = p->sector_size * p->sectors_per_page;
		rc = fdp_plan(s, f, err, errlen);
		*rus = rc ? 0 : (uint64_t)f->rus_per_group * f->nrg;
		*groups = rc ? 0 : f->nrg;
	}
	free(s);
	free(f);
	return rc;
}

static struct fdp_saved_counters to_saved(const struct ssd_fdp_counters *c)
{
	return (struct fdp_saved_counters){c->host_pages, c->nand_pages, c->gc_pages,
					   c->rus_opened, c->rus_erased};
}

static struct ssd_fdp_counters from_saved(const struct fdp_saved_counters *c)
{
	return (struct ssd_fdp_counters){.host_pages = c->host_pages,
					 .nand_pages = c->nand_pages,
					 .gc_pages = c->gc_pages,
					 .rus_opened = c->rus_opened,
					 .rus_erased = c->rus_erased};
}

void fdp_checkpoint(struct ssd *s)
{
	struct fdp *f = s->fdp;
	struct fdp_saved *saved = s->tables[SSD_TABLE_FDP_SAVED];
	struct fdp_group_saved *groups = s->tables[SSD_TABLE_FDP_GROUPS];
	for (uint32_t h = 0; h < f->nruh; h++)
		saved->handle[h] = to_saved(&f->handle[h]);
	saved->bg_cursor = f->bg_cursor;
	for (uint32_t g = 0; g < f->nrg; g++) {
		const struct rgroup *grp = &f->groups[g];
		groups[g].count = to_saved(&grp->count);
		groups[g].gc_started = grp->gc_started;
		memcpy(groups[g].debt, grp->debt, f->npools * sizeof(*grp->debt));
	}
}

static void load_counters(struct ssd *s, struct fdp *f)
{
	const struct fdp_saved *saved = s->tables[SSD_TABLE_FDP_SAVED];
	const struct fdp_group_saved *groups = s->tables[SSD_TABLE_FDP_GROUPS];
	for (uint32_t h = 0; h < f->nruh; h++) {
		uint64_t valid = f->handle[h].valid_pages; /* recounted from the mapping */
		f->handle[h] = from_saved(&saved->handle[h]);
		f->handle[h].valid_pages = valid;
	}
	f->bg_cursor = saved->bg_cursor < f->nrg ? saved->bg_cursor : 0;
	for (uint32_t g = 0; g < f->nrg; g++) {
		struct rgroup *grp = &f->groups[g];
		grp->count = from_saved(&groups[g].count);
		grp->gc_started = groups[g].gc_started != 0;
		memcpy(grp->debt, groups[g].debt, f->npools * sizeof(*grp->debt));
	}
}

/* What no run can have written (a damaged or foreign table), refused whatever the state. */
static int check_records(struct ssd *s, struct fdp *f, int *bad, char *err, size_t errlen)
{
	for (uint32_t r = 0; r < f->rus_per_group * f->nrg; r++) {
		const struct ru_info *info = &f->info[r];
		if (info->owner > SSD_FDP_SHARED || info->point > 2 * f->nruh)
			return refuse(bad, SSD_TABLE_FDP_RUS, err, errlen,
				      "fdp-rus: entry %u (owner %u, point %u) cannot be", r,
				      info->owner, info->point);
	}
	for (uint64_t lpn = 0; lpn < s->logical_pages; lpn++)
		if (f->tag[lpn] >= f->nruh)
			return refuse(bad, SSD_TABLE_FDP_TAGS, err, errlen,
				      "fdp-tags: entry %" PRIu64 " names handle %u of %u", lpn,
				      f->tag[lpn], f->nruh);
	return 0;
}

/*
 * Reclaim unit r's state from its erase units' (which change together: a crash may stop in
 * the middle), and its write pointers, which fill each slot unit after unit.
 */
static int ru_state(struct ssd *s, struct fdp *f, uint32_t r, bool clean, int *bad, char *err,
		    size_t errlen)
{
	const struct rgroup *grp = &f->groups[group_of(f, r)];
	uint32_t ppu = s->geo.pages_per_unit, valid = 0, kinds = 0, written = 0;
	bool seen[UNIT_RETIRED + 1] = {false};
	for (uint32_t i = 0; i < f->dies_per_group; i++) {
		uint64_t first = ru_slot_unit(s, f, r, grp->first_die + i);
		for (uint32_t k = 0; k < f->slot_units; k++) {
			kinds += !seen[s->units[first + k].state];
			seen[s->units[first + k].state] = true;
			valid += s->units[first + k].valid;
		}
	}
	if (seen[UNIT_RETIRED])
		return refuse(bad, SSD_TABLE_UNITS, err, errlen,
			      "units: reclaim unit %u holds a retired erase unit (fdp=on models no "
			      "wear)", r);
	uint8_t state = UNIT_CLOSED;
	for (uint8_t st = UNIT_FREE; kinds == 1 && st <= UNIT_VICTIM; st++)
		if (seen[st])
			state = st;
	if (kinds > 1 && clean)
		return refuse(bad, SSD_TABLE_UNITS, err, errlen,
			      "units: the erase units of reclaim unit %u are in different states", r);
	if (kinds > 1 && seen[UNIT_FREE] && !valid)
		state = UNIT_FREE; /* caught opening (nothing written yet) or erasing (all moved) */
	if (!clean && state == UNIT_CLOSED && !valid)
		state = UNIT_FREE; /* GC would erase it first: it is spare room for the repairs */
	for (uint32_t i = 0; i < f->dies_per_group; i++) {
		struct unit *unit = &s->units[ru_slot_unit(s, f, r, grp->first_die + i)];
		uint32_t last = 0; /* units of the slot written to, the last one partly */
		for (uint32_t k = 0; k < f->slot_units; k++)
			if (unit[k].written)
				last = k + 1;
		for (uint32_t k = 0; k < f->slot_units; k++) {
			bool gap = k + 1 < last && unit[k].written < ppu;
			if ((gap || (state == UNIT_FREE && unit[k].written)) && clean)
				return refuse(bad, SSD_TABLE_UNITS, err, errlen,
					      "units: entry %" PRIu64 " (%u pages written) cannot be "
					      "in reclaim unit %u (state %u)",
					      (uint64_t)(unit + k - s->units), unit[k].written, r,
					      state);
			if (state == UNIT_FREE)
				unit[k].written = 0;
			else if (gap)
				unit[k].written = ppu;
			unit[k].state = state;
			written += unit[k].written;
		}
	}
	f->rus[r].state = state;
	f->rus[r].valid = valid;
	f->info[r].written = written;
	return 0;
}

/* Sets the state of every erase unit of r (ru_state's result changed). */
static void set_state(struct ssd *s, struct fdp *f, uint32_t r, uint8_t state)
{
	const struct rgroup *grp = &f->groups[group_of(f, r)];
	f->rus[r].state = state;
	for (uint32_t i = 0; i < f->dies_per_group; i++)
		for (uint32_t k = 0; k < f->slot_units; k++)
			s->units[ru_slot_unit(s, f, r, grp->first_die + i) + k].state = state;
}

static int first_initially_isolated(const struct fdp *f)
{
	for (uint32_t h = 0; h < f->nruh; h++)
		if (!f->persistent[h])
			return (int)h;
	return -1;
}

/* The handle of the first valid page of r, or 0. */
static uint16_t first_page_handle(struct ssd *s, struct fdp *f, uint32_t r)
{
	const struct rgroup *grp = &f->groups[group_of(f, r)];
	for (uint32_t i = 0; i < f->dies_per_group; i++)
		for (uint32_t q = 0; q < f->slot_pages; q++) {
			uint32_t back = s->p2l[ru_page(s, f, r, grp->first_die + i, q)];
			if (back)
				return f->tag[back - 1];
		}
	return 0;
}

/*
 * Owners every handle may have, the open RUs' write points (one RU per point, a point of its
 * owner, not full) and each group's victim (GC goes on with it: its pages fit where GC was
 * putting them). Crashed tables: an RU that cannot be its point's, or a second victim, closes;
 * an owner that cannot be (the shared GC unit without initially isolated handles) becomes its
 * data's.
 */
static int points(struct ssd *s, struct fdp *f, bool clean, int *bad, char *err, size_t errlen)
{
	bool shared_ok = first_initially_isolated(f) >= 0;
	for (uint32_t r = 0; r < f->rus_per_group * f->nrg; r++) {
		struct ru_info *info = &f->info[r];
		if (f->rus[r].state == UNIT_FREE)
			continue;
		if (info->owner == SSD_FDP_SHARED ? !shared_ok : info->owner >= f->nruh) {
			if (clean)
				return refuse(bad, SSD_TABLE_FDP_RUS, err, errlen,
					      "fdp-rus: reclaim unit %u belongs to owner %u, which "
					      "no handle of this configuration can be",
					      r, info->owner);
			info->owner = first_page_handle(s, f, r);
		}
		struct rgroup *grp = &f->groups[group_of(f, r)];
		if (f->rus[r].state == UNIT_VICTIM && grp->victim == NO_UNIT) {
			grp->victim = r;
			grp->scan = 0; /* pages already moved are no longer in its P2L */
			grp->pace_valid = f->rus[r].valid;
		} else if (f->rus[r].state == UNIT_VICTIM && clean) {
			return refuse(bad, SSD_TABLE_UNITS, err, errlen,
				      "units: reclaim group %u has two victims, reclaim units %u "
				      "and %u", group_of(f, r), grp->victim, r);
		} else if (f->rus[r].state == UNIT_VICTIM) {
			set_state(s, f, r, UNIT_CLOSED);
		}
		if (f->rus[r].state != UNIT_OPEN)
			continue;
		struct point *pt = &grp->points[info->point];
		bool in_group = info->cursor >= grp->first_die &&
				info->cursor < grp->first_die + f->dies_per_group;
		if (!in_group && clean)
			return refuse(bad, SSD_TABLE_FDP_RUS, err, errlen,
				      "fdp-rus: entry %u was last written on die %u, outside its "
				      "reclaim group %u", r, info->cursor, group_of(f, r));
		if (!in_group) /* a record older than its units (a machine crash) */
			info->cursor = grp->first_die;
		bool ok = point_owner(f, info->point) == info->owner &&
			  (info->point < f->nruh || info->owner == SSD_FDP_SHARED ||
			   f->persistent[info->owner]) &&
			  pt->ru == NO_UNIT && info->written < f->ru_pages;
		if (ok) {
			pt->ru = r;
		} else if (clean) {
			return refuse(bad, SSD_TABLE_FDP_RUS, err, errlen,
				      "fdp-rus: open reclaim unit %u (owner %u, %u pages written) "
				      "cannot be filled by write point %u",
				      r, info->owner, info->written, info->point);
		} else {
			set_state(s, f, r, UNIT_CLOSED);
		}
	}
	return 0;
}

/* Each mapped page's handle agrees with its RU's owner; the handles' valid pages counted. */
static int retag(struct ssd *s, struct fdp *f, bool clean, int *bad, char *err, size_t errlen)
{
	int shared = first_initially_isolated(f);
	for (uint32_t h = 0; h < f->nruh; h++)
		f->handle[h].valid_pages = 0;
	for (uint64_t ppn = 0; ppn < s->geo.pages; ppn++) {
		uint32_t back = s->p2l[ppn];
		if (!back)
			continue;
		uint32_t r = f->unit_ru[page_unit(s, ppn)];
		uint16_t owner = f->info[r].owner;
		uint8_t *tag = &f->tag[back - 1];
		bool ok = owner == SSD_FDP_SHARED ? !f->persistent[*tag] : *tag == owner;
		if (!ok && clean)
			return refuse(bad, SSD_TABLE_FDP_TAGS, err, errlen,
				      "fdp-tags: logical page %u is handle %u's, but its page %" PRIu64
				      " sits in reclaim unit %u of owner %u",
				      back - 1, *tag, ppn, r, owner);
		if (!ok)
			*tag = (uint8_t)(owner == SSD_FDP_SHARED ? shared : owner);
		f->handle[*tag].valid_pages++;
	}
	return 0;
}

static int closed_seq_order(const void *a, const void *b, void *rus)
{
	uint64_t x = ((const struct unit *)rus)[*(const uint32_t *)a].closed_seq;
	uint64_t y = ((const struct unit *)rus)[*(const uint32_t *)b].closed_seq;
	return x < y ? -1 : x > y;
}

/* Whether the group's victim's valid pages fit in the room of its GC point's open RU. */
static bool victim_fits(const struct fdp *f, const struct rgroup *grp)
{
	if (grp->victim == NO_UNIT)
		return false;
	uint16_t owner = f->info[grp->victim].owner;
	uint32_t i = owner < f->nruh && f->persistent[owner] ? f->nruh + owner : 2 * f->nruh;
	uint32_t ru = grp->points[i].ru;
	uint32_t room = ru == NO_UNIT ? 0 : f->ru_pages - f->info[ru].written;
	return f->rus[grp->victim].valid <= room;
}

/*
 * Crashed tables of different ages (a machine crash) may leave a group with no free RU and
 * no victim GC can finish: its emptiest closed RU is then unmapped (the model treats its
 * pages as trimmed, as it does pages whose mapping a machine crash lost; the data file keeps
 * them) and freed, so that GC can run. A process crash never needs it (GC takes a group's
 * last free RU only for a victim that then fits).
 */
static void make_room_after_crash(struct ssd *s, struct fdp *f, uint32_t g)
{
	struct rgroup *grp = &f->groups[g];
	uint32_t emptiest = NO_UNIT;
	for (uint32_t r = g * f->rus_per_group; r < (g + 1) * f->rus_per_group; r++) {
		uint8_t st = f->rus[r].state;
		if (st == UNIT_FREE)
			return;
		if ((st == UNIT_CLOSED || st == UNIT_VICTIM) &&
		    (emptiest == NO_UNIT || f->rus[r].valid < f->rus[emptiest].valid))
			emptiest = r;
	}
	if (victim_fits(f, grp) || emptiest == NO_UNIT)
		return;
	for (uint32_t i = 0; i < f->dies_per_group; i++) {
		for (uint32_t q = 0; q < f->slot_pages; q++) {
			uint64_t ppn = ru_page(s, f, emptiest, grp->first_die + i, q);
			if (s->p2l[ppn]) {
				s->l2p[s->p2l[ppn] - 1] = 0;
				s->p2l[ppn] = 0;
				s->units[page_unit(s, ppn)].valid--;
				s->mapped_pages--;
			}
		}
		struct unit *unit = &s->units[ru_slot_unit(s, f, emptiest, grp->first_die + i)];
		for (uint32_t k = 0; k < f->slot_units; k++)
			unit[k].written = 0;
	}
	if (grp->victim == emptiest)
		grp->victim = NO_UNIT;
	f->rus[emptiest].valid = 0;
	f->info[emptiest].written = 0;
	set_state(s, f, emptiest, UNIT_FREE);
}

/* Free lists, victim lists, the points' progress, from the RUs' states and records. */
static int rebuild(struct ssd *s, struct fdp *f, char *err, size_t errlen)
{
	uint32_t *closed = malloc(f->rus_per_group * sizeof(*closed));
	if (!closed)
		return errorf(err, errlen, "out of memory");
	s->free_units = 0;
	for (uint32_t g = 0; g < f->nrg; g++) {
		struct rgroup *grp = &f->groups[g];
		uint32_t nclosed = 0;
		grp->free_count = 0;
		/* Highest first, so that free RUs are taken in ascending order as on a new device. */
		for (uint32_t j = f->rus_per_group; j-- > 0;) {
			uint32_t r = g * f->rus_per_group + j;
			f->ru_domain[r] = g * f->npools + pool_of(f, f->info[r].owner);
			if (f->rus[r].state == UNIT_FREE) {
				grp->free_stack[grp->free_count++] = r;
				s->free_units += (uint64_t)f->dies_per_group * f->slot_units;
			} else if (f->rus[r].state == UNIT_CLOSED) {
				f->rus[r].closed_seq = f->info[r].closed_seq;
				if (f->rus[r].closed_seq > s->seq)
					s->seq = f->rus[r].closed_seq;
				closed[nclosed++] = r;
			}
		}
		if (f->victims.policy == GC_FIFO)
			qsort_r(closed, nclosed, sizeof(*closed), closed_seq_order, f->rus);
		for (uint32_t i = 0; i < nclosed; i++)
			victim_set_restore(&f->victims, closed[i]);
		if (grp->free_count == 0 && !victim_fits(f, grp)) {
			free(closed);
			return errorf(err, errlen,
				      "units: reclaim group %u has no free reclaim unit, nor a "
				      "victim whose pages fit where GC puts them; GC could not run", g);
		}
		for (uint32_t i = 0; i < 2 * f->nruh + 1; i++) {
			struct point *pt = &grp->points[i];
			for (uint32_t d = 0; d < s->geo.dies; d++)
				pt->full[d] = d < grp->first_die || d >= grp->first_die + f->dies_per_group;
			if (pt->ru == NO_UNIT)
				continue;
			for (uint32_t k = 0; k < f->dies_per_group; k++) {
				const struct unit *unit =
				    &s->units[ru_slot_unit(s, f, pt->ru, grp->first_die + k)];
				pt->filled[k] = 0;
				for (uint32_t j = 0; j < f->slot_units; j++)
					pt->filled[k] += unit[j].written;
				pt->full[grp->first_die + k] = pt->filled[k] == f->slot_pages;
			}
		}
	}
	free(closed);
	return 0;
}

int fdp_load(struct ssd *s, enum ssd_tables_state state, int *bad, char *err, size_t errlen)
{
	struct fdp *f = s->fdp;
	bool clean = state == SSD_TABLES_CLEAN;
	if (check_records(s, f, bad, err, errlen))
		return -1;
	for (uint32_t r = 0; r < f->rus_per_group * f->nrg; r++)
		if (ru_state(s, f, r, clean, bad, err, errlen))
			return -1;
	if (points(s, f, clean, bad, err, errlen))
		return -1;
	for (uint32_t g = 0; !clean && g < f->nrg; g++)
		make_room_after_crash(s, f, g);
	if (retag(s, f, clean, bad, err, errlen) || rebuild(s, f, err, errlen))
		return -1;
	load_counters(s, f);
	f->restart_clock = true;
	return 0;
}
