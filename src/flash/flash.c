/* NAND timelines: channels and dies as "busy until t", plus the DRAM write buffer. */
#include "flash/flash.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_PLANE UINT32_MAX
#define CHANNEL_INITIAL_BUCKETS 1024

struct die {
	uint64_t free_at;      /* end of all work queued on the die */
	uint64_t read_free_at; /* end of the last read (read_suspend: reads queue only on reads) */
	uint64_t program_start;   /* start of the last program, for multi-plane joining */
	uint64_t program_group;   /* multi-plane page of the last program */
	uint32_t program_plane;   /* plane of the last op if it was a program, else NO_PLANE */
};

/*
 * A channel's bookings. Operations are booked when issued, often far ahead of time, and dies
 * sharing a channel have backlogs of different lengths: a single "busy until" would make a
 * transfer wait for the latest one booked by any die. Instead each transfer (all last xfer_ns)
 * is placed in the first gap at or after its ready time. Two transfers cannot start within
 * xfer_ns of each other, so bucket k = start / xfer_ns holds at most one booking, stored as its
 * offset in the bucket + 1. A ring of buckets covers [low_bucket, low_bucket + size): buckets
 * are cleared as "now" passes them and the ring doubles when bookings reach further ahead.
 */
struct channel {
	uint32_t *offsets; /* per bucket k at index k & mask: start - k * xfer_ns + 1; 0 = none */
	uint64_t mask;
	uint64_t low_bucket;
	/* A run of back-to-back bookings (bookings are never removed, so it stays one): requests
	 * landing inside jump to its end instead of stepping over each booking. */
	uint64_t run_start, run_end;
};

struct flash {
	struct flash_geometry geo;
	uint64_t read_ns, program_ns, erase_ns, xfer_ns, suspend_ns;
	bool read_suspend;
	uint64_t idle_at;
	struct channel *channels;
	struct die *dies;

	/* Write buffer: a min-heap of the times occupied slots drain to NAND. */
	uint64_t *slots;
	uint32_t slot_count, slot_capacity;
	uint64_t drained_at;
};

static void fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

struct flash *flash_create(const struct ssd_params *p, char *err, size_t errlen)
{
	uint64_t dies = (uint64_t)p->channels * p->luns_per_channel;
	uint64_t pages_per_unit = (uint64_t)p->planes_per_lun * p->pages_per_block;
	uint64_t units = dies * p->blocks_per_plane;
	uint64_t page_bytes = (uint64_t)p->sector_size * p->sectors_per_page;
	if (dies > UINT32_MAX || pages_per_unit > UINT32_MAX || page_bytes > UINT32_MAX ||
	    units > UINT32_MAX - 1) {
		fail(err, errlen, "geometry too large (dies, pages per block x planes, units)");
		return NULL;
	}
	/* The FTL stores physical page numbers + 1 in 32 bits. */
	if (units * pages_per_unit >= UINT32_MAX) {
		fail(err, errlen, "%llu physical pages: at most 2^32 - 2 are supported",
		     (unsigned long long)(units * pages_per_unit));
		return NULL;
	}
	uint64_t buffer_pages = p->write_buffer_kib * 1024 / page_bytes;
	if (buffer_pages > UINT32_MAX) {
		fail(err, errlen, "write_buffer_kib: too large");
		return NULL;
	}

