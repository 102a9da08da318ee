/* The log-linear latency histogram (util/hist.h), shared by perf and the statistics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/hist.h"
#include "util/util.h"

static struct hist h1, h2;

static void test_buckets_cover_every_value(void **state)
{
	(void)state;
	/* Consecutive buckets tile the number line: low(i) + width(i) == low(i + 1). */
	for (unsigned i = 0; i + 1 < HIST_BUCKETS; i++)
		assert_int_equal(hist_bucket_low(i) + hist_bucket_width(i), hist_bucket_low(i + 1));
	uint64_t samples[] = { 0, 1, 127, 128, 129, 255, 256, 1000, 123456789, UINT64_MAX };
	for (size_t k = 0; k < ARRAY_SIZE(samples); k++) {
		uint64_t v = samples[k];
		unsigned i = hist_index(v);
		assert_true(i < HIST_BUCKETS);
		assert_true(hist_bucket_low(i) <= v);
		assert_true(v - hist_bucket_low(i) < hist_bucket_width(i));
		/* Relative bucket width stays under 1/128. */
		if (v >= HIST_SUB)
			assert_true(hist_bucket_width(i) * 128 <= hist_bucket_low(i));
	}
}

static void test_exact_small_values(void **state)
{
	(void)state;
	hist_init(&h1);
	for (uint64_t v = 1; v <= 100; v++)
		hist_add(&h1, v);
	assert_int_equal(h1.count, 100);
	assert_int_equal(h1.min, 1);
	assert_int_equal(h1.max, 100);
	assert_int_equal(hist_quantile(&h1, 0.5), 50);
	assert_int_equal(hist_quantile(&h1, 0.99), 99);
	assert_int_equal(hist_quantile(&h1, 0.999), 100);
	assert_int_equal(hist_quantile(&h1, 1.0), 100);
	assert_true(hist_mean(&h1) > 50.49 && hist_mean(&h1) < 50.51);
}

static void assert_close(uint64_t got, uint64_t want)
{
	double rel = ((double)got - (double)want) / (double)want;
	if (rel < 0)
		rel = -rel;
	assert_true(rel < 0.01);
}

static void test_large_values_and_merge(void **state)
{
	(void)state;
	hist_init(&h1);
	hist_init(&h2);
	/* 100000 latencies 10 us .. 1 s in ns, split over two histograms. */
	for (uint64_t k = 1; k <= 100000; k++)
		hist_add(k % 2 ? &h1 : &h2, k * 10000);
	hist_merge(&h1, &h2);
	assert_int_equal(h1.count, 100000);
	assert_close(hist_quantile(&h1, 0.5), 50000ull * 10000);
	assert_close(hist_quantile(&h1, 0.99), 99000ull * 10000);
	assert_close(hist_quantile(&h1, 0.999), 99900ull * 10000);
	assert_int_equal(hist_quantile(&h1, 1.0), 100000ull * 10000);
	assert_int_equal(h1.min, 10000);
}

static void test_empty(void **state)
{
	(void)state;
	hist_init(&h1);
	assert_int_equal(hist_quantile(&h1, 0.99), 0);
	assert_true(hist_mean(&h1) == 0.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets_cover_every_value),
		cmocka_unit_test(test_exact_small_values),
		cmocka_unit_test(test_large_values_and_merge),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
