/* Private state of the FTL, shared by ftl.c (host paths) and gc.c (victims, relocation). */
#ifndef NVEMU_FTL_FTL_INTERNAL_H
#define NVEMU_FTL_FTL_INTERNAL_H

#include <pthread.h>

#include "flash/flash.h"
#include "ftl/ftl.h"

#define NO_UNIT UINT32_MAX

enum unit_state { UNIT_FREE, UNIT_OPEN, UNIT_CLOSED };

/* One erase unit: a block in each plane of a die. */
struct unit {
	uint32_t valid;
	uint32_t prev, next; /* victim list: greedy bucket of its valid count, or FIFO order */
	uint32_t erases;
	uint64_t closed_seq; /* host pages written when it closed: data age for cost-benefit */
	uint8_t state;
};

/* A write point: an open unit on each die, filled die after die (channel first). */
struct stream {
	uint32_t cursor;
	uint32_t *open_unit; /* per die; NO_UNIT when none */
	uint32_t *next_page; /* per die: next page offset in the open unit */
};

struct ssd {
	pthread_mutex_t lock;
	struct flash *flash;
	struct flash_geometry geo;
	struct ssd_params params;
	uint64_t logical_pages;

	/* Both maps store a number + 1 so that zero-filled (lazily allocated) memory means
	 * "unmapped"; tables of never-written space then cost no RAM. */
	uint32_t *l2p; /* lpn -> ppn + 1 */
	uint32_t *p2l; /* ppn -> lpn + 1; 0 = free or invalid page */

	struct unit *units;
	uint32_t *free_stack; /* die d's free units at [d * units_per_die, + free_count[d]) */
	uint32_t *free_count;
	uint64_t free_units;

	struct stream host, gc;
	struct stream *gc_stream; /* &gc, or &host when gc_separate is off */

	uint64_t fg_limit, bg_limit; /* GC while free units <= limit */

	/* Victim tracking. Greedy: lists of closed units by valid count, lowest non-empty
	 * bucket >= min_bucket. FIFO: one list, oldest first. */
	uint32_t *bucket_head;
	uint32_t min_bucket;
	uint32_t fifo_head, fifo_tail;
	uint64_t closed_units;
	uint64_t rng;

	uint64_t seq; /* host pages written, the FTL's notion of age */
	struct ssd_counters count;
};

static inline uint32_t page_unit(const struct ssd *s, uint64_t ppn)
{
	return (uint32_t)(ppn / s->geo.pages_per_unit);
}

/* gc.c */
void victims_init(struct ssd *s);
void victim_add(struct ssd *s, uint32_t unit);
void victim_valid_dropped(struct ssd *s, uint32_t unit);
/* Maps lpn to the stream's next page; returns it. Closes the unit it fills. */
uint64_t stream_place(struct ssd *s, struct stream *stream, uint32_t lpn);
void gc_foreground(struct ssd *s, uint64_t now);
void gc_background(struct ssd *s, uint64_t now);
int gc_check_tracking(struct ssd *s, char *err, size_t errlen);

#endif
