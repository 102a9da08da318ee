/*
 * A calendar of fixed-length transfers on a few lanes (the flash channels, the host link's two
 * directions). Operations are booked when issued, often far ahead of time, and their ready times
 * are not issued in time order (a die with a long queue books its transfer far in the future,
 * its neighbour's short one comes after), so a single "busy until" would make a transfer wait for
 * the latest one booked. Instead each transfer (all last `xfer_ns`) takes the first idle gap at or
 * after its ready time.
 *
 * Time is cut into buckets 2^bucket_shift ns wide, at most xfer_ns, so two transfers (which
 * cannot start within xfer_ns of each other) never share a bucket. Each lane has a ring of
 * buckets: a bitmap says which hold a booking and `offsets` where in the bucket it starts.
 * Bookings reach a backlog ahead (a quarter of a second on the default device, tens of
 * thousands of buckets) and most transfers find their lane free: the bitmap, a bit a bucket,
 * stays in cache where the offsets would not, so the common case costs no cache miss.
 *
 * Internal to the model (flash/): reads no clock, takes ready times, returns end times.
 */
#ifndef NVEMU_FLASH_CALENDAR_H
#define NVEMU_FLASH_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

struct calendar_lane {
	uint64_t *booked;  /* bit (k & ring_mask) set when bucket k holds a booking */
	uint32_t *offsets; /* start - (k << bucket_shift) of bucket k's booking, at k & ring_mask */
	/* A run of back-to-back bookings (bookings are never removed, so it stays one): requests
	 * landing inside jump to its end instead of stepping over each booking. */
	uint64_t run_start, run_end;
};

struct calendar {
	uint64_t xfer_ns;
	/* Bookings starting before the horizon are forgotten, and no transfer starts before it:
	 * the start of the bucket (of xfer_ns) before the one holding the latest calendar_advance.
	 * The rings (all the same size) cover buckets [ring_base, ring_base + ring_mask]:
	 * ring_base is the horizon's bucket rounded down to a bitmap word, and the words before
	 * it are cleared, so a set bit always stands for a bucket in that span. */
	uint64_t horizon, ring_base, ring_mask;
	uint32_t bucket_shift, lanes;
	struct calendar_lane *lane;
};

/* 0, or -1 when out of memory. xfer_ns must be below 2^32; 0 makes every transfer free. */
int calendar_init(struct calendar *cal, uint32_t lanes, uint64_t xfer_ns);
void calendar_free(struct calendar *cal);

/* No later booking will be ready before `now`: bookings that ended earlier can be forgotten. */
void calendar_advance(struct calendar *cal, uint64_t now);

/* Forgets every booking (a power loss: nothing in flight goes on). */
void calendar_drop(struct calendar *cal);

/* Doubles the rings until they cover bucket `k` (calendar_book's rare path). */
void calendar_grow(struct calendar *cal, uint64_t k);

/*
 * Start of the latest booking overlapping [start, start + xfer_ns), or UINT64_MAX if none.
 * Such bookings start less than xfer_ns either side: buckets `first` to `last`, at most five,
 * whose bits are read at once. Buckets before ring_base show the bits of a later lap there:
 * the starts they give come out before the horizon, where bookings are forgotten anyway.
 */
static inline uint64_t calendar_overlap(const struct calendar *cal, const struct calendar_lane *ln,
					uint64_t start, uint64_t first, uint64_t last)
{
	uint64_t i = first & cal->ring_mask, bit = i % 64, n = last - first + 1;
	uint64_t bits = ln->booked[i / 64] >> bit;
	if (bit + n > 64)
		bits |= ln->booked[(i / 64 + 1) & (cal->ring_mask / 64)] << (64 - bit);
	bits &= ((uint64_t)1 << n) - 1;
	while (bits) {
		uint64_t top = 63 - (uint64_t)__builtin_clzll(bits), k = first + top;
		uint64_t booked = (k << cal->bucket_shift) + ln->offsets[k & cal->ring_mask];
		if (booked + cal->xfer_ns > start && booked < start + cal->xfer_ns &&
		    booked >= cal->horizon)
			return booked;
		bits &= ~((uint64_t)1 << top);
	}
	return UINT64_MAX;
}

/* Books one transfer on `lane` in its first gap at or after `ready`; returns when it ends. */
static inline uint64_t calendar_book(struct calendar *cal, uint32_t lane, uint64_t ready)
{
	uint64_t x = cal->xfer_ns;
	if (x == 0)
		return ready;
	struct calendar_lane *ln = &cal->lane[lane];
	uint64_t start = ready > cal->horizon ? ready : cal->horizon;
	for (;;) {
		if (start - ln->run_start < ln->run_end - ln->run_start)
			start = ln->run_end;
		uint64_t first = (start > x - 1 ? start - (x - 1) : 0) >> cal->bucket_shift;
		uint64_t last = (start + x - 1) >> cal->bucket_shift;
		if (last - cal->ring_base > cal->ring_mask)
			calendar_grow(cal, last);
		uint64_t overlap = calendar_overlap(cal, ln, start, first, last);
		if (overlap == UINT64_MAX)
			break;
		start = overlap + x;
	}
	uint64_t i = (start >> cal->bucket_shift) & cal->ring_mask;
	ln->booked[i / 64] |= (uint64_t)1 << (i % 64);
	ln->offsets[i] = (uint32_t)(start & (((uint64_t)1 << cal->bucket_shift) - 1));
	if (start == ln->run_end) {
		ln->run_end += x;
	} else {
		ln->run_start = start;
		ln->run_end = start + x;
	}
	return start + x;
}

#endif
