/* NAND timelines: dies and their planes, read suspend, channel calendars, the write buffer. */
#include "flash/flash.h"

#include "flash/calendar.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define NO_INDEX UINT32_MAX
#define NO_PAGE UINT64_MAX

const char *const lat_part_names[LAT_PARTS] = {
    [LAT_FW_WAIT] = "firmware_wait", [LAT_CONTROLLER] = "controller",
    [LAT_MAP_MISS] = "map_miss",     [LAT_BUFFER_WAIT] = "buffer_wait",
    [LAT_DIE_WAIT] = "die_wait",     [LAT_GC] = "gc",
    [LAT_SUSPEND] = "suspend",       [LAT_NAND] = "nand",
    [LAT_READ_RETRY] = "read_retry", [LAT_LINK] = "link",
};

/* A plane's read timeline and page register. */
struct plane {
	/* End of its latest sense. With read_planes=die or multi, plane 0's stands for the die's. */
	uint64_t free_at;
	uint64_t page; /* NAND page in the register; for host reads only while reg_valid says so */
	uint64_t page_ready; /* when that page was in the register */
};

/*
 * read_suspend: the die's programs and erases not over yet, oldest first, as [start, end) minus
 * die->shift, so that pushing them all back is one addition.
 */
struct op_ring {
	uint64_t *start, *end;
	uint32_t head, count, mask;
};

/* A multi-plane program being gathered on a die. */
struct open_group {
	uint64_t group;      /* the program group */
	uint64_t start, end; /* its program */
	uint64_t floor; /* the die's work before it ended here: copies into it read from then */
	uint32_t index; /* of the latest page that joined it; NO_INDEX: none open */
};

struct die {
	uint64_t free_at;      /* end of the die-wide work: programs and erases */
	uint64_t reads_end;    /* end of the latest sense on any plane */
	uint64_t host_free_at; /* free_at had the drive's own work (FLASH_GC) taken no time */
	uint32_t channel;
	/* The open program group of the host's pages [0] and of the drive's own (FLASH_GC) [1]:
	 * firmware gathers each stream's multi-plane page apart, so the two interleave freely. */
	struct open_group open[2];
	uint32_t reg_valid;   /* planes whose register holds their `page` for host reads */
	uint32_t read_planes; /* read_planes=multi: planes of the last multi-plane read */
	uint64_t read_group;  /* ... its program group; NO_PAGE when it cannot be joined */
	uint64_t read_group_start;
	/* read_suspend */
	uint32_t head_suspends; /* of the oldest pending op */
	uint64_t suspend_ready; /* a suspended die takes reads from here on */
	uint64_t shift;
	struct op_ring ops;
};

struct flash {
	struct flash_geometry geo;
	uint64_t read_ns[2], program_ns[2]; /* native, SLC (index FLASH_SLC) */
	uint64_t erase_ns, xfer_ns, suspend_ns;
	uint32_t suspend_max, read_mode;
	bool read_suspend;
	uint64_t idle_at;
	struct calendar channels;
	struct die *dies;
	uint64_t *busy_until; /* per die: max(free_at, reads_end), for choosing a die quickly */
	struct plane *planes; /* die d's at [d * planes ...] */

	/*
	 * Write buffer: the times occupied slots drain to NAND, sorted, in a ring of slot_mask + 1
	 * entries. A page is programmed at the end of the die that will be free first, so it
	 * usually drains after most pages already buffered: it goes in a step or two from the
	 * ring's end (a heap took two walks of log2(slots) levels a page), and the earliest slot
	 * is the ring's head. Out-of-order drain times cost more steps, never a wrong answer.
	 */
	uint64_t *slots;
	uint32_t slot_head, slot_mask, slot_count, slot_capacity;
	uint64_t drained_at;
};

struct flash_divisor flash_divisor_make(uint32_t d)
{
	struct flash_divisor div = {.divisor = d};
	if (d & (d - 1))
		div.magic = UINT64_MAX / d + 1;
	else
		div.shift = (uint32_t)__builtin_ctz(d);
	return div;
}

