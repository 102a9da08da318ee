/* Private state of the FTL, shared by ftl.c (host paths) and gc.c (victims, relocation). */
#ifndef NVEMU_FTL_FTL_INTERNAL_H
#define NVEMU_FTL_FTL_INTERNAL_H

#include <pthread.h>

#include "flash/flash.h"
#include "flash/front.h"
#include "ftl/ftl.h"
#include "util/util.h"

#define NO_UNIT UINT32_MAX

/* CLOSED units are victim candidates; the VICTIM is being emptied by GC; a RETIRED unit wore
 * out (a grown bad block) and is out of service for good. */
enum unit_state { UNIT_FREE, UNIT_OPEN, UNIT_CLOSED, UNIT_VICTIM, UNIT_RETIRED };

/*
 * One erase unit: a block in each plane of a die. This is also the record kept in the units
 * table (SSD_TABLE_UNITS): a change to its layout is a new UNITS_VERSION.
 */
struct unit {
	uint32_t valid;
	uint32_t prev, next; /* victim list: greedy bucket of its valid count, or FIFO order */
	uint32_t erases;
	uint32_t written;    /* pages programmed since its last erase: the unit's write pointer */
	uint32_t endurance;  /* erases it takes before it is retired (wear.c); 0 = never */
	uint8_t state;
	uint8_t slc;	     /* written in SLC mode: part of the SLC cache until folded or collected */
	uint8_t stream;      /* an OPEN unit's write point: STREAM_HOST or STREAM_GC */
	uint8_t reserved[5];
	uint64_t closed_seq; /* host pages written when it closed: data age for cost-benefit */
};
#define UNITS_VERSION 2
_Static_assert(sizeof(struct unit) == 40, "the units table's record is 40 bytes");

/* A unit being emptied: its valid pages move to its die's GC stream, then it is erased. */
struct relocation {
	uint32_t unit; /* NO_UNIT when none */
	uint32_t scan; /* next page offset to look at */
	uint64_t erase_ready;
};

enum { STREAM_HOST, STREAM_GC, STREAM_COLD };

/*
 * What the device keeps besides its tables (SSD_TABLE_SAVED): copied there by
 * ssd_checkpoint, read back when a device is opened.
 */
struct ssd_saved {
	uint64_t seq;
	uint64_t rng;
	uint32_t host_cursor, bg_cursor;
	uint64_t host_pages_written, host_pages_read, host_pages_trimmed;
	uint64_t nand_pages_written, gc_pages_moved, gc_runs, erases;
};
#define SAVED_VERSION 1

/* victims.c: the GC victim candidates of a set of domains (dies, or FDP reclaim groups). */
struct victim_domain {
	uint32_t closed_count; /* victim candidates */
	uint32_t min_bucket;   /* greedy: lowest possibly non-empty bucket */
	uint32_t fifo_head, fifo_tail;
	uint32_t first, count; /* the records that may belong to the domain */
};

/*
 * Records recs[d * per_domain ...] belong to domain d, unless rec_domain names each record's
 * domain (the caller then sets every domain's first and count); each holds up to `capacity`
 * pages.
 */
struct victim_set {
	struct unit *recs;
	uint32_t *rec_domain;
	struct victim_domain *domains;
	uint32_t *bucket_head; /* greedy: domain d's lists at [d * (capacity + 1) + valid] */
	struct flash_divisor by_per_domain;
	uint32_t ndomains, per_domain, capacity;
	uint32_t policy, dchoice; /* enum gc_policy */
	uint64_t *rng;            /* random and d-choice draws */
	const uint64_t *seq;      /* the age clock of cost-benefit */
};

int victim_set_init(struct victim_set *v, struct unit *recs, uint32_t domains, uint32_t per_domain,
		    uint32_t capacity, const struct ssd_params *params, uint64_t *rng,
		    const uint64_t *seq);
