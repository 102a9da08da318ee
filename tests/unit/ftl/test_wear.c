/* Wear: endurance, retirement, the read-only end of life, retries growing with wear, levelling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ftl/ftl.h"
#include "model_test.h"

/* 4 dies of 64 units of 16 pages, OP 25 %: dozens of spare units, a life in a second. */
static struct ssd_params wear_params(uint32_t endurance)
{
	struct ssd_params p;
	ssd_params_defaults(&p);
	p.channels = 2;
	p.luns_per_channel = 2;
	p.blocks_per_plane = 64;
	p.pages_per_block = 16;
	p.op_pcent = 25;
	p.write_buffer_kib = 64;
	p.controller_ns = 0;
	p.unmapped_read_ns = 1; /* tells unmapped reads apart from NAND reads */
	p.endurance = endurance;
	p.seed = 3;
	return p;
}

static struct ssd_counters counters(struct ssd *s)
{
	struct ssd_counters c;
	ssd_get_counters(s, &c);
	return c;
}

/* A shadow of which pages hold data, to check that the drive loses nothing as it wears. */
struct shadow {
	bool *written;
	uint64_t logical, rng, now;
};

/*
 * Random writes (1-8 pages), trims and reads until the drive turns read-only (or `max_ops`),
 * with the full check every few hundred operations. Checks on the way that the spare only
 * falls, the wear only rises, and the counters agree.
 */
static uint64_t wear_out(struct ssd *s, struct shadow *sh, uint64_t max_ops)
{
	struct ssd_counters last = counters(s);
	uint64_t op = 0;
	for (; op < max_ops && !ssd_read_only(s); op++) {
		uint64_t r = xorshift(&sh->rng);
		uint32_t n = 1 + (uint32_t)(r >> 60) % 8;
		uint64_t lpn = (r >> 8) % (sh->logical - n + 1);
		/* Now and then an idle moment: background GC and SLC folding run. */
		sh->now += op % 1024 == 1023 ? 50000000 : 1000;
		if (r % 10 < 8) {
			ssd_write(s, lpn, n, false, sh->now, NULL);
			for (uint32_t i = 0; i < n; i++)
				sh->written[lpn + i] = true;
		} else if (r % 10 < 9) {
			ssd_trim(s, lpn, n, sh->now, NULL);
			for (uint32_t i = 0; i < n; i++)
				sh->written[lpn + i] = false;
		} else {
			assert_true(ssd_read(s, lpn, n, sh->now, NULL) >= sh->now);
		}
		if (op % 512 == 511) {
			assert_consistent(s);
			struct ssd_counters c = counters(s);
			assert_true(c.retired_blocks >= last.retired_blocks);
			assert_true(c.avail_spare_pcent <= last.avail_spare_pcent);
			assert_true(c.percent_used >= last.percent_used);
			assert_int_equal(c.retired_blocks + c.spare_blocks,
					 last.retired_blocks + last.spare_blocks);
			last = c;
		}
	}
	assert_consistent(s);
	return op;
}

static void assert_shadow(struct ssd *s, const struct shadow *sh)
{
	for (uint64_t lpn = 0; lpn < sh->logical; lpn++) {
		bool mapped = ssd_read(s, lpn, 1, sh->now, NULL) != sh->now + 1;
		if (mapped != sh->written[lpn])
			fail_msg("lpn %llu: mapped %d, shadow %d", (unsigned long long)lpn, mapped,
				 sh->written[lpn]);
	}
}