struct flash *flash_create(const struct ssd_params *p, char *err, size_t errlen)
{
	uint64_t dies = (uint64_t)p->channels * p->luns_per_channel;
	uint64_t pages_per_unit = (uint64_t)p->planes_per_lun * p->pages_per_block;
	uint64_t units = dies * p->blocks_per_plane;
	uint64_t page_bytes = (uint64_t)p->sector_size * p->sectors_per_page;
	if (dies > UINT32_MAX || pages_per_unit > UINT32_MAX || page_bytes > UINT32_MAX ||
	    units > UINT32_MAX - 1) {
		errorf(err, errlen, "geometry too large (dies, pages per block x planes, units)");
		return NULL;
	}
	/* The FTL stores physical page numbers + 1 in 32 bits. */
	if (units * pages_per_unit >= UINT32_MAX) {
		errorf(err, errlen, "%llu physical pages: at most 2^32 - 2 are supported",
		       (unsigned long long)(units * pages_per_unit));
		return NULL;
	}
	if (p->pages_per_block % p->pages_per_nand_page) {
		errorf(err, errlen,
		       "pages_per_block (%u) is not a multiple of pages_per_nand_page (%u)",
		       p->pages_per_block, p->pages_per_nand_page);
		return NULL;
	}
	uint64_t buffer_pages = p->write_buffer_kib * 1024 / page_bytes;
	if (buffer_pages > UINT32_MAX) {
		errorf(err, errlen, "write_buffer_kib: too large");
		return NULL;
	}

	struct flash *f = calloc(1, sizeof(*f));
	if (!f)
		goto oom;
	uint32_t group_pages = p->planes_per_lun * p->pages_per_nand_page;
	f->geo = (struct flash_geometry){
	    .channels = p->channels,
	    .dies = (uint32_t)dies,
	    .planes = p->planes_per_lun,
	    .nand_page_pages = p->pages_per_nand_page,
	    .group_pages = group_pages,
	    .units_per_die = p->blocks_per_plane,
	    .pages_per_unit = (uint32_t)pages_per_unit,
	    .page_bytes = (uint32_t)page_bytes,
	    .units = units,
	    .pages = units * pages_per_unit,
	    .by_planes = flash_divisor_make(p->planes_per_lun),
	    .by_units_per_die = flash_divisor_make(p->blocks_per_plane),
	    .by_pages_per_unit = flash_divisor_make((uint32_t)pages_per_unit),
	    .by_pages_per_die = flash_divisor_make((uint32_t)(pages_per_unit * p->blocks_per_plane)),
	    .by_nand_page_pages = flash_divisor_make(p->pages_per_nand_page),
	    .by_group_pages = flash_divisor_make(group_pages),
	};
	f->read_ns[0] = p->page_read_ns;
	f->program_ns[0] = p->page_program_ns;
	f->read_ns[FLASH_SLC] = p->slc_read_ns ? p->slc_read_ns : p->page_read_ns;
	f->program_ns[FLASH_SLC] = p->slc_program_ns ? p->slc_program_ns : p->page_program_ns;
	f->erase_ns = p->block_erase_ns;
	f->suspend_ns = p->suspend_ns;
	f->suspend_max = p->suspend_max;
	f->read_suspend = p->read_suspend;
	f->read_mode = p->read_planes;
	f->xfer_ns = p->channel_xfer_ns;
	if (p->channel_mbps > 0)
		f->xfer_ns += (uint64_t)llround((double)page_bytes * 1e3 / p->channel_mbps);
	if (f->xfer_ns >= UINT32_MAX) {
		errorf(err, errlen, "channel transfer time of %llu ns is too long",
		       (unsigned long long)f->xfer_ns);
		flash_destroy(f);
		return NULL;
	}
	f->dies = calloc(dies, sizeof(*f->dies));
	f->busy_until = calloc(dies, sizeof(*f->busy_until));
	f->planes = calloc(dies * p->planes_per_lun, sizeof(*f->planes));
	f->slot_capacity = (uint32_t)buffer_pages;
	f->slot_mask = 1;
	while (f->slot_mask < buffer_pages)
		f->slot_mask = 2 * f->slot_mask + 1;
	f->slots = calloc((uint64_t)f->slot_mask + 1, sizeof(*f->slots));
	if (!f->dies || !f->busy_until || !f->planes || !f->slots ||
	    calendar_init(&f->channels, p->channels, f->xfer_ns) != 0)
		goto oom;
	for (uint32_t d = 0; d < dies; d++) {
		f->dies[d].channel = d % p->channels;
		f->dies[d].open[0].index = f->dies[d].open[1].index = NO_INDEX;
		f->dies[d].read_group = NO_PAGE;
	}
	for (uint64_t i = 0; i < dies * p->planes_per_lun; i++)
		f->planes[i].page = NO_PAGE;
	return f;
oom:
	flash_destroy(f);
	errorf(err, errlen, "out of memory");
	return NULL;
}

