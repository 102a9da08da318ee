/* FTL: GC invariants after long randomized workloads, and host-visible timing rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ftl/ftl.h"
#include "model_test.h"

static struct ssd_params small_params(void)
{
	struct ssd_params p;
	ssd_params_defaults(&p);
	p.channels = 2;
	p.luns_per_channel = 2;
	p.planes_per_lun = 1;
	p.blocks_per_plane = 32;
	p.pages_per_block = 16;
	p.op_pcent = 20;
	p.write_buffer_kib = 64;
	p.controller_ns = 0;
	p.unmapped_read_ns = 1; /* tells unmapped reads apart from NAND reads */
	return p;
}

/* A read completing 1 ns after `now` never touched NAND: the page is unmapped. */
static bool is_mapped(struct ssd *s, uint64_t lpn, uint64_t now)
{
	return ssd_read(s, lpn, 1, now, NULL) != now + 1;
}

/*
 * Random writes (1-4 pages), trims and reads, checked against a shadow of which pages hold
 * data; every few thousand operations the full consistency check runs.
 */
static void run_random_workload(enum gc_policy policy, uint32_t planes, bool separate)
{
	struct ssd_params p = small_params();
	p.gc_policy = policy;
	p.planes_per_lun = planes;
	p.gc_separate = separate;
	p.seed = 7;
	struct ssd *s = make_ssd(&p);
	uint64_t logical = ssd_logical_pages(s);
	bool *written = calloc(logical, sizeof(*written));
	assert_non_null(written);
	uint64_t rng = 0x1234567 + policy, now = 0, host_pages = 0;

	for (int op = 0; op < 60000; op++) {
		uint64_t r = xorshift(&rng);
		uint32_t n = 1 + (uint32_t)(r >> 60) % 4;
		uint64_t lpn = (r >> 8) % (logical - n + 1);
		now += 1000;
		if (r % 10 < 7) {
			uint64_t done = ssd_write(s, lpn, n, false, now, NULL);
			assert_true(done >= now);
			for (uint32_t i = 0; i < n; i++)
				written[lpn + i] = true;
			host_pages += n;
		} else if (r % 10 < 8) {
			ssd_trim(s, lpn, n, now, NULL);
			for (uint32_t i = 0; i < n; i++)
				written[lpn + i] = false;
		} else {
			assert_true(ssd_read(s, lpn, n, now, NULL) >= now);
		}
		if (op % 5000 == 4999)
			assert_consistent(s);
	}
	assert_consistent(s);
	for (uint64_t lpn = 0; lpn < logical; lpn++)
		if (is_mapped(s, lpn, now) != written[lpn])
			fail_msg("lpn %llu: mapped %d, shadow %d", (unsigned long long)lpn,
				 is_mapped(s, lpn, now), written[lpn]);

	struct ssd_counters c;
	ssd_get_counters(s, &c);
	assert_int_equal(c.host_pages_written, host_pages);
	assert_int_equal(c.nand_pages_written, c.host_pages_written + c.gc_pages_moved);
	assert_int_equal(c.erases, c.gc_runs);
	assert_true(c.gc_runs > 0); /* the workload wrote the device over several times */
	assert_true(c.erase_min <= c.erase_mean && c.erase_mean <= c.erase_max);
	free(written);
	ssd_destroy(s);
}

static void test_invariants_greedy(void **state)
{
	(void)state;
	run_random_workload(GC_GREEDY, 1, true);
	run_random_workload(GC_GREEDY, 2, false);
}

static void test_invariants_other_policies(void **state)
{
	(void)state;
	run_random_workload(GC_COST_BENEFIT, 1, true);
	run_random_workload(GC_RANDOM, 2, true);
	run_random_workload(GC_FIFO, 1, true);
	run_random_workload(GC_DCHOICE, 1, false);
}