	struct flash *f = calloc(1, sizeof(*f));
	if (!f)
		goto oom;
	f->geo = (struct flash_geometry){
		.channels = p->channels,
		.dies = (uint32_t)dies,
		.planes = p->planes_per_lun,
		.units_per_die = p->blocks_per_plane,
		.pages_per_unit = (uint32_t)pages_per_unit,
		.page_bytes = (uint32_t)page_bytes,
		.units = units,
		.pages = units * pages_per_unit,
	};
	f->read_ns = p->page_read_ns;
	f->program_ns = p->page_program_ns;
	f->erase_ns = p->block_erase_ns;
	f->suspend_ns = p->suspend_ns;
	f->read_suspend = p->read_suspend;
	f->xfer_ns = p->channel_xfer_ns;
	if (p->channel_mbps > 0)
		f->xfer_ns += (uint64_t)llround((double)page_bytes * 1e3 / p->channel_mbps);
	if (f->xfer_ns >= UINT32_MAX) {
		fail(err, errlen, "channel transfer time of %llu ns is too long",
		     (unsigned long long)f->xfer_ns);
		flash_destroy(f);
		return NULL;
	}
	f->channels = calloc(p->channels, sizeof(*f->channels));
	f->dies = calloc(dies, sizeof(*f->dies));
	f->slot_capacity = (uint32_t)buffer_pages;
	f->slots = calloc(buffer_pages + 1, sizeof(*f->slots));
	if (!f->channels || !f->dies || !f->slots)
		goto oom;
	for (uint32_t c = 0; c < p->channels; c++) {
		f->channels[c].mask = CHANNEL_INITIAL_BUCKETS - 1;
		f->channels[c].offsets = calloc(CHANNEL_INITIAL_BUCKETS, sizeof(uint32_t));
		if (!f->channels[c].offsets)
			goto oom;
	}
	for (uint32_t d = 0; d < dies; d++)
		f->dies[d].program_plane = NO_PLANE;
	return f;
oom:
	flash_destroy(f);
	fail(err, errlen, "out of memory");
	return NULL;
}

void flash_destroy(struct flash *f)
{
	if (!f)
		return;
	for (uint32_t c = 0; f->channels && c < f->geo.channels; c++)
		free(f->channels[c].offsets);
	free(f->channels);
	free(f->dies);
	free(f->slots);
	free(f);
}

const struct flash_geometry *flash_geometry(const struct flash *f)
{
	return &f->geo;
}

static inline uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static inline void note_busy(struct flash *f, uint64_t until)
{
	f->idle_at = max_u64(f->idle_at, until);
}

/* Start of the booking in bucket k, or UINT64_MAX if none. */
static inline uint64_t booking_in(const struct flash *f, const struct channel *ch, uint64_t k)
{
	if (k < ch->low_bucket)
		return UINT64_MAX;
	uint32_t offset = ch->offsets[k & ch->mask];
	return offset ? k * f->xfer_ns + offset - 1 : UINT64_MAX;
}

/* Doubles the ring until bucket `k` fits, keeping the live bookings. */
static void grow_channel(struct channel *ch, uint64_t k)
{
	uint64_t old_size = ch->mask + 1, size = old_size;
	while (k >= ch->low_bucket + size)
		size *= 2;
	uint32_t *offsets = calloc(size, sizeof(*offsets));
	if (!offsets)
		abort();
	for (uint64_t i = 0; i < old_size; i++) {
		uint64_t bucket = ch->low_bucket + ((i - ch->low_bucket) & ch->mask);
		offsets[bucket & (size - 1)] = ch->offsets[i];
	}
	free(ch->offsets);
	ch->offsets = offsets;
	ch->mask = size - 1;
}

/* Occupies `channel` for one page transfer in its first gap at or after `ready`. */
static uint64_t transfer(struct flash *f, uint32_t channel, uint64_t ready)
{
	if (f->xfer_ns == 0)
		return ready;
	struct channel *ch = &f->channels[channel];
	uint64_t x = f->xfer_ns;
	uint64_t start = max_u64(ready, ch->low_bucket * x);
	for (;;) {
		if (start >= ch->run_start && start < ch->run_end)
			start = ch->run_end;
		uint64_t k = start / x;
		if (k + 1 >= ch->low_bucket + ch->mask + 1)
			grow_channel(ch, k + 1);
		uint64_t before = booking_in(f, ch, k - 1);
		uint64_t same = booking_in(f, ch, k);
		uint64_t after = booking_in(f, ch, k + 1);
		if (before != UINT64_MAX && before + x > start)
			start = before + x;
		else if (same != UINT64_MAX)
			start = same + x;
		else if (after != UINT64_MAX && after < start + x)
			start = after + x;
		else
			break;
	}
	ch->offsets[(start / x) & ch->mask] = (uint32_t)(start % x) + 1;
	if (start == ch->run_end) {
		ch->run_end += x;
	} else {
		ch->run_start = start;
		ch->run_end = start + x;
	}
	return start + x;
}