void flash_destroy(struct flash *f)
{
	if (!f)
		return;
	calendar_free(&f->channels);
	for (uint32_t d = 0; f->dies && d < f->geo.dies; d++) {
		free(f->dies[d].ops.start);
		free(f->dies[d].ops.end);
	}
	free(f->dies);
	free(f->busy_until);
	free(f->planes);
	free(f->slots);
	free(f);
}

const struct flash_geometry *flash_geometry(const struct flash *f)
{
	return &f->geo;
}

static inline uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static inline void note_busy(struct flash *f, uint64_t until)
{
	f->idle_at = max_u64(f->idle_at, until);
}

/* After free_at or reads_end of `die` changed. */
static inline void die_busy(struct flash *f, const struct die *die)
{
	f->busy_until[die - f->dies] = max_u64(die->free_at, die->reads_end);
}

void flash_advance(struct flash *f, uint64_t now) { calendar_advance(&f->channels, now); }

/* One page over die d's channel from `ready` on; its wait and transfer go to `parts`. */
static inline uint64_t transfer(struct flash *f, uint32_t channel, uint64_t ready,
				struct lat_parts *parts)
{
	uint64_t end = calendar_book(&f->channels, channel, ready);
	lat_add(parts, LAT_DIE_WAIT, end - f->xfer_ns - ready);
	lat_add(parts, LAT_NAND, f->xfer_ns);
	return end;
}

/* ---- read suspend: the pending programs and erases of a die ---- */

static __attribute__((noinline, cold)) void ops_grow(struct op_ring *r)
{
	uint32_t size = r->mask ? 2 * (r->mask + 1) : 16;
	uint64_t *start = malloc(size * sizeof(*start)), *end = malloc(size * sizeof(*end));
	if (!start || !end)
		abort();
	for (uint32_t i = 0; i < r->count; i++) {
		start[i] = r->start[(r->head + i) & r->mask];
		end[i] = r->end[(r->head + i) & r->mask];
	}
	free(r->start);
	free(r->end);
	r->start = start;
	r->end = end;
	r->head = 0;
	r->mask = size - 1;
}

static inline void ops_push(struct die *die, uint64_t start, uint64_t end)
{
	struct op_ring *r = &die->ops;
	if (!r->start || r->count == r->mask + 1)
		ops_grow(r);
	uint32_t i = (r->head + r->count++) & r->mask;
	r->start[i] = start - die->shift;
	r->end[i] = end - die->shift;
}

/* The newest op grew (a page joined its program group). */
static inline void ops_retime_last(struct die *die, uint64_t start, uint64_t end)
{
	struct op_ring *r = &die->ops;
	uint32_t i = (r->head + r->count - 1) & r->mask;
	r->start[i] = start - die->shift;
	r->end[i] = end - die->shift;
}

static inline void ops_pop(struct die *die)
{
	die->ops.head = (die->ops.head + 1) & die->ops.mask;
	die->ops.count--;
	die->head_suspends = 0;
}

static inline uint64_t head_start(const struct die *die)
{
	return die->ops.start[die->ops.head] + die->shift;
}

static inline uint64_t head_end(const struct die *die)
{
	return die->ops.end[die->ops.head] + die->shift;
}

