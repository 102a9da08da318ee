/* Private state of the FTL, shared by ftl.c (host paths) and gc.c (victims, relocation). */
#ifndef NVEMU_FTL_FTL_INTERNAL_H
#define NVEMU_FTL_FTL_INTERNAL_H

#include <pthread.h>

#include "flash/flash.h"
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
	uint32_t victim;     /* NO_UNIT when none */
	uint32_t scan;       /* next page offset of the victim to look at */
	uint32_t pace_valid; /* victim's valid pages when picked: sets the pace */
	uint32_t credit;     /* pacing remainder, in units of 1 / (pages_per_unit - pace_valid) */
	uint64_t erase_ready;
};

struct ssd {
	pthread_mutex_t lock;
	bool single_thread; /* the lock is skipped */
	struct flash *flash;
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
	bool *die_full; /* scratch for host_place: dies found full of valid data */
	uint64_t rng;

	uint64_t seq; /* host pages written, the FTL's notion of age */
	struct ssd_counters count;
};

static inline uint32_t page_unit(const struct ssd *s, uint64_t ppn)
{
	return flash_page_unit(&s->geo, ppn);
}

/* gc.c */
void victims_init(struct ssd *s);
void victim_valid_dropped(struct ssd *s, uint32_t unit);
/*
 * Maps lpn to the host stream's next page and runs the GC work that page pays for on its die.
 * Returns the page.
 */
uint64_t host_place(struct ssd *s, uint32_t lpn, uint64_t now);
void gc_background(struct ssd *s, uint64_t now);
int gc_check_tracking(struct ssd *s, char *err, size_t errlen);

#endif
