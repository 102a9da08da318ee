/* Transfer calendars: setup, the horizon, and growing the rings (calendar.h books). */
#include "flash/calendar.h"

#include <stdlib.h>
#include <string.h>

#define CALENDAR_INITIAL_BUCKETS 1024 /* a power of two, at least 64 */

int calendar_init(struct calendar *cal, uint32_t lanes, uint64_t xfer_ns)
{
	memset(cal, 0, sizeof(*cal));
	cal->xfer_ns = xfer_ns;
	/* The widest power of two not above xfer_ns (any width when transfers are free). */
	cal->bucket_shift = xfer_ns ? 63 - (uint32_t)__builtin_clzll(xfer_ns) : 0;
	cal->ring_mask = CALENDAR_INITIAL_BUCKETS - 1;
	cal->lanes = lanes;
	cal->lane = calloc(lanes, sizeof(*cal->lane));
	if (!cal->lane)
		return -1;
	for (uint32_t l = 0; l < lanes; l++) {
		cal->lane[l].booked = calloc(CALENDAR_INITIAL_BUCKETS / 64, sizeof(uint64_t));
		cal->lane[l].offsets = malloc(CALENDAR_INITIAL_BUCKETS * sizeof(uint32_t));
		if (!cal->lane[l].booked || !cal->lane[l].offsets)
			return -1;
	}
	return 0;
}

void calendar_free(struct calendar *cal)
{
	for (uint32_t l = 0; cal->lane && l < cal->lanes; l++) {
		free(cal->lane[l].booked);
		free(cal->lane[l].offsets);
	}
	free(cal->lane);
	cal->lane = NULL;
}

/* Zeroes `count` bitmap words of every lane from the one holding bucket `first` on. */
static void clear_words(struct calendar *cal, uint64_t first, uint64_t count)
{
	uint64_t words = (cal->ring_mask + 1) / 64, from = (first / 64) & (words - 1);
	if (count > words)
		count = words;
	uint64_t before_wrap = count < words - from ? count : words - from;
	for (uint32_t l = 0; l < cal->lanes; l++) {
		memset(cal->lane[l].booked + from, 0, before_wrap * sizeof(uint64_t));
		memset(cal->lane[l].booked, 0, (count - before_wrap) * sizeof(uint64_t));
	}
}

void calendar_drop(struct calendar *cal)
{
	clear_words(cal, cal->ring_base, (cal->ring_mask + 1) / 64);
	for (uint32_t l = 0; l < cal->lanes; l++)
		cal->lane[l].run_start = cal->lane[l].run_end = 0;
}

__attribute__((noinline, cold)) void calendar_grow(struct calendar *cal, uint64_t k)
{
	uint64_t old_size = cal->ring_mask + 1, size = old_size;
	while (k - cal->ring_base >= size)
		size *= 2;
	for (uint32_t l = 0; l < cal->lanes; l++) {
		struct calendar_lane *ln = &cal->lane[l];
		uint64_t *booked = calloc(size / 64, sizeof(*booked));
		uint32_t *offsets = malloc(size * sizeof(*offsets));
		if (!booked || !offsets)
			abort();
		for (uint64_t i = 0; i < old_size; i++) {
			if (!(ln->booked[i / 64] >> (i % 64) & 1))
				continue;
			uint64_t bucket = cal->ring_base + ((i - cal->ring_base) & cal->ring_mask);
			uint64_t j = bucket & (size - 1);
			booked[j / 64] |= (uint64_t)1 << (j % 64);
			offsets[j] = ln->offsets[i];
		}
		free(ln->booked);
		free(ln->offsets);
		ln->booked = booked;
		ln->offsets = offsets;
	}
	cal->ring_mask = size - 1;
}

void calendar_advance(struct calendar *cal, uint64_t now)
{
	/* The horizon is the start of the bucket of xfer_ns before now's, so a booking that may
	 * still overlap transfers at now is kept; it moves once now is two such buckets past it. */
	uint64_t x = cal->xfer_ns;
	if (x == 0 || now < cal->horizon + 2 * x)
		return;
	cal->horizon = (now / x - 1) * x;
	uint64_t base = (cal->horizon >> cal->bucket_shift) & ~(uint64_t)63;
	if (base > cal->ring_base) {
		clear_words(cal, cal->ring_base, (base - cal->ring_base) / 64);
		cal->ring_base = base;
	}
}
