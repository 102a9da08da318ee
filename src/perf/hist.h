/*
 * Latency histogram with log-linear buckets: exact below 128, then 128
 * buckets per power of two, so any reported value is within 0.8% of the
 * true sample.  Fixed size, no allocation, cheap to add to; merge per-thread
 * histograms at the end.
 */
#ifndef NVEMU_PERF_HIST_H
#define NVEMU_PERF_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t buckets[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_merge(struct hist *into, const struct hist *from);

unsigned hist_index(uint64_t value);
/* Smallest value that lands in bucket idx, and how many values share it. */
uint64_t hist_bucket_low(unsigned idx);
uint64_t hist_bucket_width(unsigned idx);

static inline void hist_add(struct hist *h, uint64_t value)
{
	h->buckets[hist_index(value)]++;
	h->count++;
	h->sum += value;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

/* The value at quantile q (0..1): middle of its bucket, clamped to [min, max]; 0 if empty. */
uint64_t hist_quantile(const struct hist *h, double q);
double hist_mean(const struct hist *h);

#endif
