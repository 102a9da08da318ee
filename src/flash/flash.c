/* NAND timelines: channels and dies as "busy until t", plus the DRAM write buffer. */
#include "flash/flash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define NO_PLANE UINT32_MAX
#define CHANNEL_INITIAL_BUCKETS 1024 /* a power of two, at least 64 */

struct die {
	uint32_t channel;
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
 * is placed in the first gap at or after its ready time.
 *
 * Time is cut into buckets 2^bucket_shift ns wide, at most xfer_ns, so two transfers (which
 * cannot start within xfer_ns of each other) never share a bucket. Each channel has a ring of
 * buckets: a bitmap says which hold a booking and `offsets` where in the bucket it starts.
 * Bookings reach a backlog ahead (a quarter of a second on the default device, tens of
 * thousands of buckets) and most transfers find their channel free: the bitmap, a bit a
 * bucket, stays in cache where the offsets would not, so the common case costs no cache miss.
 */
struct channel {
	uint64_t *booked;  /* bit (k & ring_mask) set when bucket k holds a booking */
	uint32_t *offsets; /* start - (k << bucket_shift) of bucket k's booking, at k & ring_mask */
	/* A run of back-to-back bookings (bookings are never removed, so it stays one): requests
	 * landing inside jump to its end instead of stepping over each booking. */
	uint64_t run_start, run_end;
};

struct flash {
	struct flash_geometry geo;
	uint64_t read_ns, program_ns, erase_ns, xfer_ns, suspend_ns;
	bool read_suspend;
	uint64_t idle_at;
	/* Bookings starting before the horizon are forgotten, and no transfer starts before it:
	 * the start of the bucket (of xfer_ns) before the one holding the latest flash_advance.
	 * The rings (all the same size) cover buckets [ring_base, ring_base + ring_mask]:
	 * ring_base is the horizon's bucket rounded down to a bitmap word, and the words before
	 * it are cleared, so a set bit always stands for a bucket in that span. */
	uint64_t horizon, ring_base, ring_mask;
	uint32_t bucket_shift;
	struct channel *channels;
	struct die *dies;

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

static struct flash_divisor divisor(uint32_t d)
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
	uint64_t buffer_pages = p->write_buffer_kib * 1024 / page_bytes;
	if (buffer_pages > UINT32_MAX) {
		errorf(err, errlen, "write_buffer_kib: too large");
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
		.by_planes = divisor(p->planes_per_lun),
		.by_units_per_die = divisor(p->blocks_per_plane),
		.by_pages_per_unit = divisor((uint32_t)pages_per_unit),
		.by_pages_per_die = divisor((uint32_t)(pages_per_unit * p->blocks_per_plane)),
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
		errorf(err, errlen, "channel transfer time of %llu ns is too long",
		       (unsigned long long)f->xfer_ns);
		flash_destroy(f);
		return NULL;
	}
	/* The widest power of two not above xfer_ns (any width when transfers are free). */
	f->bucket_shift = f->xfer_ns ? 63 - (uint32_t)__builtin_clzll(f->xfer_ns) : 0;
	f->channels = calloc(p->channels, sizeof(*f->channels));
	f->dies = calloc(dies, sizeof(*f->dies));
	f->slot_capacity = (uint32_t)buffer_pages;
	f->slot_mask = 1;
	while (f->slot_mask < buffer_pages)
		f->slot_mask = 2 * f->slot_mask + 1;
	f->slots = calloc((uint64_t)f->slot_mask + 1, sizeof(*f->slots));
	if (!f->channels || !f->dies || !f->slots)
		goto oom;
	f->ring_mask = CHANNEL_INITIAL_BUCKETS - 1;
	for (uint32_t c = 0; c < p->channels; c++) {
		f->channels[c].booked = calloc(CHANNEL_INITIAL_BUCKETS / 64, sizeof(uint64_t));
		f->channels[c].offsets = malloc(CHANNEL_INITIAL_BUCKETS * sizeof(uint32_t));
		if (!f->channels[c].booked || !f->channels[c].offsets)
			goto oom;
	}
	for (uint32_t d = 0; d < dies; d++) {
		f->dies[d].channel = d % p->channels;
		f->dies[d].program_plane = NO_PLANE;
	}
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
	for (uint32_t c = 0; f->channels && c < f->geo.channels; c++) {
		free(f->channels[c].booked);
		free(f->channels[c].offsets);
	}
	free(f->channels);
	free(f->dies);
	free(f->slots);
	free(f);
}

const struct flash_geometry *flash_geometry(const struct flash *f)
{
	return &f->geo;
}

static inline void note_busy(struct flash *f, uint64_t until)
{
	f->idle_at = max_u64(f->idle_at, until);
}

/* Zeroes `count` bitmap words of every channel from the one holding bucket `first` on. */
static void clear_words(struct flash *f, uint64_t first, uint64_t count)
{
	uint64_t words = (f->ring_mask + 1) / 64, from = (first / 64) & (words - 1);
	if (count > words)
		count = words;
	uint64_t before_wrap = count < words - from ? count : words - from;
	for (uint32_t c = 0; c < f->geo.channels; c++) {
		memset(f->channels[c].booked + from, 0, before_wrap * sizeof(uint64_t));
		memset(f->channels[c].booked, 0, (count - before_wrap) * sizeof(uint64_t));
	}
}

/* Doubles the rings until they cover bucket `k`, keeping the bookings. */
static __attribute__((noinline, cold)) void grow_rings(struct flash *f, uint64_t k)
{
	uint64_t old_size = f->ring_mask + 1, size = old_size;
	while (k - f->ring_base >= size)
		size *= 2;
	for (uint32_t c = 0; c < f->geo.channels; c++) {
		struct channel *ch = &f->channels[c];
		uint64_t *booked = calloc(size / 64, sizeof(*booked));
		uint32_t *offsets = malloc(size * sizeof(*offsets));
		if (!booked || !offsets)
			abort();
		for (uint64_t i = 0; i < old_size; i++) {
			if (!(ch->booked[i / 64] >> (i % 64) & 1))
				continue;
			uint64_t bucket = f->ring_base + ((i - f->ring_base) & f->ring_mask);
			uint64_t j = bucket & (size - 1);
			booked[j / 64] |= (uint64_t)1 << (j % 64);
			offsets[j] = ch->offsets[i];
		}
		free(ch->booked);
		free(ch->offsets);
		ch->booked = booked;
		ch->offsets = offsets;
	}
	f->ring_mask = size - 1;
}

/*
 * Start of the latest booking overlapping [start, start + xfer_ns), or UINT64_MAX if none.
 * Such bookings start less than xfer_ns either side: buckets `first` to `last`, at most five,
 * whose bits are read at once. Buckets before ring_base show the bits of a later lap there:
 * the starts they give come out before the horizon, where bookings are forgotten anyway.
 */
static inline uint64_t latest_overlap(const struct flash *f, const struct channel *ch,
				      uint64_t start, uint64_t first, uint64_t last)
{
	uint64_t i = first & f->ring_mask, bit = i % 64, n = last - first + 1;
	uint64_t bits = ch->booked[i / 64] >> bit;
	if (bit + n > 64)
		bits |= ch->booked[(i / 64 + 1) & (f->ring_mask / 64)] << (64 - bit);
	bits &= ((uint64_t)1 << n) - 1;
	while (bits) {
		uint64_t top = 63 - (uint64_t)__builtin_clzll(bits), k = first + top;
		uint64_t booked = (k << f->bucket_shift) + ch->offsets[k & f->ring_mask];
		if (booked + f->xfer_ns > start && booked < start + f->xfer_ns &&
		    booked >= f->horizon)
			return booked;
		bits &= ~((uint64_t)1 << top);
	}
	return UINT64_MAX;
}

/* Occupies the channel for one page transfer in its first gap at or after `ready`. */
static inline uint64_t transfer(struct flash *f, struct channel *ch, uint64_t ready)
{
	uint64_t x = f->xfer_ns;
	if (x == 0)
		return ready;
	uint64_t start = max_u64(ready, f->horizon);
	for (;;) {
		if (start - ch->run_start < ch->run_end - ch->run_start)
			start = ch->run_end;
		uint64_t first = (start > x - 1 ? start - (x - 1) : 0) >> f->bucket_shift;
		uint64_t last = (start + x - 1) >> f->bucket_shift;
		if (last - f->ring_base > f->ring_mask)
			grow_rings(f, last);
		uint64_t overlap = latest_overlap(f, ch, start, first, last);
		if (overlap == UINT64_MAX)
			break;
		start = overlap + x;
	}
	uint64_t i = (start >> f->bucket_shift) & f->ring_mask;
	ch->booked[i / 64] |= (uint64_t)1 << (i % 64);
	ch->offsets[i] = (uint32_t)(start & (((uint64_t)1 << f->bucket_shift) - 1));
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
	/* The horizon is the start of the bucket of xfer_ns before now's, so a booking that may
	 * still overlap transfers at now is kept; it moves once now is two such buckets past it. */
	uint64_t x = f->xfer_ns;
	if (x == 0 || now < f->horizon + 2 * x)
		return;
	f->horizon = (now / x - 1) * x;
	uint64_t base = (f->horizon >> f->bucket_shift) & ~(uint64_t)63;
	if (base > f->ring_base) {
		clear_words(f, f->ring_base, (base - f->ring_base) / 64);
		f->ring_base = base;
	}
}

static inline uint64_t read_on(struct flash *f, struct die *die, uint64_t ready)
{
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
	uint64_t out = transfer(f, &f->channels[die->channel], sensed);
	note_busy(f, max_u64(out, die->free_at));
	return out;
}

static inline uint64_t program_on(struct flash *f, struct die *die, uint64_t ppn, uint64_t ready)
{
	uint64_t group = flash_div(&f->geo.by_planes, ppn);
	uint32_t plane = (uint32_t)ppn - (uint32_t)group * f->geo.planes;
	uint64_t loaded = transfer(f, &f->channels[die->channel], ready);
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

uint64_t flash_read(struct flash *f, uint64_t ppn, uint64_t ready)
{
	return read_on(f, &f->dies[flash_page_die(&f->geo, ppn)], ready);
}

uint64_t flash_program(struct flash *f, uint64_t ppn, uint64_t ready)
{
	return program_on(f, &f->dies[flash_page_die(&f->geo, ppn)], ppn, ready);
}

uint64_t flash_copy(struct flash *f, uint64_t from, uint64_t to, uint64_t ready,
		    uint64_t *read_done)
{
	struct die *die = &f->dies[flash_page_die(&f->geo, from)];
	*read_done = read_on(f, die, ready);
	return program_on(f, die, to, *read_done);
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

uint32_t flash_first_free_die(const struct flash *f, uint32_t after, const bool *excluded)
{
	uint32_t best = UINT32_MAX, d = after;
	uint64_t best_free_at = UINT64_MAX;
	for (uint32_t i = 0; i < f->geo.dies; i++) {
		d = d + 1 == f->geo.dies ? 0 : d + 1;
		if (f->dies[d].free_at < best_free_at && !excluded[d]) {
			best = d;
			best_free_at = f->dies[d].free_at;
		}
	}
	return best;
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