/* Reads occupy the die from `from` to `from + delta` longer: every pending op moves back. */
static inline void push_back(struct die *die, uint64_t from, uint64_t delta)
{
	die->shift += delta;
	die->free_at += delta; /* reads_end grows past it with the read that pushed */
	if (die->host_free_at > from)
		die->host_free_at += delta;
}

/*
 * Where a host read starts on a die with read_suspend, and the suspend it pays (*suspend).
 * A read that arrives while the die is reading (a burst) is served in turn at no extra cost.
 * Otherwise, if a program or erase is running, it is suspended (suspend_ns) unless it was
 * suspended suspend_max times already: the read then waits for it to end. The pending work
 * moves back by the time the reads hold the die, and resumes once they stop.
 */
static uint64_t suspending_start(struct flash *f, struct die *die, uint64_t lane_free,
				 uint64_t ready, uint64_t duration, uint64_t *suspend)
{
	uint64_t t = max_u64(ready, lane_free);
	bool in_burst = ready < die->reads_end;
	if (in_burst)
		t = max_u64(t, die->suspend_ready);
	while (die->ops.count && head_end(die) <= t)
		ops_pop(die);
	*suspend = 0;
	if (die->ops.count && !in_burst && t >= head_start(die)) {
		if (die->head_suspends < f->suspend_max) {
			die->head_suspends++;
			*suspend = f->suspend_ns;
			die->suspend_ready = t + f->suspend_ns;
		} else {
			t = head_end(die);
			ops_pop(die);
		}
	}
	if (die->ops.count) {
		uint64_t sensed = t + *suspend + duration;
		uint64_t held_from = *suspend ? t : max_u64(die->reads_end, head_start(die));
		if (sensed > held_from)
			push_back(die, held_from, sensed - held_from);
	}
	return t;
}

/* ---- reads ---- */

static inline struct plane *lane_of(struct flash *f, uint32_t d, uint32_t plane)
{
	return &f->planes[(uint64_t)d * f->geo.planes +
			  (f->read_mode == READ_PLANES_INDEPENDENT ? plane : 0)];
}

/*
 * Senses NAND page `nand_page` (on `plane` of die d) for the host; returns when it is in the
 * page register. `duration`: tR plus `extra` (read retries).
 */
static inline __attribute__((always_inline)) uint64_t host_sense(struct flash *f, uint32_t d,
								 uint64_t nand_page, uint32_t plane,
								 uint64_t ready, uint64_t duration,
								 uint64_t extra,
								 struct lat_parts *parts)
{
	struct die *die = &f->dies[d];
	struct plane *pl = &f->planes[(uint64_t)d * f->geo.planes + plane];
	struct plane *lane = lane_of(f, d, plane);
	uint32_t bit = 1u << plane;
	if ((die->reg_valid & bit) && pl->page == nand_page) {
		/* Still in the register: only the transfer. */
		uint64_t at = max_u64(ready, pl->page_ready);
		lat_add(parts, LAT_DIE_WAIT, at - ready);
		return at;
	}
	uint64_t group = 0;
	if (f->read_mode == READ_PLANES_MULTI) {
		group = flash_div(&f->geo.by_planes, nand_page);
		if (die->read_group == group && !(die->read_planes & bit) &&
		    ready <= die->read_group_start) {
			/* A multi-plane read of the same page on another plane: one sense for all. */
			die->read_planes |= bit;
			pl->page = nand_page;
			pl->page_ready = lane->free_at;
			lat_add(parts, LAT_DIE_WAIT, die->read_group_start - ready);
			lat_add(parts, LAT_NAND, lane->free_at - die->read_group_start);
			return lane->free_at;
		}
	}
	uint64_t start, suspend = 0, host_free = die->host_free_at;
	if (!f->read_suspend)
		start = max_u64(max_u64(ready, die->free_at), lane->free_at);
	else
		start = suspending_start(f, die, lane->free_at, ready, duration + extra, &suspend);
	if (parts) {
		/* Without the drive's own work the read would have started here. */
		uint64_t host_start =
		    max_u64(max_u64(ready, lane->free_at), min_u64(start, host_free));
		host_start = min_u64(host_start, start);
		lat_add(parts, LAT_DIE_WAIT, host_start - ready);
		lat_add(parts, LAT_GC, start - host_start);
		lat_add(parts, LAT_SUSPEND, suspend);
		lat_add(parts, LAT_NAND, duration);
		lat_add(parts, LAT_READ_RETRY, extra);
	}
	uint64_t sensed = start + suspend + duration + extra;
	lane->free_at = sensed;
	die->reads_end = max_u64(die->reads_end, sensed);
	die_busy(f, die); /* reads_end, or free_at when a suspend pushed it */
	pl->page = nand_page;
	pl->page_ready = sensed;
	/* A program or erase still to run would overwrite the register. */
	die->reg_valid = sensed >= die->free_at ? die->reg_valid | bit : die->reg_valid & ~bit;
	if (f->read_mode == READ_PLANES_MULTI) {
		die->read_group = group;
		die->read_group_start = start + suspend;
		die->read_planes = bit;
	}
	return sensed;
}