static void wear_to_end(enum wear_levelling policy, enum gc_policy gc, bool pieces)
{
	struct ssd_params p = wear_params(30);
	p.wear_levelling = policy;
	p.gc_policy = gc;
	if (pieces) {
		/* SLC units fold and wear like any other; idle time folds and collects. */
		p.slc_static_bytes = 64 * 1024;
		p.slc_dynamic_bytes = 256 * 1024;
		p.map_cache_bytes = 8192;
		p.read_retry_pcent = 1;
		p.read_retry_worn_pcent = 30;
		p.read_retry_ns = 50000;
	}
	struct ssd *s = make_ssd(&p);
	struct shadow sh = {.logical = ssd_logical_pages(s), .rng = 0xfeed + policy + gc};
	sh.written = calloc(sh.logical, sizeof(*sh.written));
	assert_non_null(sh.written);
	struct ssd_counters fresh = counters(s);
	assert_int_equal(fresh.avail_spare_pcent, 100);
	assert_true(fresh.spare_blocks > 20);
	assert_false(fresh.read_only);

	uint64_t ops = wear_out(s, &sh, 5000000);
	struct ssd_counters end = counters(s);
	if (!end.read_only)
		fail_msg("still writable after %llu operations, %llu of %llu blocks retired",
			 (unsigned long long)ops, (unsigned long long)end.retired_blocks,
			 (unsigned long long)(end.retired_blocks + end.spare_blocks));
	assert_int_equal(end.avail_spare_pcent, 0);
	/* It wore out roughly at its endurance, having lost all its spare. */
	assert_int_equal(end.retired_blocks, fresh.spare_blocks);
	assert_true(end.percent_used > 60 && end.percent_used < 140);
	assert_shadow(s, &sh);
	if (pieces)
		assert_true(end.slc_pages_folded > 0 && end.map_misses > 0 && end.read_retries > 0);

	/* Reads are still served; a write that comes anyway changes nothing about the wear. */
	assert_true(ssd_read(s, 0, 8, sh.now, NULL) >= sh.now);
	for (int i = 0; i < 20000; i++) {
		uint64_t lpn = xorshift(&sh.rng) % sh.logical;
		ssd_write(s, lpn, 1, false, sh.now += 1000, NULL);
		sh.written[lpn] = true;
	}
	assert_consistent(s);
	assert_int_equal(counters(s).retired_blocks, end.retired_blocks);
	assert_shadow(s, &sh);
	free(sh.written);
	ssd_destroy(s);
}

static void test_wear_to_read_only(void **state)
{
	(void)state;
	wear_to_end(WEAR_LEVELLING_NONE, GC_GREEDY, false);
	wear_to_end(WEAR_LEVELLING_DYNAMIC, GC_GREEDY, false);
	wear_to_end(WEAR_LEVELLING_STATIC, GC_GREEDY, false);
	wear_to_end(WEAR_LEVELLING_STATIC, GC_COST_BENEFIT, false);
	wear_to_end(WEAR_LEVELLING_DYNAMIC, GC_FIFO, false);
	wear_to_end(WEAR_LEVELLING_STATIC, GC_GREEDY, true);
}

/* Fills the drive, then writes `passes` of the logical space at random over its first pages. */
static void skewed_writes(struct ssd *s, double hot_share, double passes, uint64_t *now)
{
	uint64_t logical = ssd_logical_pages(s), rng = 77, hot = (uint64_t)(logical * hot_share);
	for (uint64_t lpn = 0; lpn < logical; lpn += 4)
		*now = ssd_write(s, lpn, lpn + 4 <= logical ? 4 : 1, false, *now, NULL);
	for (uint64_t i = 0; i < (uint64_t)(passes * logical); i++)
		*now = ssd_write(s, xorshift(&rng) % hot, 1, false, *now, NULL);
}

/* Without wear levelling, blocks of cold data never wear; static levelling spreads the wear. */
static void test_wear_levelling_spread(void **state)
{
	(void)state;
	uint64_t spread[3], min[3];
	double waf[3];
	for (int policy = WEAR_LEVELLING_NONE; policy <= WEAR_LEVELLING_STATIC; policy++) {
		struct ssd_params p = wear_params(0);
		p.wear_levelling = (uint32_t)policy;
		p.wear_gap = 8;
		struct ssd *s = make_ssd(&p);
		uint64_t now = 0;
		skewed_writes(s, 0.2, 40, &now);
		assert_consistent(s);
		struct ssd_counters c = counters(s);
		spread[policy] = c.erase_max - c.erase_min;
		min[policy] = c.erase_min;
		waf[policy] = c.waf;
		assert_int_equal(c.cold_moves > 0, policy == WEAR_LEVELLING_STATIC);
		/* The per-unit counts are the ones the counters sum up. */
		uint32_t *erases = calloc(ssd_units(s), sizeof(*erases));
		uint64_t sum = 0;
		ssd_unit_erases(s, erases);
		for (uint64_t u = 0; u < ssd_units(s); u++)
			sum += erases[u];
		assert_int_equal(sum, c.erases);
		free(erases);
		ssd_destroy(s);
	}
	/* Cold data sits on its first blocks for good without static levelling. */
	assert_int_equal(min[WEAR_LEVELLING_NONE], 0);
	assert_true(min[WEAR_LEVELLING_STATIC] > 0);
	assert_true(spread[WEAR_LEVELLING_STATIC] * 2 < spread[WEAR_LEVELLING_NONE]);
	assert_true(spread[WEAR_LEVELLING_DYNAMIC] <= spread[WEAR_LEVELLING_NONE]);
	/* It costs writes: moving cold data is write amplification. */
	assert_true(waf[WEAR_LEVELLING_STATIC] > waf[WEAR_LEVELLING_NONE]);
}

