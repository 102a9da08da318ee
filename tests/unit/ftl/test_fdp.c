/*
 * Flexible Data Placement in the FTL: placement rules, Reclaim Unit Handle Update and the time
 * limit, and GC isolation checked over randomized workloads on a full drive with trims.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ftl/ftl.h"

/* 4 dies of 64 erase units of 16 pages: reclaim units of 64 pages (16 per die), 64 of them. */
static struct ssd_params fdp_params(void)
{
	struct ssd_params p;
	ssd_params_defaults(&p);
	p.channels = 2;
	p.luns_per_channel = 2;
	p.planes_per_lun = 1;
	p.blocks_per_plane = 64;
	p.pages_per_block = 16;
	p.op_pcent = 25;
	p.write_buffer_kib = 64;
	p.controller_ns = 0;
	p.fdp = true;
	p.fdp_nruh = 4;
	snprintf(p.fdp_initially_isolated, sizeof(p.fdp_initially_isolated), "2-3");
	return p;
}

static struct ssd *make(const struct ssd_params *p)
{
	char err[256];
	struct ssd *s = ssd_create(p, err, sizeof(err));
	if (!s)
		fail_msg("ssd_create: %s", err);
	return s;
}

static void assert_consistent(struct ssd *s)
{
	char err[256];
	if (ssd_check(s, err, sizeof(err)) != 0)
		fail_msg("ssd_check: %s", err);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_handle_lists(void **state)
{
	(void)state;
	uint16_t ids[SSD_FDP_MAX_HANDLES];
	uint32_t n;
	char err[160];
	assert_int_equal(ssd_parse_handle_list("all", 3, ids, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ids[2], 2);
	assert_int_equal(ssd_parse_handle_list("none", 3, ids, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ssd_parse_handle_list("5,1;2-4", 8, ids, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 5);
	uint16_t want[] = {5, 1, 2, 3, 4};
	assert_memory_equal(ids, want, sizeof(want));
	assert_int_equal(ssd_parse_handle_list("8", 8, ids, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(ssd_parse_handle_list("1,1", 8, ids, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(ssd_parse_handle_list("1,,2", 8, ids, &n, err, sizeof(err)), -1);
	assert_int_equal(ssd_parse_handle_list("3-1", 8, ids, &n, err, sizeof(err)), -1);
}

static void test_config_and_errors(void **state)
{
	(void)state;
	struct ssd_params p = fdp_params();
	struct ssd *s = make(&p);
	struct ssd_fdp_config c;
	assert_true(ssd_fdp_config(s, &c));
	assert_true(c.enabled);
	assert_int_equal(c.nruh, 4);
	assert_int_equal(c.nrg, 1);
	assert_int_equal(c.ru_pages, 64); /* an erase unit of 16 pages on each of 4 dies */
	assert_true(c.persistent[0] && c.persistent[1]);
	assert_false(c.persistent[2] || c.persistent[3]);
	ssd_destroy(s);

	p.fdp_runs = 2 * 64 * 4096; /* two erase units per die */
	p.op_pcent = 50;
	s = make(&p);
	assert_true(ssd_fdp_config(s, &c));
	assert_int_equal(c.ru_pages, 128);
	ssd_destroy(s);

	char err[256] = "";
	p = fdp_params();
	p.fdp_nrg = 3;
	assert_null(ssd_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "does not divide"));
	p = fdp_params();
	p.fdp_nruh = 16; /* 16 host + 14 GC points would strand more than the spare area */
	assert_null(ssd_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "spare reclaim units"));
	p = fdp_params();
	snprintf(p.fdp_initially_isolated, sizeof(p.fdp_initially_isolated), "4");
	assert_null(ssd_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "fdp_initially_isolated"));

	p = fdp_params();
	p.fdp = false; /* the configuration is still described, not enabled */
	s = make(&p);
	assert_true(ssd_fdp_config(s, &c));
	assert_false(c.enabled);
	assert_int_equal(c.nruh, 4);
	ssd_destroy(s);
	p.fdp_nruh = 16;
	s = make(&p);
	assert_false(ssd_fdp_config(s, &c));
	assert_int_equal(ssd_fdp_owner(s, 0), -1);
	ssd_destroy(s);
}

/* Each handle's writes fill a reclaim unit of its own; unplaced writes go to handle 0. */
static void test_placement(void **state)
{
	(void)state;
	struct ssd_params p = fdp_params();
	struct ssd *s = make(&p);
	uint64_t now = 0, avail;
	uint32_t left;
	assert_int_equal(ssd_fdp_owner(s, 0), -1);
	ssd_write(s, 0, 1, false, now, NULL);
	assert_int_equal(ssd_fdp_owner(s, 0), 0);
	for (uint32_t h = 0; h < 4; h++)
		ssd_write_placed(s, 10 + h, 3, h, 0, false, now, NULL);
	/* Handle h wrote lpn 10 + h .. 12 + h: the last writer of 10 + h is h. */
	for (uint32_t h = 0; h < 4; h++)
		assert_int_equal(ssd_fdp_owner(s, 10 + h), h);
	ssd_fdp_ruh_status(s, 1, 0, now, &avail, &left);
	assert_int_equal(avail, 64 - 3);
	assert_int_equal(left, 0);
	ssd_fdp_ruh_status(s, 0, 0, now, &avail, &left);
	assert_int_equal(avail, 64 - 4);

	struct ssd_fdp_counters h1, dev;
	ssd_fdp_handle_counters(s, 1, &h1);
	assert_int_equal(h1.host_pages, 3);
	assert_int_equal(h1.valid_pages, 1); /* 12 and 13 now belong to handles 2 and 3 */
	assert_int_equal(h1.rus_opened, 1);
	ssd_fdp_group_counters(s, 0, &dev);
	assert_int_equal(dev.host_pages, 13);
	assert_int_equal(dev.valid_pages, 7); /* lpn 0, 10-15 */

	/* A full reclaim unit closes by itself: the next write starts another. */
	now = ssd_write_placed(s, 100, 61, 1, 0, false, now, NULL);
	ssd_fdp_ruh_status(s, 1, 0, now, &avail, &left);
	assert_int_equal(avail, 64);
	assert_false(ssd_fdp_update(s, 1, 0, now)); /* nothing open: nothing not fully written */
	ssd_write_placed(s, 200, 5, 1, 0, false, now, NULL);
	ssd_fdp_handle_counters(s, 1, &h1);
	assert_int_equal(h1.rus_opened, 2);
	assert_consistent(s);
	ssd_destroy(s);
}

/* Update closes a partly written unit; the time limit closes one on its own, with an event. */
static void test_update_and_time_limit(void **state)
{
	(void)state;
	struct ssd_params p = fdp_params();
	p.fdp_time_limit_s = 2;
	struct ssd *s = make(&p);
	uint64_t avail, sec = 1000000000ull;
	uint32_t left;
	ssd_write_placed(s, 0, 8, 1, 0, false, 0, NULL);
	ssd_fdp_ruh_status(s, 1, 0, sec / 2, &avail, &left);
	assert_int_equal(avail, 56);
	assert_int_equal(left, 2); /* 1.5 s left, rounded up */
	assert_true(ssd_fdp_update(s, 1, 0, sec));
	ssd_fdp_ruh_status(s, 1, 0, sec, &avail, &left);
	assert_int_equal(avail, 64);
	assert_int_equal(left, 2);
	assert_false(ssd_fdp_update(s, 1, 0, sec));

	ssd_write_placed(s, 20, 4, 2, 0, false, sec, NULL);
	struct ssd_fdp_event ev[8];
	assert_int_equal(ssd_fdp_take_events(s, 2 * sec, ev, 8), 0);
	assert_int_equal(ssd_fdp_take_events(s, 3 * sec, ev, 8), 1);
	assert_int_equal(ev[0].type, SSD_FDP_EVENT_TIME_LIMIT);
	assert_int_equal(ev[0].ruh, 2);
	assert_int_equal(ev[0].rg, 0);
	assert_int_equal(ev[0].at_ns, 3 * sec);
	assert_int_equal(ssd_fdp_take_events(s, 3 * sec, ev, 8), 0);
	ssd_fdp_ruh_status(s, 2, 0, 3 * sec, &avail, &left);
	assert_int_equal(avail, 64);
	/* The data stays where it was: the closed unit is an ordinary GC candidate. */
	assert_int_equal(ssd_fdp_owner(s, 21), 2);
	assert_consistent(s);
	ssd_destroy(s);
}

/*
 * The isolation invariant: after any mix of placed writes, trims and updates, on a drive kept
 * full, a persistently isolated handle's data is only ever in its own reclaim units, and an
 * initially isolated handle's in its own or in the shared GC unit. Checked against a shadow of
 * which handle wrote each page last, and by ssd_check's own walk of every page.
 */
static struct ssd_params iso_params(enum gc_policy policy, uint32_t nrg, uint32_t planes,
				    uint64_t seed, double op_pcent)
{
	struct ssd_params p = fdp_params();
	if (op_pcent > 0)
		p.op_pcent = op_pcent;
	p.gc_policy = policy;
	p.fdp_nrg = nrg;
	p.planes_per_lun = planes;
	p.seed = seed;
	return p;
}

static void run_isolation_on(const struct ssd_params *p)
{
	uint64_t seed = p->seed;
	uint32_t nrg = p->fdp_nrg;
	struct ssd *s = make(p);
	uint64_t logical = ssd_logical_pages(s), rng = seed * 7919 + 1, now = 0;
	int8_t *shadow = malloc(logical);
	assert_non_null(shadow);
	memset(shadow, -1, logical);

	/* A full drive first: every page written once, the handles taking turns. */
	for (uint64_t lpn = 0; lpn < logical; lpn++) {
		uint32_t h = (uint32_t)(lpn / 37 % 4);
		now = ssd_write_placed(s, lpn, 1, h, (uint32_t)(lpn % nrg), false, now, NULL);
		shadow[lpn] = (int8_t)h;
	}
	assert_consistent(s);
	for (int op = 0; op < 40000; op++) {
		uint64_t r = xorshift(&rng);
		uint32_t n = 1 + (uint32_t)(r >> 60) % 4, h = (uint32_t)(r >> 20) % 4;
		uint32_t rg = (uint32_t)(r >> 30) % nrg;
		/* Handle 0 rewrites the first eighth (hot), the others anywhere. */
		uint64_t span = h == 0 ? logical / 8 : logical;
		uint64_t lpn = (r >> 8) % (span - n + 1);
		now += 2000;
		if (r % 20 < 16) {
			ssd_write_placed(s, lpn, n, h, rg, false, now, NULL);
			memset(shadow + lpn, (int8_t)h, n);
		} else if (r % 20 < 18) {
			ssd_trim(s, lpn, n, now, NULL);
			memset(shadow + lpn, -1, n);
		} else if (r % 20 < 19) {
			ssd_fdp_update(s, h, rg, now);
		} else {
			ssd_read(s, lpn, n, now, NULL);
		}
		if (op % 4000 == 3999)
			assert_consistent(s);
	}
	assert_consistent(s);
	for (uint64_t lpn = 0; lpn < logical; lpn++) {
		int owner = ssd_fdp_owner(s, lpn), h = shadow[lpn];
		bool ok = h < 0   ? owner == -1
			  : h < 2 ? owner == h
				  : owner == h || owner == SSD_FDP_SHARED;
		if (!ok)
			fail_msg("lpn %llu written by handle %d sits in a unit of %d",
				 (unsigned long long)lpn, h, owner);
	}

	struct ssd_counters c;
	struct ssd_fdp_counters sum = {0}, one;
	ssd_get_counters(s, &c);
	for (uint32_t h = 0; h < 4; h++) {
		ssd_fdp_handle_counters(s, h, &one);
		sum.host_pages += one.host_pages;
		sum.nand_pages += one.nand_pages;
		sum.gc_pages += one.gc_pages;
		assert_int_equal(one.nand_pages, one.host_pages + one.gc_pages);
	}
	assert_int_equal(sum.host_pages, c.host_pages_written);
	/* The device also programs translation pages back (mapping cache): no handle's. */
	assert_int_equal(sum.nand_pages + c.map_pages_written, c.nand_pages_written);
	if (p->map_cache_bytes)
		assert_true(c.map_misses > 0 && c.map_pages_written > 0);
	if (p->read_retry_pcent > 0)
		assert_true(c.read_retries > 0);
	assert_int_equal(sum.gc_pages, c.gc_pages_moved);
	assert_true(c.gc_runs > 0);
	assert_int_equal(c.erases, c.gc_runs);
	free(shadow);
	ssd_destroy(s);
}

static void run_isolation(enum gc_policy policy, uint32_t nrg, uint32_t planes, uint64_t seed,
			  double op_pcent)
{
	struct ssd_params p = iso_params(policy, nrg, planes, seed, op_pcent);
	run_isolation_on(&p);
}

static void test_isolation_greedy(void **state)
{
	(void)state;
	run_isolation(GC_GREEDY, 1, 1, 1, 0);
	run_isolation(GC_GREEDY, 2, 2, 2, 0);
}

static void test_isolation_other_policies(void **state)
{
	(void)state;
	run_isolation(GC_COST_BENEFIT, 1, 1, 3, 0);
	run_isolation(GC_RANDOM, 2, 1, 4, 0);
	run_isolation(GC_FIFO, 1, 2, 5, 0);
	run_isolation(GC_DCHOICE, 4, 1, 6, 0);
}

/*
 * The same with the model's other pieces on: a mapping cache far smaller than the table,
 * firmware cores, a host link, read retries, NAND pages of two mapping pages, idle-time GC
 * after 1 us of idleness.
 */
static void test_isolation_model_pieces(void **state)
{
	(void)state;
	struct ssd_params p = iso_params(GC_GREEDY, 2, 2, 10, 0);
	p.map_cache_bytes = 8 << 10; /* 2 of the table's 4 translation pages */
	p.fw_cores = 2;
	p.fw_core_ns = 3000;
	p.link_gen = 3;
	p.read_retry_pcent = 10;
	p.read_retry_ns = 50000;
	p.pages_per_nand_page = 2;
	p.bg_idle_ns = 1000;
	run_isolation_on(&p);
}

/* The least whole op_pcent ssd_create accepts with nrg reclaim groups. */
static double least_op(uint32_t nrg)
{
	struct ssd_params p = fdp_params();
	p.fdp_nrg = nrg;
	char err[256];
	for (p.op_pcent = 1; p.op_pcent < 25; p.op_pcent++) {
		struct ssd *s = ssd_create(&p, err, sizeof(err));
		if (s) {
			ssd_destroy(s);
			return p.op_pcent;
		}
		/* refused for its spare area only */
		assert_non_null(strstr(err, "spare reclaim units"));
	}
	fail_msg("fdp_params() should work below op_pcent=25");
	return 0;
}

/*
 * The same on the least spare area FDP accepts (the write points, the GC reserve and one RU to
 * gain from, nothing more): a full drive with every handle writing still never fails a write.
 */
static void test_isolation_least_spare(void **state)
{
	(void)state;
	double op1 = least_op(1), op2 = least_op(2);
	print_message("least op_pcent accepted: %g with one group, %g with two\n", op1, op2);
	run_isolation(GC_GREEDY, 1, 1, 7, op1);
	run_isolation(GC_COST_BENEFIT, 2, 1, 8, op2);
	run_isolation(GC_RANDOM, 2, 1, 9, op2);
}

/*
 * Every handle writes the whole drive over, full all the time, all of it aimed at reclaim
 * group 0 (which cannot hold it) or spread over both groups. Aimed at group 0, writes spill
 * into group 1 and nothing fails; GC does not copy without end in the overfilled group: the
 * WAF stays within a small factor of the same writes spread evenly, not hundreds.
 */
static double full_drive_writes(bool aim_at_group_0)
{
	struct ssd_params p = fdp_params();
	p.fdp_nrg = 2;
	struct ssd *s = make(&p);
	uint64_t logical = ssd_logical_pages(s), rng = 5, now = 0;
	for (int pass = 0; pass < 4; pass++) {
		for (uint64_t i = 0; i < logical; i++) {
			uint64_t lpn = pass % 2 ? xorshift(&rng) % logical : i;
			uint32_t rg = aim_at_group_0 ? 0 : (uint32_t)(lpn % 2);
			now = ssd_write_placed(s, lpn, 1, (uint32_t)(xorshift(&rng) % 4), rg, false,
					       now, NULL);
		}
	}
	struct ssd_fdp_counters g0, g1;
	ssd_fdp_group_counters(s, 0, &g0);
	ssd_fdp_group_counters(s, 1, &g1);
	if (aim_at_group_0)
		assert_true(g1.host_pages > 0);
	assert_int_equal(g0.valid_pages + g1.valid_pages, logical);
	struct ssd_counters c;
	ssd_get_counters(s, &c);
	assert_consistent(s);
	ssd_destroy(s);
	return c.waf;
}

static void test_full_drive_every_handle(void **state)
{
	(void)state;
	double aimed = full_drive_writes(true), spread = full_drive_writes(false);
	print_message("full drive, every handle: WAF %.2f aimed at group 0, %.2f spread\n", aimed,
		      spread);
	assert_true(aimed < 3 * spread);
}

/*
 * Hot random overwrites of a fifth of the space on handle 0, a cold sequential log over the
 * rest on handle 1: apart, the log never needs GC (WAF ~1) and the device WAF falls below the
 * same writes without placement.
 */
static double hot_cold_waf(bool fdp, double *cold_waf)
{
	struct ssd_params p = fdp_params();
	p.blocks_per_plane = 256;
	p.pages_per_block = 32;
	p.op_pcent = 15;
	p.fdp = fdp;
	p.fdp_nruh = 2;
	snprintf(p.fdp_initially_isolated, sizeof(p.fdp_initially_isolated), "none");
	struct ssd *s = make(&p);
	uint64_t logical = ssd_logical_pages(s), hot = logical / 5, rng = 11, now = 0, next = hot;
	for (uint64_t lpn = 0; lpn < logical; lpn++)
		now = ssd_write_placed(s, lpn, 1, lpn < hot ? 0 : 1, 0, false, now, NULL);
	struct ssd_counters before, after;
	struct ssd_fdp_counters cold_before, cold_after;
	for (int phase = 0; phase < 2; phase++) {
		ssd_get_counters(s, &before);
		ssd_fdp_handle_counters(s, 1, &cold_before);
		for (uint64_t i = 0; i < 6 * logical; i++) {
			if (xorshift(&rng) % 10 < 8) {
				now = ssd_write_placed(s, xorshift(&rng) % hot, 1, 0, 0, false, now,
						       NULL);
			} else {
				now = ssd_write_placed(s, next, 1, 1, 0, false, now, NULL);
				next = next + 1 == logical ? hot : next + 1;
			}
		}
	}
	ssd_get_counters(s, &after);
	ssd_fdp_handle_counters(s, 1, &cold_after);
	*cold_waf = (double)(cold_after.nand_pages - cold_before.nand_pages) /
		    (double)(cold_after.host_pages - cold_before.host_pages);
	assert_consistent(s);
	ssd_destroy(s);
	return (double)(after.nand_pages_written - before.nand_pages_written) /
	       (double)(after.host_pages_written - before.host_pages_written);
}

static void test_hot_cold_waf(void **state)
{
	(void)state;
	double cold_on, cold_off;
	double on = hot_cold_waf(true, &cold_on), off = hot_cold_waf(false, &cold_off);
	print_message("hot/cold WAF: FDP off %.3f, on %.3f (cold handle %.3f)\n", off, on, cold_on);
	assert_true(cold_on < 1.02);
	assert_true(on < off * 0.8);
}

/*
 * Format starts FDP over (every reclaim unit free, no handle owning anything, counters at
 * zero) and the drive works as a new one (kept tables: test_ftl_open.c).
 */
static void test_format(void **state)
{
	(void)state;
	struct ssd_params p = fdp_params();
	struct ssd *s = make(&p);
	uint64_t n = ssd_logical_pages(s), rng = 7, now = 0;
	for (uint64_t i = 0; i < 3 * n; i++)
		now = ssd_write_placed(s, xorshift(&rng) % n, 1, (uint32_t)(i % 4), 0, false, now,
				       NULL);
	struct ssd_fdp_counters c;
	ssd_fdp_group_counters(s, 0, &c);
	assert_true(c.gc_pages > 0);
	assert_consistent(s);
	assert_int_equal(ssd_format(s, NULL, NULL), 0);
	assert_consistent(s);
	for (uint64_t lpn = 0; lpn < n; lpn++)
		assert_int_equal(ssd_fdp_owner(s, lpn), -1);
	for (uint32_t h = 0; h < 4; h++) {
		uint64_t avail;
		uint32_t left;
		ssd_fdp_handle_counters(s, h, &c);
		assert_int_equal(c.host_pages + c.nand_pages + c.valid_pages + c.rus_opened, 0);
		ssd_fdp_ruh_status(s, h, 0, now, &avail, &left);
		assert_int_equal(avail, 64);
	}
	for (uint64_t i = 0; i < 3 * n; i++)
		now = ssd_write_placed(s, xorshift(&rng) % n, 1, (uint32_t)(i % 4), 0, false, now,
				       NULL);
	assert_consistent(s);
	ssd_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handle_lists),
	    cmocka_unit_test(test_config_and_errors),
	    cmocka_unit_test(test_placement),
	    cmocka_unit_test(test_update_and_time_limit),
	    cmocka_unit_test(test_isolation_greedy),
	    cmocka_unit_test(test_isolation_other_policies),
	    cmocka_unit_test(test_isolation_least_spare),
	    cmocka_unit_test(test_isolation_model_pieces),
	    cmocka_unit_test(test_full_drive_every_handle),
	    cmocka_unit_test(test_hot_cold_waf),
	    cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