void victim_set_free(struct victim_set *v);
/* No candidates (the domains' ranges stay). */
void victim_set_clear(struct victim_set *v);
/* A record closes (full, or closed early): it becomes a candidate. */
void victim_set_add(struct victim_set *v, uint32_t id);
/* A closed record of a reopened device becomes a candidate again, keeping its closed_seq. */
void victim_set_restore(struct victim_set *v, uint32_t id);
/* A closed record lost a valid page (its valid count is already one less). */
void victim_set_dropped(struct victim_set *v, uint32_t id);
/* A candidate is taken as the victim. */
void victim_set_remove(struct victim_set *v, uint32_t id);
/* The policy's next victim of domain d, NO_UNIT when it has no candidate. */
uint32_t victim_set_pick(struct victim_set *v, uint32_t d);
/* A uniformly random closed record among recs[first .. first + count), any domain's. */
uint32_t victim_set_random(struct victim_set *v, uint32_t first, uint32_t count);
/* The lists agree with the records' states and valid counts; `what` names a domain in errors. */
int victim_set_check(const struct victim_set *v, const char *what, char *err, size_t errlen);

/*
 * A write point: an open unit on each die. The host stream fills them die after die (channel
 * first); the GC stream writes a victim's pages back into the victim's own die.
 */
struct stream {
	uint32_t cursor;
	uint8_t id;	     /* STREAM_HOST or STREAM_GC, as open units record it */
	uint32_t *open_unit; /* per die; NO_UNIT when none; its next page is units[u].written */
};

/*
 * Each die is its own GC domain: victims are chosen among the die's units and moved within the
 * die, so every die keeps its own free units (host writes never pile onto the few dies that
 * happen to have one) and GC work spreads like the host writes that cause it.
 */
struct die_gc {
	uint32_t free_count; /* free units; their ids at free_stack[d * units_per_die ...] */
	/* The victim being emptied, a few pages per host write (see gc.c). */
	struct relocation victim;
	uint32_t pace_valid; /* victim's valid pages when picked: sets the pace */
	uint32_t credit;     /* pacing remainder, in units of 1 / (pages_per_unit - pace_valid) */
	/* SLC cache: the unit being folded into native blocks, and the closed SLC units waiting,
	 * oldest first (linked through ssd.fold_prev/fold_next). */
	struct relocation fold;
	uint32_t fold_head, fold_tail;
	/* Static wear levelling: a closed unit of cold data due to be moved, and the one being
	 * moved (its data goes to the most worn free unit); NO_UNIT when none. */
	uint32_t cold_unit, cold_moving;
};

struct map_cache;

struct ssd {
	pthread_mutex_t lock;
	bool single_thread; /* the lock is skipped */
	struct flash *flash;
	struct front *front;
	bool has_link;
	struct flash_geometry geo;
	struct ssd_params params;
	uint64_t logical_pages;

	/* Both maps store a number + 1 so that zero-filled (lazily allocated) memory means
	 * "unmapped"; tables of never-written space then cost no RAM. */
	uint32_t *l2p; /* lpn -> ppn + 1 */
	uint32_t *p2l; /* ppn -> lpn + 1; 0 = free or invalid page */
	struct unit *units;
	struct ssd_saved *saved;
	/* The tables above, as ssd_open got them or ssd_create made them. */
	void *tables[SSD_TABLES];
	uint64_t table_bytes[SSD_TABLES];
	bool owns_tables;

	uint32_t *free_stack;
	struct die_gc *dies;
	struct victim_set victims; /* GC candidates: the closed units of each die */
	uint64_t free_units;

	struct stream host, gc;
	struct stream *gc_stream; /* &gc, or &host when gc_separate is off */
	/* Static wear levelling's: the cold data it moves, kept apart from GC's (wear.c). */
	struct stream cold;

	uint32_t fg_limit, bg_limit; /* per die: GC while its free units <= limit */
	uint32_t bg_cursor;
	uint64_t bg_start, bg_end; /* the idle-time work under way: its start, and the device's
				    * idle time after its last step */
	bool *die_full; /* scratch for host_place: dies found full of valid data, or offline */
	/* die-offline faults holding each die offline; host_place passes those dies over (they
	 * stay marked in die_full), idle-time work too. */
	uint32_t *die_down;
	uint32_t dies_down;
	uint64_t rng;