uint64_t flash_read(struct flash *f, uint64_t ppn, uint64_t ready, unsigned flags,
		    uint64_t extra_ns, struct lat_parts *parts)
{
	uint32_t d = flash_page_die(&f->geo, ppn);
	uint64_t nand_page = flash_div(&f->geo.by_nand_page_pages, ppn);
	uint32_t plane = flash_mod(&f->geo.by_planes, nand_page);
	uint64_t sensed = host_sense(f, d, nand_page, plane, ready, f->read_ns[flags & FLASH_SLC],
				     extra_ns, parts);
	struct die *die = &f->dies[d];
	uint64_t out = transfer(f, die->channel, sensed, parts);
	note_busy(f, max_u64(out, die->free_at));
	return out;
}

/* ---- programs, copies, erases ---- */

/* Whether a page of `group` at `index`, on the die at `loaded`, joins open group `g`: a later
 * page of the same group, arriving before that group's program is over. */
static inline bool joins_group(const struct open_group *g, uint64_t group, uint32_t index,
			       uint64_t loaded)
{
	return g->index != NO_INDEX && g->group == group && index > g->index && loaded < g->end;
}

/*
 * Programs page `index` of program group `group` on die d once its data is on the die
 * (`loaded`): it joins its stream's open group when it can, else starts a program of its own
 * after the die's work. Returns when its program ends.
 */
static inline __attribute__((always_inline)) uint64_t program_loaded(struct flash *f, uint32_t d,
								     uint64_t group, uint32_t index,
								     uint64_t loaded,
								     unsigned flags,
								     struct lat_parts *parts)
{
	struct die *die = &f->dies[d];
	struct open_group *g = &die->open[flags & FLASH_GC ? 1 : 0];
	uint64_t duration = f->program_ns[flags & FLASH_SLC];
	uint64_t start, end, host_start;
	if (joins_group(g, group, index, loaded)) {
		/* The same multi-plane program. Data arriving after it started moves it back when
		 * it is the die's latest work (a result already reported for an earlier page is not
		 * revised); otherwise the page rides along. */
		start = g->start;
		if (loaded > g->start && die->free_at == g->end) {
			start = loaded;
			die->free_at = start + duration;
			if (f->read_suspend)
				ops_retime_last(die, start, die->free_at);
		}
		end = start == g->start ? g->end : die->free_at;
		host_start = start;
	} else {
		uint64_t floor = max_u64(die->free_at, die->reads_end);
		start = max_u64(loaded, floor);
		end = start + duration;
		host_start =
		    max_u64(loaded, min_u64(start, max_u64(die->host_free_at, die->reads_end)));
		g->group = group;
		g->floor = die->free_at;
		die->reg_valid = 0;
		die->read_group = NO_PAGE;
		if (f->read_suspend)
			ops_push(die, start, end);
		die->free_at = end;
	}
	g->index = index;
	g->start = start;
	g->end = end;
	die_busy(f, die);
	if (!(flags & FLASH_GC))
		die->host_free_at = max_u64(die->host_free_at, host_start + duration);
	lat_add(parts, LAT_DIE_WAIT, host_start - loaded);
	lat_add(parts, LAT_GC, start - host_start);
	lat_add(parts, LAT_NAND, end - start);
	note_busy(f, end);
	return end;
}