void flash_advance(struct flash *f, uint64_t now)
{
	if (f->xfer_ns == 0)
		return;
	/* Keep the bucket before now's: a booking there may still overlap transfers at now. */
	uint64_t low = now / f->xfer_ns;
	low = low ? low - 1 : 0;
	for (uint32_t c = 0; c < f->geo.channels; c++) {
		struct channel *ch = &f->channels[c];
		if (low <= ch->low_bucket)
			continue;
		if (low - ch->low_bucket > ch->mask) {
			memset(ch->offsets, 0, (ch->mask + 1) * sizeof(*ch->offsets));
		} else {
			uint64_t from = ch->low_bucket & ch->mask, count = low - ch->low_bucket;
			uint64_t first = count < ch->mask + 1 - from ? count : ch->mask + 1 - from;
			memset(ch->offsets + from, 0, first * sizeof(*ch->offsets));
			memset(ch->offsets, 0, (count - first) * sizeof(*ch->offsets));
		}
		ch->low_bucket = low;
	}
}

uint64_t flash_read(struct flash *f, uint64_t ppn, uint64_t ready)
{
	uint32_t die_index = flash_unit_die(&f->geo, ppn / f->geo.pages_per_unit);
	struct die *die = &f->dies[die_index];
	uint64_t sensed;
	if (!f->read_suspend) {
		sensed = max_u64(ready, die->free_at) + f->read_ns;
		die->free_at = sensed;
	} else {
		/* Reads queue behind reads only; pending programs and erases are suspended. */
		uint64_t start = max_u64(ready, die->read_free_at);
		if (start < die->free_at) {
			sensed = start + f->suspend_ns + f->read_ns;
			die->free_at += f->suspend_ns + f->read_ns;
		} else {
			sensed = start + f->read_ns;
			die->free_at = sensed;
		}
		die->read_free_at = sensed;
	}
	die->program_plane = NO_PLANE;
	uint64_t out = transfer(f, die_index % f->geo.channels, sensed);
	note_busy(f, max_u64(out, die->free_at));
	return out;
}

uint64_t flash_program(struct flash *f, uint64_t ppn, uint64_t ready)
{
	uint32_t die_index = flash_unit_die(&f->geo, ppn / f->geo.pages_per_unit);
	struct die *die = &f->dies[die_index];
	uint32_t plane = (uint32_t)(ppn % f->geo.planes);
	uint64_t group = ppn / f->geo.planes;
	uint64_t loaded = transfer(f, die_index % f->geo.channels, ready);
	uint64_t start;
	if (plane > 0 && die->program_plane == plane - 1 && die->program_group == group)
		/* Same multi-plane program: it starts once the last plane's data is in. */
		start = max_u64(die->program_start, loaded);
	else
		start = max_u64(loaded, die->free_at);
	uint64_t end = start + f->program_ns;
	die->free_at = end;
	die->program_start = start;
	die->program_group = group;
	die->program_plane = plane;
	note_busy(f, end);
	return end;
}

uint64_t flash_erase(struct flash *f, uint64_t unit, uint64_t ready)
{
	struct die *die = &f->dies[flash_unit_die(&f->geo, unit)];
	uint64_t end = max_u64(ready, die->free_at) + f->erase_ns;
	die->free_at = end;
	die->program_plane = NO_PLANE;
	note_busy(f, end);
	return end;
}

uint64_t flash_die_free_at(const struct flash *f, uint32_t die)
{
	return f->dies[die].free_at;
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
	/* Full: wait for the slot that drains first, and take it (pop the heap's root). */
	uint64_t *heap = f->slots;
	uint64_t earliest = heap[0];
	uint32_t n = --f->slot_count;
	uint64_t last = heap[n];
	uint32_t i = 0;
	for (;;) {
		uint32_t child = 2 * i + 1;
		if (child >= n)
			break;
		if (child + 1 < n && heap[child + 1] < heap[child])
			child++;
		if (heap[child] >= last)
			break;
		heap[i] = heap[child];
		i = child;
	}
	heap[i] = last;
	return max_u64(now, earliest);
}

void flash_buffer_release(struct flash *f, uint64_t on_nand_at)
{
	f->drained_at = max_u64(f->drained_at, on_nand_at);
	if (f->slot_capacity == 0)
		return;
	uint64_t *heap = f->slots;
	uint32_t i = f->slot_count++;
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (heap[parent] <= on_nand_at)
			break;
		heap[i] = heap[parent];
		i = parent;
	}
	heap[i] = on_nand_at;
}

uint64_t flash_buffer_drained_at(const struct flash *f)
{
	return f->drained_at;
}
