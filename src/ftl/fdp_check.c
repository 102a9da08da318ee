/* FDP's part of ssd_check: free and open reclaim units, victim lists, and isolation. */
#include <inttypes.h>
#include <stdlib.h>

#include "ftl/fdp_internal.h"
#include "util/util.h"

static int check_free(struct ssd *s, struct fdp *f, char *err, size_t errlen)
{
	uint64_t free_rus = 0, listed = 0;
	for (uint32_t r = 0; r < f->rus_per_group * f->nrg; r++)
		free_rus += f->rus[r].state == UNIT_FREE;
	for (uint32_t g = 0; g < f->nrg; g++) {
		for (uint32_t i = 0; i < f->groups[g].free_count; i++, listed++) {
			uint32_t r = f->groups[g].free_stack[i];
			if (f->rus[r].state != UNIT_FREE || group_of(f, r) != g || f->rus[r].valid)
				return errorf(err, errlen,
					      "group %u free list holds RU %u (state %u, valid %u)",
					      g, r, f->rus[r].state, f->rus[r].valid);
		}
	}
	uint64_t units = free_rus * f->dies_per_group * f->slot_units;
	if (listed != free_rus || units != s->free_units)
		return errorf(err, errlen,
			      "free RUs: %" PRIu64 " by state, %" PRIu64 " listed; %" PRIu64
			      " free erase units counted, %" PRIu64 " expected",
			      free_rus, listed, s->free_units, units);
	return 0;
}

static int check_points(struct ssd *s, struct fdp *f, char *err, size_t errlen)
{
	uint64_t open_by_state = 0, open_by_point = 0;
	for (uint32_t r = 0; r < f->rus_per_group * f->nrg; r++)
		open_by_state += f->rus[r].state == UNIT_OPEN;
	for (uint32_t g = 0; g < f->nrg; g++) {
		const struct rgroup *grp = &f->groups[g];
		for (uint32_t i = 0; i < 2 * f->nruh + 1; i++) {
			const struct point *pt = &grp->points[i];
			if (pt->ru == NO_UNIT)
				continue;
			open_by_point++;
			uint16_t owner = point_owner(f, i);
			uint64_t written = 0;
			for (uint32_t k = 0; k < f->dies_per_group; k++) {
				written += pt->filled[k];
				/* The slot's units' write pointers (kept) say as much, unit by unit. */
				uint32_t ppu = s->geo.pages_per_unit;
				for (uint32_t j = 0; j < f->slot_units; j++) {
					uint64_t u = ru_slot_unit(s, f, pt->ru, grp->first_die + k) + j;
					uint32_t before = j * ppu, expect = 0;
					if (pt->filled[k] > before)
						expect = pt->filled[k] - before < ppu ? pt->filled[k] - before
										     : ppu;
					if (s->units[u].written != expect)
						return errorf(err, errlen,
							      "unit %" PRIu64 " of RU %u: write pointer "
							      "%u, its point wrote %u there",
							      u, pt->ru, s->units[u].written, expect);
				}
				for (uint32_t q = pt->filled[k]; q < f->slot_pages; q++)
					if (s->p2l[ru_page(s, f, pt->ru, grp->first_die + k, q)])
						return errorf(err, errlen,
							      "RU %u: unwritten page %u of die %u "
							      "is mapped",
							      pt->ru, q, grp->first_die + k);
			}
			const struct ru_info *info = &f->info[pt->ru];
			if (f->rus[pt->ru].state != UNIT_OPEN || group_of(f, pt->ru) != g ||
			    info->owner != owner || info->point != i || info->written != written ||
			    info->cursor < grp->first_die ||
			    info->cursor >= grp->first_die + f->dies_per_group)
				return errorf(err, errlen,
					      "group %u point %u holds RU %u (state %u, owner %u, "
					      "point %u, cursor %u, %u written, %" PRIu64 " counted)",
					      g, i, pt->ru, f->rus[pt->ru].state, info->owner,
					      info->point, info->cursor, info->written, written);
		}
	}
	if (open_by_state != open_by_point)
		return errorf(err, errlen, "%" PRIu64 " RUs open, points hold %" PRIu64,
			      open_by_state, open_by_point);
	return 0;
}

/*
 * Isolation: a page sits in an RU of the handle that wrote it, or (initially isolated handles
 * only) in the shared GC RU; the RU's valid count and state agree with its erase units'.
 */
static int check_isolation(struct ssd *s, struct fdp *f, char *err, size_t errlen)
{
	uint64_t valid_by_handle[SSD_FDP_MAX_HANDLES] = {0};
	uint32_t nrus = f->rus_per_group * f->nrg;
	uint32_t *valid = calloc(nrus, sizeof(*valid));
	if (!valid)
		return errorf(err, errlen, "out of memory");
	int rc = 0;
	for (uint64_t u = 0; u < s->geo.units && !rc; u++) {
		uint32_t r = f->unit_ru[u];
		valid[r] += s->units[u].valid;
		if (s->units[u].state != f->rus[r].state ||
		    (s->units[u].state == UNIT_FREE && s->units[u].written))
			rc = errorf(err, errlen,
				    "unit %" PRIu64 " in state %u (%u pages written), its RU %u in %u",
				    u, s->units[u].state, s->units[u].written, r, f->rus[r].state);
	}
	for (uint64_t ppn = 0; ppn < s->geo.pages && !rc; ppn++) {
		uint32_t back = s->p2l[ppn];
		if (!back)
			continue;
		uint8_t handle = f->tag[back - 1];
		uint32_t r = f->unit_ru[page_unit(s, ppn)];
		uint16_t owner = f->info[r].owner;
		if (handle < f->nruh)
			valid_by_handle[handle]++;
		if (handle >= f->nruh ||
		    (owner == SSD_FDP_SHARED ? f->persistent[handle] : owner != handle))
			rc = errorf(err, errlen,
				    "page %" PRIu64 " (lpn %u, handle %u, %s isolated) sits in RU "
				    "%u of %s %u",
				    ppn, back - 1, handle,
				    handle < f->nruh && f->persistent[handle] ? "persistently"
									      : "initially",
				    r, owner == SSD_FDP_SHARED ? "the shared GC point" : "handle",
				    owner);
	}
	for (uint32_t r = 0; r < nrus && !rc; r++)
		if (valid[r] != f->rus[r].valid)
			rc = errorf(err, errlen, "RU %u: valid counter %u, its units hold %u", r,
				    f->rus[r].valid, valid[r]);
	for (uint32_t h = 0; h < f->nruh && !rc; h++)
		if (valid_by_handle[h] != f->handle[h].valid_pages)
			rc = errorf(err, errlen,
				    "handle %u: %" PRIu64 " valid pages counted, %" PRIu64
				    " on flash",
				    h, f->handle[h].valid_pages, valid_by_handle[h]);
	free(valid);
	return rc;
}

int fdp_check(struct ssd *s, char *err, size_t errlen)
{
	struct fdp *f = s->fdp;
	if (check_free(s, f, err, errlen) || check_points(s, f, err, errlen) ||
	    check_isolation(s, f, err, errlen))
		return -1;
	for (uint32_t g = 0; g < f->nrg; g++) {
		uint32_t v = f->groups[g].victim;
		if (v != NO_UNIT && (f->rus[v].state != UNIT_VICTIM || group_of(f, v) != g))
			return errorf(err, errlen, "group %u: victim RU %u in state %u", g, v,
				      f->rus[v].state);
	}
	return victim_set_check(&f->victims, "reclaim group", err, errlen);
}