/* The program group of `ppn` and its index in it. */
static inline uint64_t group_of(const struct flash *f, uint64_t ppn, uint32_t *index)
{
	uint64_t group = flash_div(&f->geo.by_group_pages, ppn);
	*index = (uint32_t)ppn - (uint32_t)group * f->geo.group_pages;
	return group;
}

uint64_t flash_program(struct flash *f, uint64_t ppn, uint64_t ready, unsigned flags,
		       struct lat_parts *parts)
{
	uint32_t d = flash_page_die(&f->geo, ppn), index;
	uint64_t group = group_of(f, ppn, &index);
	uint64_t loaded = transfer(f, f->dies[d].channel, ready, parts);
	return program_loaded(f, d, group, index, loaded, flags, parts);
}

uint64_t flash_copy(struct flash *f, uint64_t from, unsigned from_flags, uint64_t to,
		    unsigned to_flags, uint64_t ready, uint64_t *read_done)
{
	uint32_t d = flash_page_die(&f->geo, from);
	struct die *die = &f->dies[d];
	uint64_t nand_page = flash_div(&f->geo.by_nand_page_pages, from);
	uint32_t plane = flash_mod(&f->geo.by_planes, nand_page);
	struct plane *pl = &f->planes[(uint64_t)d * f->geo.planes + plane];
	struct plane *lane = lane_of(f, d, plane);
	uint32_t index;
	uint64_t group = group_of(f, to, &index);
	const struct open_group *g = &die->open[1];
	/* Joining the open group (decided on `ready`: the data is out by then at the earliest).
	 * The copy reads before its group's program when it joins one, else after the die's work;
	 * a page already sensed for this group is still in its register. */
	bool joins = joins_group(g, group, index, ready);
	uint64_t sensed;
	if (joins && pl->page == nand_page && pl->page_ready >= g->floor) {
		sensed = max_u64(ready, pl->page_ready);
	} else {
		uint64_t floor = joins ? g->floor : die->free_at;
		sensed = max_u64(max_u64(ready, floor), lane->free_at) +
			 f->read_ns[from_flags & FLASH_SLC];
		lane->free_at = sensed;
		die->reads_end = max_u64(die->reads_end, sensed);
		die_busy(f, die);
		pl->page = nand_page;
		pl->page_ready = sensed;
		die->reg_valid &= ~(1u << plane);
	}
	*read_done = transfer(f, die->channel, sensed, NULL);
	uint64_t loaded = transfer(f, die->channel, *read_done, NULL);
	return program_loaded(f, d, group, index, loaded, to_flags | FLASH_GC, NULL);
}

/* A die-wide operation of `duration` from `ready` on, after the die's work: erases, and
 * programs outside program groups (translation pages). */
static uint64_t die_op(struct flash *f, struct die *die, uint64_t ready, uint64_t duration,
		       unsigned flags, struct lat_parts *parts)
{
	uint64_t start = max_u64(max_u64(ready, die->free_at), die->reads_end);
	uint64_t host_start =
	    max_u64(ready, min_u64(start, max_u64(die->host_free_at, die->reads_end)));
	uint64_t end = start + duration;
	if (f->read_suspend)
		ops_push(die, start, end);
	die->free_at = end;
	die_busy(f, die);
	if (!(flags & FLASH_GC))
		die->host_free_at = max_u64(die->host_free_at, host_start + duration);
	die->reg_valid = 0;
	die->read_group = NO_PAGE;
	lat_add(parts, LAT_DIE_WAIT, host_start - ready);
	lat_add(parts, LAT_GC, start - host_start);
	lat_add(parts, LAT_NAND, duration);
	note_busy(f, end);
	return end;
}

uint64_t flash_erase(struct flash *f, uint64_t unit, uint64_t ready, unsigned flags,
		     struct lat_parts *parts)
{
	return die_op(f, &f->dies[flash_unit_die(&f->geo, unit)], ready, f->erase_ns, flags, parts);
}

