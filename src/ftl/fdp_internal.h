/* Private state of FDP in the FTL, shared by fdp.c (placement, GC) and fdp_check.c. */
#ifndef NVEMU_FTL_FDP_INTERNAL_H
#define NVEMU_FTL_FDP_INTERNAL_H

#include "ftl/ftl_internal.h"

#define EVENT_RING 64

/*
 * An RU's bookkeeping beside its struct unit record (valid count, state, victim links, kept in
 * memory and rebuilt from the erase units' records). This is also the record of the kept table
 * SSD_TABLE_FDP_RUS: a change to its layout is a new FDP_RUS_VERSION. Owner and point are
 * stored before the RU's erase units turn OPEN, closed_seq before they turn CLOSED.
 */
struct ru_info {
	uint32_t written;    /* pages programmed since it was opened (recounted when reopened) */
	uint16_t owner;      /* the handle whose data it holds, or SSD_FDP_SHARED */
	uint16_t point;      /* the write point filling it (points[] of its group), while open */
	uint32_t cursor;     /* die of that point's last page */
	uint32_t reserved;
	uint64_t opened_ns;  /* for the time limit; a reopened device restarts it (fdp_open.c) */
	uint64_t closed_seq; /* a copy of its struct unit's: data age for cost-benefit and FIFO */
};
#define FDP_RUS_VERSION 1
_Static_assert(sizeof(struct ru_info) == 32, "the fdp-rus table's record is 32 bytes");

/* Counters of a handle or a group as SSD_TABLE_FDP_SAVED and _GROUPS keep them (valid pages
 * follow from the mapping). */
struct fdp_saved_counters {
	uint64_t host_pages, nand_pages, gc_pages, rus_opened, rus_erased;
};

/* SSD_TABLE_FDP_SAVED's one record, written by ssd_checkpoint. */
struct fdp_saved {
	struct fdp_saved_counters handle[SSD_FDP_MAX_HANDLES];
	uint32_t bg_cursor;
	uint32_t reserved;
};
#define FDP_SAVED_VERSION 1

/* SSD_TABLE_FDP_GROUPS: one record per reclaim group, written by ssd_checkpoint. */
struct fdp_group_saved {
	struct fdp_saved_counters count;
	uint8_t gc_started;
	uint8_t reserved[7];
	int64_t debt[SSD_FDP_MAX_HANDLES + 1]; /* per pool */
};
#define FDP_GROUPS_VERSION 1

/* A write point: the RU a handle (host data, or GC moves of its data) fills in one group. Its
 * RU's info records the point and the die of its last page (cursor). */
struct point {
	uint32_t ru;      /* NO_UNIT: none open, the next page opens one */
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
	struct ru_info *info; /* the device's SSD_TABLE_FDP_RUS */
	uint32_t *ru_domain; /* RU -> victim domain: group * npools + pool of its owner */
	uint32_t *unit_ru;   /* erase unit -> its RU */
	struct victim_set victims;
	struct rgroup *groups;
	bool *group_full; /* scratch for fdp_place */
	uint8_t *tag;     /* lpn -> handle of its last host write: SSD_TABLE_FDP_TAGS */
	struct ssd_fdp_counters handle[SSD_FDP_MAX_HANDLES];
	struct ssd_fdp_event events[EVENT_RING];
	uint32_t event_head, event_count;
	/* Reopened: the open RUs' time limits restart at the first call that has a "now". */
	bool restart_clock;
};

static inline uint32_t group_of(const struct fdp *f, uint32_t ru) { return ru / f->rus_per_group; }

/* The slot of RU r on die `die`: its first erase unit. */
static inline uint64_t ru_slot_unit(const struct ssd *s, const struct fdp *f, uint32_t r,
				    uint32_t die)
{
	return (uint64_t)die * s->geo.units_per_die + (uint64_t)(r % f->rus_per_group) * f->slot_units;
}

/* Page q of RU r's slot on die `die`. */
static inline uint64_t ru_page(const struct ssd *s, const struct fdp *f, uint32_t r, uint32_t die,
			       uint32_t q)
{
	return ru_slot_unit(s, f, r, die) * s->geo.pages_per_unit + q;
}

static inline uint32_t pool_of(const struct fdp *f, uint16_t owner)
{
	return owner < f->nruh && f->persistent[owner] ? owner : f->nruh;
}

/* Whose RU point i of a group fills: handle i's host point, handle i - nruh's GC point, or the
 * GC point initially isolated handles share. */
static inline uint16_t point_owner(const struct fdp *f, uint32_t i)
{
	return i < f->nruh ? (uint16_t)i : i < 2 * f->nruh ? (uint16_t)(i - f->nruh) : SSD_FDP_SHARED;
}

/* fdp.c, for fdp_open.c */
int fdp_plan(const struct ssd *s, struct fdp *f, char *err, size_t errlen);

#endif
