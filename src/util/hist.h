/*
 * Latency histogram with log-linear buckets: exact below 128, then 128
 * buckets per power of two, so any reported value is within 0.8% of the
 * true sample.  Fixed size, no allocation, cheap to add to; merge per-thread
 * histograms at the end, or read a struct hist_shard while its thread adds.
 * Shared by nvemu perf (client latencies) and the target's statistics.
 */
#ifndef NVEMU_UTIL_HIST_H
#define NVEMU_UTIL_HIST_H

#include <stdatomic.h>
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
/* Leaves in `later` only the samples `earlier` (a past state of it) did not have;
 * min and max become the outer edges of the buckets left. */
void hist_subtract(struct hist *later, const struct hist *earlier);

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

/*
 * A histogram one thread adds to while others read it, with no lock and no
 * locked instruction: only the owner thread writes, each field is an atomic
 * updated by a relaxed load and store, so readers see whole values.  The
 * count a reader gets is the sum of the buckets it read, so quantiles stay
 * self-consistent while samples arrive.  All zero bytes is an empty shard, so
 * shards can live in untouched zero pages (mmap) until they are written.
 */
struct hist_shard {
	atomic_uint_fast64_t sum, max;
	atomic_uint_fast64_t inverted_min; /* ~min: zero when empty */
	atomic_uint_fast64_t buckets[HIST_BUCKETS];
};

static inline void hist_shard_bump(atomic_uint_fast64_t *field, uint64_t by)
{
	atomic_store_explicit(field, atomic_load_explicit(field, memory_order_relaxed) + by,
			      memory_order_relaxed);
}

/* Only from the shard's owner thread. */
static inline void hist_shard_add(struct hist_shard *s, uint64_t value)
{
	/* The bucket last. A reader (hist_merge_shard) takes min and max first and reads only
	 * the buckets between them, so whatever it counts lies within the min and max it gives;
	 * a sample outside them is left for its next merge. */
	if (~value > atomic_load_explicit(&s->inverted_min, memory_order_relaxed))
		atomic_store_explicit(&s->inverted_min, ~value, memory_order_relaxed);
	if (value > atomic_load_explicit(&s->max, memory_order_relaxed))
		atomic_store_explicit(&s->max, value, memory_order_relaxed);
	hist_shard_bump(&s->sum, value);
	hist_shard_bump(&s->buckets[hist_index(value)], 1);
}

/* Adds what s holds so far into h; safe while the owner keeps adding. */
void hist_merge_shard(struct hist *h, const struct hist_shard *s);

#endif