/* Translation pages are not in the data pages' numbering: a page id no data page has. */
#define META_PAGE (NO_PAGE - 1)

uint64_t flash_read_meta(struct flash *f, uint32_t die, uint32_t plane, uint64_t ready,
			 struct lat_parts *parts)
{
	struct die *dp = &f->dies[die];
	uint64_t sensed = host_sense(f, die, META_PAGE, plane, ready, f->read_ns[0], 0, parts);
	dp->read_group = NO_PAGE;
	uint64_t out = transfer(f, dp->channel, sensed, parts);
	note_busy(f, max_u64(out, dp->free_at));
	return out;
}

uint64_t flash_program_meta(struct flash *f, uint32_t die, uint64_t ready)
{
	struct die *dp = &f->dies[die];
	uint64_t loaded = transfer(f, dp->channel, ready, NULL);
	return die_op(f, dp, loaded, f->program_ns[0], FLASH_GC, NULL);
}

uint32_t flash_first_free_die(const struct flash *f, uint32_t after, const bool *excluded)
{
	uint32_t best = UINT32_MAX, d = after;
	uint64_t best_free_at = UINT64_MAX;
	for (uint32_t i = 0; i < f->geo.dies; i++) {
		d = d + 1 == f->geo.dies ? 0 : d + 1;
		if (f->busy_until[d] < best_free_at && !excluded[d]) {
			best = d;
			best_free_at = f->busy_until[d];
		}
	}
	return best;
}

void flash_power_loss(struct flash *f, uint64_t now)
{
	uint32_t planes = f->geo.planes;
	for (uint32_t d = 0; d < f->geo.dies; d++) {
		struct die *die = &f->dies[d];
		die->free_at = min_u64(die->free_at, now);
		die->reads_end = min_u64(die->reads_end, now);
		die->host_free_at = min_u64(die->host_free_at, now);
		/* Gathered program groups, page registers and suspended work are gone. */
		die->open[0].index = die->open[1].index = NO_INDEX;
		die->reg_valid = die->read_planes = 0;
		die->read_group = NO_PAGE;
		die->head_suspends = 0;
		die->suspend_ready = min_u64(die->suspend_ready, now);
		die->ops.head = die->ops.count = 0;
		for (uint32_t p = 0; p < planes; p++) {
			struct plane *pl = &f->planes[(uint64_t)d * planes + p];
			pl->free_at = min_u64(pl->free_at, now);
			pl->page = NO_PAGE;
		}
		f->busy_until[d] = max_u64(die->free_at, die->reads_end);
	}
	/* Bookings that started before now are of no use to later transfers either. */
	calendar_drop(&f->channels);
	f->slot_head = f->slot_count = 0;
	f->drained_at = min_u64(f->drained_at, now);
	f->idle_at = min_u64(f->idle_at, now);
}

uint64_t flash_idle_at(const struct flash *f)
{
	return f->idle_at;
}

uint32_t flash_buffer_pages(const struct flash *f)
{
	return f->slot_capacity;
}

uint64_t flash_buffer_admit(struct flash *f, uint64_t now)
{
	if (f->slot_count < f->slot_capacity)
		return now;
	/* Full: wait for the slot that drains first, and take it. */
	uint64_t earliest = f->slots[f->slot_head];
	f->slot_head = (f->slot_head + 1) & f->slot_mask;
	f->slot_count--;
	return max_u64(now, earliest);
}

void flash_buffer_release(struct flash *f, uint64_t on_nand_at)
{
	f->drained_at = max_u64(f->drained_at, on_nand_at);
	if (f->slot_capacity == 0)
		return;
	uint64_t *ring = f->slots;
	uint32_t i = f->slot_count++;
	for (; i > 0; i--) {
		uint64_t before = ring[(f->slot_head + i - 1) & f->slot_mask];
		if (before <= on_nand_at)
			break;
		ring[(f->slot_head + i) & f->slot_mask] = before;
	}
	ring[(f->slot_head + i) & f->slot_mask] = on_nand_at;
}

uint64_t flash_buffer_drained_at(const struct flash *f)
{
	return f->drained_at;
}