/* Uniform random writes over the whole space: WAF lands near greedy theory's ballpark. */
static void test_greedy_waf_plausible(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.blocks_per_plane = 256;
	p.pages_per_block = 64;
	p.op_pcent = 28;
	struct ssd *s = make_ssd(&p);
	uint64_t logical = ssd_logical_pages(s), rng = 99, now = 0;
	for (uint64_t lpn = 0; lpn < logical; lpn++)
		now = ssd_write(s, lpn, 1, false, now, NULL);
	for (uint64_t i = 0; i < 3 * logical; i++)
		now = ssd_write(s, xorshift(&rng) % logical, 1, false, now, NULL);
	struct ssd_counters before, after;
	ssd_get_counters(s, &before);
	for (uint64_t i = 0; i < 2 * logical; i++)
		now = ssd_write(s, xorshift(&rng) % logical, 1, false, now, NULL);
	ssd_get_counters(s, &after);
	double waf = (double)(after.nand_pages_written - before.nand_pages_written) /
		     (double)(after.host_pages_written - before.host_pages_written);
	/* Theory 2.48 for large blocks; small blocks and per-die reserves shift it a little. */
	assert_true(waf > 2.0 && waf < 3.0);
	assert_consistent(s);
	ssd_destroy(s);
}

/*
 * One die, no channel cost, tPROG = 500, a 2-page buffer: writes complete when buffered until
 * the buffer is full, then when the earliest buffered page is on NAND; FUA and Flush wait.
 */
static void test_write_buffer_full(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.channels = 1;
	p.luns_per_channel = 1;
	p.channel_mbps = 0;
	p.page_program_ns = 500;
	p.write_buffer_kib = 8;
	struct ssd *s = make_ssd(&p);
	assert_int_equal(ssd_write(s, 0, 1, false, 0, NULL), 0);   /* programs [0, 500) */
	assert_int_equal(ssd_write(s, 1, 1, false, 0, NULL), 0);   /* programs [500, 1000) */
	assert_int_equal(ssd_write(s, 2, 1, false, 0, NULL), 500); /* waits for a slot */
	assert_int_equal(ssd_flush(s, 600, NULL), 1500); /* page 2 programs [1000, 1500) */
	assert_int_equal(ssd_write(s, 3, 1, true, 600, NULL), 2000); /* FUA: on NAND */
	ssd_destroy(s);

	p.write_buffer_kib = 0; /* no buffer: every write waits for its program */
	s = make_ssd(&p);
	assert_int_equal(ssd_write(s, 0, 2, false, 0, NULL), 1000);
	ssd_destroy(s);
}

static void test_read_costs(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.channels = 1;
	p.luns_per_channel = 1;
	p.channel_mbps = 0;
	p.controller_ns = 100;
	p.unmapped_read_ns = 3000;
	p.write_buffer_kib = 0;
	struct ssd *s = make_ssd(&p);
	/* Never written: controller overhead plus the unmapped-read cost, no NAND. */
	assert_int_equal(ssd_read(s, 5, 1, 1000, NULL), 1000 + 100 + 3000);
	uint64_t on_nand = ssd_write(s, 5, 1, false, 0, NULL);
	assert_int_equal(on_nand, 100 + p.page_program_ns);
	/* Mapped: waits for the die, then tR. */
	assert_int_equal(ssd_read(s, 5, 1, 0, NULL), on_nand + p.page_read_ns);
	ssd_trim(s, 5, 1, on_nand, NULL);
	assert_int_equal(ssd_read(s, 5, 1, on_nand, NULL), on_nand + 100 + 3000);
	ssd_destroy(s);
}

/* Overwriting the whole device many times never fails and, sequentially, costs no GC copies. */
static void test_full_device_sequential(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.op_pcent = 50; /* room for the open and reserved blocks of 4 dies, and some lead */
	struct ssd *s = make_ssd(&p);
	uint64_t logical = ssd_logical_pages(s), now = 0;
	for (int pass = 0; pass < 6; pass++)
		for (uint64_t lpn = 0; lpn + 4 <= logical; lpn += 4)
			now = ssd_write(s, lpn, 4, false, now, NULL);
	struct ssd_counters c;
	ssd_get_counters(s, &c);
	assert_true(c.gc_runs > 0);
	assert_true(c.waf < 1.05);
	assert_consistent(s);
	ssd_destroy(s);
}

