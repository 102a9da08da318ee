/* Private state of the FTL, shared by ftl.c (host paths) and gc.c (victims, relocation). */
#ifndef NVEMU_FTL_FTL_INTERNAL_H
#define NVEMU_FTL_FTL_INTERNAL_H

#include <pthread.h>

#include "flash/flash.h"
#include "flash/front.h"
#include "ftl/ftl.h"

#define NO_UNIT UINT32_MAX

/* CLOSED units are victim candidates; the VICTIM is being emptied by GC. */
enum unit_state { UNIT_FREE, UNIT_OPEN, UNIT_CLOSED, UNIT_VICTIM };

/* One erase unit: a block in each plane of a die. */
struct unit {
	uint32_t valid;
	uint32_t prev, next; /* victim list: greedy bucket of its valid count, or FIFO order */
	uint32_t erases;
	uint64_t closed_seq; /* host pages written when it closed: data age for cost-benefit */
	uint8_t state;
	uint8_t slc; /* written in SLC mode: part of the SLC cache until folded or collected */
};

/* A unit being emptied: its valid pages move to its die's GC stream, then it is erased. */
struct relocation {
	uint32_t unit; /* NO_UNIT when none */
	uint32_t scan; /* next page offset to look at */
	uint64_t erase_ready;
};

/*
 * A write point: an open unit on each die. The host stream fills them die after die (channel
 * first); the GC stream writes a victim's pages back into the victim's own die.
 */
struct stream {
	uint32_t cursor;
	uint32_t *open_unit; /* per die; NO_UNIT when none */
	uint32_t *next_page; /* per die: next page offset in the open unit */
};

/*
 * Each die is its own GC domain: victims are chosen among the die's units and moved within the
 * die, so every die keeps its own free units (host writes never pile onto the few dies that
 * happen to have one) and GC work spreads like the host writes that cause it.
 */
struct die_gc {
	uint32_t free_count;   /* free units; their ids at free_stack[d * units_per_die ...] */
	uint32_t closed_count; /* victim candidates */
	uint32_t min_bucket;   /* greedy: lowest possibly non-empty bucket */
	uint32_t fifo_head, fifo_tail;
	/* The victim being emptied, a few pages per host write (see gc.c). */
	struct relocation victim;
	uint32_t pace_valid; /* victim's valid pages when picked: sets the pace */
	uint32_t credit;     /* pacing remainder, in units of 1 / (pages_per_unit - pace_valid) */
	/* SLC cache: the unit being folded into native blocks, and the closed SLC units waiting,
	 * oldest first (linked through ssd.fold_prev/fold_next). */
	struct relocation fold;
	uint32_t fold_head, fold_tail;
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
	uint32_t *free_stack;
	struct die_gc *dies;
	uint32_t *bucket_head; /* greedy: die d's lists at [d * (pages_per_unit + 1) + valid] */
	uint64_t free_units;

	struct stream host, gc;
	struct stream *gc_stream; /* &gc, or &host when gc_separate is off */

	uint32_t fg_limit, bg_limit; /* per die: GC while its free units <= limit */
	uint32_t bg_cursor;
	uint64_t bg_start, bg_end; /* the idle-time work under way: its start, and the device's
				    * idle time after its last step */
	bool *die_full; /* scratch for host_place: dies found full of valid data */
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

	struct map_cache *map; /* NULL when the whole table is in controller memory */
	/* None of the mapping cache, read retries, the host link or the SLC cache: a one-page read
	 * without a breakdown takes the short path. */
	bool plain_reads;
	struct ssd_counters count;
};

static inline uint32_t page_unit(const struct ssd *s, uint64_t ppn)
{
	return flash_page_unit(&s->geo, ppn);
}

uint64_t ftl_random(struct ssd *s);

/* gc.c */
void victims_init(struct ssd *s);
void victim_valid_dropped(struct ssd *s, uint32_t unit);
/*
 * Maps lpn to the host stream's next page and runs the GC work that page pays for on its die.
 * Returns the page.
 */
uint64_t host_place(struct ssd *s, uint32_t lpn, uint64_t now);
/* GC and SLC folding in idle time, placed from the moment the device went idle. */
void gc_background(struct ssd *s, uint64_t now);
int gc_check_tracking(struct ssd *s, char *err, size_t errlen);
/* The SLC cache's size now, in units. */
uint64_t slc_capacity_units(const struct ssd *s);

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

#endif