	uint64_t seq; /* host pages written, the FTL's notion of age */
	uint64_t mapped_pages; /* logical pages holding data */
	uint64_t retry_below;  /* a read needs retries when a random 64-bit draw is below this */

	/* SLC cache (gc.c); slc_on when it has a size. */
	bool slc_on;
	bool host_slc;      /* the host's next unit is written in SLC mode */
	uint64_t slc_units; /* units in SLC mode, open or closed */
	uint32_t fold_cursor;
	uint32_t *fold_prev, *fold_next;

	/* Wear (wear.c): blocks wear out after their endurance and are retired at an erase. */
	bool wear_on;   /* endurance is set */
	bool read_only; /* no spare left: callers refuse writes; nothing is retired any more */
	uint64_t spare_units; /* units the drive can lose before it turns read-only */
	uint64_t retired_units;
	uint64_t worn_retry_below;     /* retry threshold on a unit at its endurance; 0 = off */
	uint64_t cold_moves;           /* units of cold data moved by static wear levelling */
	uint64_t deferred_retirements; /* worn units kept a while: their die had no free unit */

	struct map_cache *map; /* NULL when the whole table is in controller memory */
	/* None of the mapping cache, read retries, the host link or the SLC cache: a one-page read
	 * without a breakdown takes the short path. */
	bool plain_reads;
	struct ssd_counters count;

	struct fdp *fdp; /* fdp.c; NULL unless params.fdp: the host paths then place through it */
};

/* The device's mutex, unless its user promised a single thread (ssd_single_thread). */
static inline void lock(struct ssd *s)
{
	if (!s->single_thread)
		pthread_mutex_lock(&s->lock);
}

static inline void unlock(struct ssd *s)
{
	if (!s->single_thread)
		pthread_mutex_unlock(&s->lock);
}

static inline uint32_t page_unit(const struct ssd *s, uint64_t ppn)
{
	return flash_page_unit(&s->geo, ppn);
}

uint64_t ftl_random(struct ssd *s);