/* Which die holds a page, found as the only one offline whose pages read as lost. */
static uint64_t lost_pages(struct ssd *s)
{
	uint64_t n = 0;
	for (uint64_t lpn = 0; lpn < ssd_logical_pages(s); lpn++)
		n += ssd_first_lost_page(s, lpn, 1) == lpn;
	return n;
}

/* A die offline: its pages are named lost until rewritten, writes and GC go elsewhere. */
static void test_die_offline(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	char err[256];
	/* The dies left must hold every logical page: not with 20 % over-provisioning. */
	struct ssd *s = make_ssd(&p);
	assert_int_equal(ssd_set_die_offline(s, 1, true, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "spare blocks per die on 3 dies"));
	ssd_destroy(s);
	p.op_pcent = 60;
	s = make_ssd(&p);
	uint64_t pages = ssd_logical_pages(s), now = 0, x = 7;
	for (uint64_t lpn = 0; lpn < pages; lpn++)
		now = ssd_write(s, lpn, 1, false, now, NULL);
	assert_int_equal(ssd_first_lost_page(s, 0, (uint32_t)pages), UINT64_MAX);
	assert_int_equal(ssd_set_die_offline(s, 1, true, err, sizeof(err)), 0);
	uint64_t lost = lost_pages(s);
	/* Four dies written in turn: about a quarter of the pages were on die 1. */
	assert_in_range(lost, pages / 4 - pages / 16, pages / 4 + pages / 16);
	uint64_t first = ssd_first_lost_page(s, 0, (uint32_t)pages);
	assert_true(first < pages && ssd_first_lost_page(s, first, 1) == first);
	/* Overwritten three times at random (GC runs on the dies left): nothing lands on die 1. */
	for (uint64_t i = 0; i < 3 * pages; i++)
		now = ssd_write(s, xorshift(&x) % pages, 1, false, now, NULL);
	assert_true(lost_pages(s) < lost);
	for (uint64_t lpn = 0; lpn < pages; lpn++)
		if (ssd_first_lost_page(s, lpn, 1) == lpn)
			now = ssd_write(s, lpn, 1, false, now, NULL);
	assert_int_equal(lost_pages(s), 0);
	assert_consistent(s);
	/* Nested; a second die would leave too little room; back online, writes use it again. */
	assert_int_equal(ssd_set_die_offline(s, 1, true, err, sizeof(err)), 0);
	assert_int_equal(ssd_set_die_offline(s, 0, true, err, sizeof(err)), -1);
	assert_int_equal(ssd_set_die_offline(s, 4, true, err, sizeof(err)), -1);
	assert_int_equal(ssd_set_die_offline(s, 1, false, err, sizeof(err)), 0);
	assert_int_equal(lost_pages(s), 0);
	assert_int_equal(ssd_set_die_offline(s, 1, false, err, sizeof(err)), 0);
	for (uint64_t lpn = 0; lpn < pages; lpn++)
		now = ssd_write(s, lpn, 1, false, now, NULL);
	assert_int_equal(ssd_set_die_offline(s, 1, true, err, sizeof(err)), 0);
	assert_in_range(lost_pages(s), pages / 8, pages / 2);
	assert_consistent(s);
	ssd_destroy(s);
}

static void test_create_errors(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.op_pcent = 1;
	char err[256] = "";
	assert_null(ssd_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "op_pcent"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invariants_greedy),
		cmocka_unit_test(test_invariants_other_policies),
		cmocka_unit_test(test_greedy_waf_plausible),
		cmocka_unit_test(test_write_buffer_full),
		cmocka_unit_test(test_read_costs),
		cmocka_unit_test(test_full_device_sequential),
		cmocka_unit_test(test_die_offline),
		cmocka_unit_test(test_create_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
