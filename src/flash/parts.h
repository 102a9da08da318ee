/*
 * The latency breakdown: where a command's modelled time went, as spans that add up to it.
 * The model (flash/, ftl/, the zoned kind's zone mapping) fills them for callers that pass a
 * struct; the controller core records them per namespace, and the statistics layer, nvemu sim
 * and nvemu plot report them. Names in lat_part_names (flash.c).
 */
#ifndef NVEMU_FLASH_PARTS_H
#define NVEMU_FLASH_PARTS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Where a command's time went: each part is a span of its latency, and they add up to it. The
 * model fills them only when the caller passes a struct (NULL costs nothing).
 */
enum lat_part {
	LAT_FW_WAIT,     /* waiting for a firmware core */
	LAT_CONTROLLER,  /* the controller's (firmware's) own time */
	LAT_MAP_MISS,    /* reading a translation page the mapping cache lacked */
	LAT_BUFFER_WAIT, /* waiting for a write-buffer slot, or for the buffer to drain (Flush) */
	LAT_DIE_WAIT,    /* waiting for a die, plane or channel busy with other host work */
	LAT_GC,          /* waiting behind garbage collection (or SLC folding) on the die */
	LAT_SUSPEND,     /* suspending the program or erase in the way */
	LAT_NAND,        /* the NAND operation: sense or program, and its channel transfer */
	LAT_READ_RETRY,  /* extra senses of a read that needed retries */
	LAT_LINK,        /* waiting for and moving data over the host link */
	LAT_PARTS
};

struct lat_parts {
	uint64_t ns[LAT_PARTS];
};

/* Short names ("firmware_wait", ...) used in JSON, Prometheus labels and plots. */
extern const char *const lat_part_names[LAT_PARTS];

/* Adds `ns` to part `part` when breakdowns are wanted. */
static inline void lat_add(struct lat_parts *parts, enum lat_part part, uint64_t ns)
{
	if (parts)
		parts->ns[part] += ns;
}

static inline uint64_t lat_total(const struct lat_parts *parts)
{
	uint64_t sum = 0;
	for (int i = 0; i < LAT_PARTS; i++)
		sum += parts->ns[i];
	return sum;
}

/*
 * The parts of a command of several pages are those of the page it waits for, the one that
 * completes last. Use: pp = lat_pages_begin(&lp, parts, npages); for each page,
 * lat_page_begin(&lp), add its spans to pp, lat_page_end(&lp, its end, &done); finally
 * lat_pages_end(&lp). With one page its spans go straight to `parts`, with none nothing is kept.
 */
struct lat_pages {
	struct lat_parts *out; /* the command's parts; NULL when not wanted */
	struct lat_parts page, last;
	bool several;
};

static inline struct lat_parts *lat_pages_begin(struct lat_pages *lp, struct lat_parts *out,
						uint64_t npages)
{
	lp->out = out;
	lp->several = out && npages > 1;
	return lp->several ? &lp->page : out;
}

static inline void lat_page_begin(struct lat_pages *lp)
{
	if (lp->several)
		lp->page = (struct lat_parts){{0}};
}

static inline void lat_page_end(struct lat_pages *lp, uint64_t end, uint64_t *done)
{
	if (end >= *done) {
		*done = end;
		if (lp->several)
			lp->last = lp->page;
	}
}

static inline void lat_pages_end(struct lat_pages *lp)
{
	if (lp->several)
		for (int i = 0; i < LAT_PARTS; i++)
			lp->out->ns[i] += lp->last.ns[i];
}

#endif
