/* Private state of FDP in the FTL, shared by fdp.c (placement, GC) and fdp_check.c. */
#ifndef NVEMU_FTL_FDP_INTERNAL_H
#define NVEMU_FTL_FDP_INTERNAL_H

#include "ftl/ftl_internal.h"

#define EVENT_RING 64

/* An RU's bookkeeping beside its struct unit record (valid count, state, victim links). */
struct ru_info {
	uint32_t written; /* pages programmed since it was opened */
	uint16_t owner;   /* the handle whose data it holds, or SSD_FDP_SHARED */
	uint64_t opened_ns;
};

/* A write point: the RU a handle (host data, or GC moves of its data) fills in one group. */
struct point {
	uint32_t ru;      /* NO_UNIT: none open, the next page opens one */
	uint32_t cursor;  /* die of the last page */
	uint32_t *filled; /* [die - group's first die]: pages written in the RU's slot there */
	bool *full;       /* [die]: not in the group, or the RU's slot there is written */
};

struct rgroup {
	uint32_t first_die;
	uint32_t free_count;
	uint32_t *free_stack; /* RU ids */
	/* [0, nruh): host points; [nruh, 2 nruh): GC points of persistently isolated handles;
	 * [2 nruh]: the GC point initially isolated handles share. */
	struct point *points;
	/* Per pool: RUs opened minus RUs erased, from the group's first GC on (what a pool wrote
	 * while the group still had free RUs is its data, not a debt). */
	int64_t *debt;
	bool gc_started;
	/* The RU being emptied, a few pages per host write. */
	uint32_t victim;             /* NO_UNIT when none */
	uint32_t scan;               /* next page (dies interleaved) of the victim to look at */
	uint32_t pace_valid, credit; /* as in gc.c's paced_gc */
	uint64_t erase_ready;
	struct ssd_fdp_counters count;
};

struct fdp {
	uint32_t nruh, nrg;
	uint32_t
	    npools; /* nruh + 1: pool h of persistently isolated handle h, pool nruh of the rest */
	uint32_t dies_per_group, slot_units, slot_pages, rus_per_group, ru_pages;
	uint32_t fg_limit, bg_limit; /* per group: GC while its free RUs <= limit */
	uint32_t bg_cursor;
	uint64_t time_limit_ns;
	bool persistent[SSD_FDP_MAX_HANDLES];
	struct unit *rus; /* RU r is in group r / rus_per_group */
	struct ru_info *info;
	uint32_t *ru_domain; /* RU -> victim domain: group * npools + pool of its owner */
	uint32_t *unit_ru;   /* erase unit -> its RU */
	struct victim_set victims;
	struct rgroup *groups;
	bool *group_full; /* scratch for fdp_place */
	uint8_t *tag;     /* lpn -> handle of its last host write */
	struct ssd_fdp_counters handle[SSD_FDP_MAX_HANDLES];
	struct ssd_fdp_event events[EVENT_RING];
	uint32_t event_head, event_count;
};

static inline uint32_t group_of(const struct fdp *f, uint32_t ru) { return ru / f->rus_per_group; }

/* Page q of RU r's slot on die `die`. */
static inline uint64_t ru_page(const struct ssd *s, const struct fdp *f, uint32_t r, uint32_t die,
			       uint32_t q)
{
	uint64_t first_unit =
	    (uint64_t)die * s->geo.units_per_die + (uint64_t)(r % f->rus_per_group) * f->slot_units;
	return first_unit * s->geo.pages_per_unit + q;
}

static inline uint32_t pool_of(const struct fdp *f, uint16_t owner)
{
	return owner < f->nruh && f->persistent[owner] ? owner : f->nruh;
}

#endif