/* With no spread every block retires at exactly `endurance` erases. */
static void test_endurance_exact_without_spread(void **state)
{
	(void)state;
	struct ssd_params p = wear_params(12);
	p.endurance_spread_pcent = 0;
	struct ssd *s = make_ssd(&p);
	struct shadow sh = {.logical = ssd_logical_pages(s), .rng = 5};
	sh.written = calloc(sh.logical, sizeof(*sh.written));
	while (counters(s).retired_blocks == 0)
		wear_out(s, &sh, 256);
	assert_int_equal(counters(s).erase_max, 12);
	wear_out(s, &sh, 10000000);
	assert_true(counters(s).read_only);
	assert_int_equal(counters(s).erase_max, 12);
	free(sh.written);
	ssd_destroy(s);
}

/* The same seed wears the same way; another seed draws other endurances. */
static void test_endurance_seeded(void **state)
{
	(void)state;
	uint64_t ops[3];
	const uint64_t seeds[3] = {3, 3, 4};
	for (int i = 0; i < 3; i++) {
		struct ssd_params p = wear_params(30);
		p.endurance_spread_pcent = 20;
		p.seed = seeds[i];
		struct ssd *s = make_ssd(&p);
		struct shadow sh = {.logical = ssd_logical_pages(s), .rng = 11};
		sh.written = calloc(sh.logical, sizeof(*sh.written));
		ops[i] = wear_out(s, &sh, 5000000);
		assert_true(ssd_read_only(s));
		free(sh.written);
		ssd_destroy(s);
	}
	assert_int_equal(ops[0], ops[1]);
	assert_int_not_equal(ops[0], ops[2]);
}

/* Reads of fresh blocks need no retries; the share grows to read_retry_worn_pcent with wear. */
static void test_read_retries_grow_with_wear(void **state)
{
	(void)state;
	struct ssd_params p = wear_params(40);
	p.endurance_spread_pcent = 0;
	p.read_retry_worn_pcent = 100;
	p.read_retry_ns = 1000000;
	struct ssd *s = make_ssd(&p);
	uint64_t logical = ssd_logical_pages(s), now = 0;
	for (uint64_t lpn = 0; lpn < logical; lpn++)
		now = ssd_write(s, lpn, 1, false, now, NULL);
	uint64_t fresh_done = ssd_read(s, 0, 1, now, NULL);
	assert_int_equal(counters(s).read_retries, 0);
	assert_true(fresh_done - now < p.read_retry_ns);

	/* Wear every block to about half its life, then read everything once. */
	struct shadow sh = {.logical = logical, .rng = 9, .now = now};
	sh.written = calloc(logical, sizeof(*sh.written));
	while (counters(s).erase_mean < 20)
		wear_out(s, &sh, 1000);
	struct ssd_counters before = counters(s);
	for (uint64_t lpn = 0; lpn < logical; lpn++)
		ssd_read(s, lpn, 1, sh.now, NULL);
	struct ssd_counters after = counters(s);
	double share = (double)(after.read_retries - before.read_retries) /
		       (double)(after.host_pages_read - before.host_pages_read);
	/* Unmapped pages (trimmed) are not read from NAND, hence a bound below the mean wear. */
	assert_true(share > 0.2 && share < 0.7);
	free(sh.written);
	ssd_destroy(s);
}

static void test_wear_off_and_errors(void **state)
{
	(void)state;
	struct ssd_params p = wear_params(0);
	struct ssd *s = make_ssd(&p);
	struct ssd_counters c = counters(s);
	assert_int_equal(c.avail_spare_pcent, 100);
	assert_true(c.percent_used == 0);
	assert_false(c.read_only);
	ssd_destroy(s);

	/* Endurance with no spare beyond what the FTL needs to run is refused, by name. */
	p = wear_params(100);
	p.blocks_per_plane = 32;
	p.op_pcent = 14.3; /* 28 of 32 units per die hold data, 4 keep the FTL running */
	char err[256] = "";
	assert_null(ssd_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "endurance"));

	/* Reclaim units (FDP) neither retire nor level yet: refused, not silently ignored. */
	p = wear_params(100);
	p.fdp = true;
	assert_null(ssd_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "fdp"));
	p = wear_params(0);
	p.fdp = true;
	p.wear_levelling = WEAR_LEVELLING_DYNAMIC;
	assert_null(ssd_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "fdp"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wear_to_read_only),
	    cmocka_unit_test(test_wear_levelling_spread),
	    cmocka_unit_test(test_endurance_exact_without_spread),
	    cmocka_unit_test(test_endurance_seeded),
	    cmocka_unit_test(test_read_retries_grow_with_wear),
	    cmocka_unit_test(test_wear_off_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