/* open.c: a table that cannot be: sets *bad_table (if not NULL) to `table`, the message, -1. */
int refuse(int *bad_table, int table, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* open.c: whether `dies` dies can hold the data (at creation all of them, with die-offline
 * faults fewer); 0 or -1 with a message. */
int check_spare(struct ssd *s, uint64_t dies, char *err, size_t errlen);

/* gc.c */
void victims_init(struct ssd *s);
/* Queues closed SLC unit u (SLC cache on) to be folded after those queued before it. */
void fold_restore(struct ssd *s, uint32_t u);
/*
 * Maps lpn to the host stream's next page and runs the GC work that page pays for on its die.
 * Returns the page.
 */
uint64_t host_place(struct ssd *s, uint32_t lpn, uint64_t now);
/*
 * Idle-time work: it starts bg_idle_ns after the device went idle, placed as if it had run
 * then, in steps of `step` (false once there is nothing to do) until it reaches `now` (a
 * command arriving mid-step waits for the step). Called before the calendars forget the past.
 */
void idle_work(struct ssd *s, uint64_t now, bool (*step)(struct ssd *s, uint64_t ready));
/*
 * Idle-time work goes in steps of this many pages up to the next command, so that a command
 * waits at most one step behind it. A call fills the whole idle time it finds (a long idle
 * period folds a whole SLC cache); with zero latencies it ends when the work does.
 */
#define BACKGROUND_STEP_PAGES 64
/* A step of SLC folding or GC on the next die that has some to do (dies take turns). */
bool gc_idle_step(struct ssd *s, uint64_t ready);
int gc_check_tracking(struct ssd *s, char *err, size_t errlen);
/* The SLC cache's size now, in units. */
uint64_t slc_capacity_units(const struct ssd *s);

/* wear.c */
/* Draws each unit's endurance (a fresh device; a kept one counts its retired units) and sets
 * the spare; 0, or -1 with a message. */
int wear_init(struct ssd *s, bool fresh, char *err, size_t errlen);
/*
 * Takes a free unit of die d for a write stream: the last one freed, or by erase count when
 * wear levelling is on (the most worn for the cold stream).
 */
uint32_t wear_take_free(struct ssd *s, uint32_t d, const struct stream *stream);
/* Where the pages GC moves out of relocation r of die d go: the GC stream, or the cold one. */
struct stream *wear_stream(struct ssd *s, uint32_t d, const struct relocation *r);
/* Open units per die beyond the GC reserve: one per write stream. */
uint32_t wear_streams(const struct ssd_params *params);
/* Unit u of die d was just erased: true when it wore out and was retired (not to be freed). */
bool wear_erased(struct ssd *s, uint32_t d, uint32_t u);
/* Static wear levelling's next victim on die d (cold data on a young unit), or NO_UNIT. */
uint32_t wear_victim(struct ssd *s, uint32_t d);
/* The retry threshold of a read of a page of unit u (see retry_below). */
uint64_t wear_retry_below(const struct ssd *s, uint32_t u);
void wear_counters(const struct ssd *s, struct ssd_counters *out);
int wear_check(struct ssd *s, char *err, size_t errlen);

/* map_cache.c: the mapping cache (DFTL-like), when map_cache_bytes is set. */
struct map_cache *map_cache_create(const struct ssd *s);
void map_cache_destroy(struct map_cache *map);
/*
 * The host touches lpn's mapping entry at `ready`: returns when it is in controller memory
 * (reading its translation page on a miss; `parts` gets that as LAT_MAP_MISS). A write marks
 * it dirty; evicting a dirty page programs it back (counted as NAND writes).
 */
uint64_t map_cache_access(struct ssd *s, uint64_t lpn, bool write, uint64_t ready,
			  struct lat_parts *parts);

/* fdp.c: reclaim units, handles and their GC, in place of the per-die streams above. */
int fdp_create(struct ssd *s, char *err, size_t errlen);
void fdp_destroy(struct ssd *s);
/* fdp_open.c: FDP across runs. Reclaim units and reclaim groups of a device with these
 * parameters (fdp on), for ssd_table_shapes; 0 or -1 with a message. */
int fdp_table_counts(const struct ssd_params *p, uint64_t logical_pages, uint64_t *rus,
		     uint32_t *groups, char *err, size_t errlen);
/* A device just made by fdp_create takes its state from kept tables (ftl.h: ssd_open). */
int fdp_load(struct ssd *s, enum ssd_tables_state state, int *bad, char *err, size_t errlen);
/* The counters into SSD_TABLE_FDP_SAVED and _GROUPS. */
void fdp_checkpoint(struct ssd *s);
/* Maps lpn to the next page of handle ruh's reclaim unit in group rg, runs the GC work it pays
 * for, and returns the page. */
uint64_t fdp_place(struct ssd *s, uint32_t lpn, uint32_t ruh, uint32_t rg, uint64_t now);
/* lpn's valid page in erase unit `unit` was invalidated (the unit's count is already lower). */
void fdp_valid_dropped(struct ssd *s, uint32_t unit, uint32_t lpn);
/* gc_idle_step over reclaim groups. */
bool fdp_idle_step(struct ssd *s, uint64_t ready);
/* Free and open reclaim units, victim lists and isolation (ssd_check's part for FDP). */
int fdp_check(struct ssd *s, char *err, size_t errlen);
/* The ssd_fdp_* calls of ftl.h, under the device's lock. */
bool fdp_config(const struct ssd *s, struct ssd_fdp_config *out);
void fdp_handle_counters(struct ssd *s, uint32_t ruh, struct ssd_fdp_counters *out);
void fdp_group_counters(struct ssd *s, uint32_t rg, struct ssd_fdp_counters *out);
void fdp_ruh_status(struct ssd *s, uint32_t ruh, uint32_t rg, uint64_t now,
		    uint64_t *available_pages, uint32_t *seconds_left);
bool fdp_update(struct ssd *s, uint32_t ruh, uint32_t rg, uint64_t now);
size_t fdp_take_events(struct ssd *s, uint64_t now, struct ssd_fdp_event *out, size_t max);
int fdp_owner(struct ssd *s, uint64_t lpn);

#endif
