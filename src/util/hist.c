#include "util/hist.h"

#include <string.h>

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void hist_merge(struct hist *into, const struct hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	into->count += from->count;
	into->sum += from->sum;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

void hist_subtract(struct hist *later, const struct hist *earlier)
{
	later->count = 0;
	later->min = UINT64_MAX;
	later->max = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		uint64_t gone = earlier->buckets[i] < later->buckets[i] ? earlier->buckets[i] : later->buckets[i];
		later->buckets[i] -= gone;
		if (!later->buckets[i])
			continue;
		later->count += later->buckets[i];
		if (later->min == UINT64_MAX)
			later->min = hist_bucket_low(i);
		later->max = hist_bucket_low(i) + hist_bucket_width(i) - 1;
	}
	later->sum = later->sum >= earlier->sum ? later->sum - earlier->sum : 0;
}

unsigned hist_index(uint64_t value)
{
	if (value < HIST_SUB)
		return (unsigned)value;
	unsigned msb = 63u - (unsigned)__builtin_clzll(value);
	unsigned shift = msb - HIST_SUB_BITS;
	return (shift + 1) * HIST_SUB + (unsigned)((value >> shift) - HIST_SUB);
}

uint64_t hist_bucket_low(unsigned idx)
{
	if (idx < HIST_SUB)
		return idx;
	unsigned shift = idx / HIST_SUB - 1;
	return (uint64_t)(HIST_SUB + idx % HIST_SUB) << shift;
}

uint64_t hist_bucket_width(unsigned idx)
{
	return idx < HIST_SUB ? 1 : 1ull << (idx / HIST_SUB - 1);
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	if (!h->count)
		return 0;
	if (q <= 0)
		return h->min;
	/* The rank of the sample at quantile q, 1-based, as nearest-rank defines it. */
	double exact = q * (double)h->count;
	uint64_t rank = (uint64_t)exact;
	if ((double)rank < exact)
		rank++;
	if (rank == 0)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen < rank)
			continue;
		uint64_t v = hist_bucket_low(i) + (hist_bucket_width(i) - 1) / 2;
		if (v < h->min)
			v = h->min;
		if (v > h->max)
			v = h->max;
		return v;
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}

void hist_merge_shard(struct hist *h, const struct hist_shard *s)
{
	/* Only the buckets between min's and max's can be non-zero: a snapshot walks those, not
	 * all 7,424 (a latency histogram spans a few powers of two).  min and max are read first;
	 * a sample that lands meanwhile outside them is left for the next merge, and the count
	 * stays the sum of the buckets read. */
	uint64_t min = ~atomic_load_explicit(&s->inverted_min, memory_order_relaxed);
	uint64_t max = atomic_load_explicit(&s->max, memory_order_relaxed);
	if (min > max)
		return; /* empty */
	uint64_t count = 0;
	for (unsigned i = hist_index(min), last = hist_index(max); i <= last; i++) {
		uint64_t n = atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
		h->buckets[i] += n;
		count += n;
	}
	if (!count)
		return;
	h->count += count;
	h->sum += atomic_load_explicit(&s->sum, memory_order_relaxed);
	if (min < h->min)
		h->min = min;
	if (max > h->max)
		h->max = max;
}
