/*
 * The model's newer pieces against hand-worked schedules: firmware cores, the host link, read
 * retry, the SLC cache and the mapping cache; and the latency breakdown adding up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flash/front.h"
#include "ftl/ftl.h"
#include "model_test.h"

/* One die, one channel, no transfer cost, 4 KiB pages: tR = 50, tPROG = 500, tBERS = 1000. */
static struct ssd_params one_die(void)
{
	struct ssd_params p;
	ssd_params_defaults(&p);
	p.channels = 1;
	p.luns_per_channel = 1;
	p.blocks_per_plane = 64;
	p.pages_per_block = 16;
	p.op_pcent = 30;
	p.page_read_ns = 50;
	p.page_program_ns = 500;
	p.block_erase_ns = 1000;
	p.channel_mbps = 0;
	p.controller_ns = 0;
	p.write_buffer_kib = 0;
	p.unmapped_read_ns = 1;
	return p;
}

/* Two cores, 100 ns of core time and 10 of latency a command: a third command at once waits. */
static void test_firmware_cores(void **state)
{
	(void)state;
	struct ssd_params p = one_die();
	p.controller_ns = 10;
	p.fw_core_ns = 100;
	p.fw_cores = 2;
	char err[256];
	struct front *fr = front_create(&p, 4096, err, sizeof(err));
	assert_non_null(fr);
	assert_int_equal(front_command(fr, 0, NULL), 110);
	assert_int_equal(front_command(fr, 0, NULL), 110);
	struct lat_parts parts = {{0}};
	assert_int_equal(front_command(fr, 0, &parts), 210);
	assert_int_equal(parts.ns[LAT_FW_WAIT], 100);
	assert_int_equal(parts.ns[LAT_CONTROLLER], 110);
	assert_int_equal(front_command(fr, 500, NULL), 610); /* idle cores again */
	front_destroy(fr);

	p.fw_cores = 0; /* no core model: the latency only */
	fr = front_create(&p, 4096, err, sizeof(err));
	for (int i = 0; i < 5; i++)
		assert_int_equal(front_command(fr, 0, NULL), 10);
	front_destroy(fr);
}

/*
 * PCIe 3.0 x4 at efficiency 0.5: 4 x 8 GT/s x 128/130 / 8 x 0.5 = 1969.2 MB/s, so a 4 KiB page
 * takes 2080 ns. The two directions do not share time.
 */
static void test_host_link(void **state)
{
	(void)state;
	struct ssd_params p = one_die();
	p.link_gen = 3;
	p.link_lanes = 4;
	p.link_efficiency = 0.5;
	char err[256];
	struct front *fr = front_create(&p, 4096, err, sizeof(err));
	assert_non_null(fr);
	assert_true(front_has_link(fr));
	assert_float_equal(front_link_bytes_per_s(fr), 1969230769.2, 1);
	assert_int_equal(front_link(fr, LINK_TO_HOST, 0, NULL), 2080);
	assert_int_equal(front_link(fr, LINK_TO_HOST, 0, NULL), 4160);
	assert_int_equal(front_link(fr, LINK_TO_DRIVE, 0, NULL), 2080);
	/* A page ready earlier than one already booked takes the gap before it. */
	assert_int_equal(front_link(fr, LINK_TO_DRIVE, 10000, NULL), 12080);
	assert_int_equal(front_link(fr, LINK_TO_DRIVE, 3000, NULL), 5080);
	front_destroy(fr);

	/* Written data at its own efficiency: 0.25 takes twice as long. */
	p.link_write_efficiency = 0.25;
	fr = front_create(&p, 4096, err, sizeof(err));
	assert_int_equal(front_link(fr, LINK_TO_DRIVE, 0, NULL), 4160);
	assert_int_equal(front_link(fr, LINK_TO_HOST, 0, NULL), 2080);
	front_destroy(fr);

	/* In the FTL: a read's data crosses the link after the die; sequential reads of many
	 * pages over 4 dies are held to the link's rate. */
	p = one_die();
	p.luns_per_channel = 4;
	p.link_gen = 1;
	p.link_efficiency = 0.9;
	p.link_lanes = 1; /* 250 MB/s x 0.9: 18204 ns a page */
	struct ssd *s = make_ssd(&p);
	ssd_write(s, 0, 64, false, 0, NULL);
	uint64_t t = 10000000; /* well after the writes' 64 pages crossed the link */
	struct lat_parts parts = {{0}};
	assert_int_equal(ssd_read(s, 0, 1, t, &parts), t + 50 + 18204);
	assert_int_equal(parts.ns[LAT_LINK], 18204);
	uint64_t done = ssd_read(s, 0, 64, 2 * t, NULL);
	assert_true(done - 2 * t >= 64 * 18204 && done - 2 * t < 64 * 18204 + 1000);
	ssd_destroy(s);
}

/* read_retry_pcent = 100: every NAND read pays read_retry_ns more, unmapped reads do not. */
static void test_read_retry(void **state)
{
	(void)state;
	struct ssd_params p = one_die();
	p.read_retry_pcent = 100;
	p.read_retry_ns = 700;
	struct ssd *s = make_ssd(&p);
	uint64_t programmed = ssd_write(s, 0, 1, false, 0, NULL);
	struct lat_parts parts = {{0}};
	assert_int_equal(ssd_read(s, 0, 1, programmed, &parts), programmed + 50 + 700);
	assert_int_equal(parts.ns[LAT_READ_RETRY], 700);
	assert_int_equal(ssd_read(s, 9, 1, programmed, NULL), programmed + 1);
	struct ssd_counters c;
	ssd_get_counters(s, &c);
	assert_int_equal(c.read_retries, 1);
	ssd_destroy(s);

	p.read_retry_pcent = 25; /* about a quarter of many reads */
	s = make_ssd(&p);
	uint64_t now = ssd_write(s, 0, 1, false, 0, NULL);
	for (int i = 0; i < 4000; i++)
		now = ssd_read(s, 0, 1, now + 1000, NULL);
	ssd_get_counters(s, &c);
	assert_true(c.read_retries > 800 && c.read_retries < 1200);
	ssd_destroy(s);
}

/*
 * A static SLC cache of 2 units (of 16 pages): the first 32 pages program in SLC time (100),
 * then the cache is full and writes go native (500). Idle time folds the cache: its pages are
 * written again (WAF > 1) and new writes are SLC again.
 */
static void test_slc_cache(void **state)
{
	(void)state;
	struct ssd_params p = one_die();
	p.slc_static_bytes = 2 * 16 * 4096;
	p.slc_program_ns = 100;
	p.slc_read_ns = 20;
	struct ssd *s = make_ssd(&p);
	struct ssd_counters c;
	ssd_get_counters(s, &c);
	assert_int_equal(c.slc_cache_bytes, 2 * 16 * 4096);
	uint64_t now = 0;
	for (int i = 0; i < 32; i++) {
		uint64_t done = ssd_write(s, i, 1, false, now, NULL);
		assert_int_equal(done - now, 100);
		now = done;
	}
	ssd_get_counters(s, &c);
	assert_int_equal(c.slc_pages_written, 32);
	assert_int_equal(c.slc_used_bytes, 2 * 16 * 4096);
	/* Reads of SLC pages take slc_read_ns. */
	assert_int_equal(ssd_read(s, 3, 1, now, NULL), now + 20);
	now += 20;
	/* The cliff: native programs. */
	uint64_t done = ssd_write(s, 32, 1, false, now, NULL);
	assert_int_equal(done - now, 500);
	now = done;
	assert_int_equal(ssd_read(s, 32, 1, now, NULL), now + 50);
	assert_consistent(s);
	/* Idle: a command a second later finds both SLC units folded. */
	now += 1000000000;
	assert_int_equal(ssd_read(s, 3, 1, now, NULL) - now, 50); /* native now */
	ssd_get_counters(s, &c);
	assert_int_equal(c.slc_used_bytes, 0);
	assert_int_equal(c.slc_pages_folded, 32);
	assert_true(c.waf > 1.9);
	assert_consistent(s);
	/* The host's open native unit is filled first (15 more pages), then SLC again. */
	for (int i = 0; i < 15; i++)
		now = ssd_write(s, 40 + i, 1, false, now, NULL);
	assert_int_equal(ssd_write(s, 60, 1, false, now, NULL) - now, 100);
	ssd_destroy(s);
}

/* The dynamic part is at most the unwritten capacity / cell_bits: it shrinks as data lands. */
static void test_slc_dynamic(void **state)
{
	(void)state;
	struct ssd_params p = one_die();
	p.slc_dynamic_bytes = 1ull << 40; /* no cap but the free space */
	p.cell_bits = 3;
	struct ssd *s = make_ssd(&p);
	uint64_t logical = ssd_logical_pages(s), unit_bytes = 16 * 4096;
	struct ssd_counters c;
	ssd_get_counters(s, &c);
	assert_int_equal(c.slc_cache_bytes, logical * 4096 / 3 / unit_bytes * unit_bytes);
	uint64_t now = 0;
	for (uint64_t lpn = 0; lpn < logical / 2; lpn++)
		now = ssd_write(s, lpn, 1, false, now, NULL);
	ssd_get_counters(s, &c);
	assert_int_equal(c.slc_cache_bytes,
			 (logical - logical / 2) * 4096 / 3 / unit_bytes * unit_bytes);
	ssd_destroy(s);
}

/* slc_when_full=fold: a full cache folds a unit (the host waits) and writes stay SLC. */
static void test_slc_fold_when_full(void **state)
{
	(void)state;
	struct ssd_params p = one_die();
	p.slc_static_bytes = 16 * 4096; /* one unit */
	p.slc_program_ns = 100;
	p.slc_when_full = SLC_FULL_FOLD;
	struct ssd *s = make_ssd(&p);
	uint64_t now = 0;
	for (int i = 0; i < 16; i++)
		now = ssd_write(s, i, 1, false, now, NULL);
	/* Folding the full unit: 16 reads (50 each, native read of SLC pages = slc_read_ns 0 ->
	 * page_read_ns) gathered into 16 one-page programs of 500, and an erase of 1000; then
	 * the host's page in SLC. */
	uint64_t done = ssd_write(s, 16, 1, false, now, NULL);
	assert_true(done - now >= 16 * 500 + 1000 + 100);
	struct ssd_counters c;
	ssd_get_counters(s, &c);
	assert_int_equal(c.slc_pages_folded, 16);
	assert_int_equal(c.slc_pages_written, 17);
	assert_consistent(s);
	ssd_destroy(s);
}

/*
 * A mapping cache of one translation page (4096 / 4 = 1024 entries) on one die: a miss reads
 * the translation page (tR, 50) before the data; evicting a page that writes changed programs
 * it back first (500, a NAND write).
 */
static void test_map_cache(void **state)
{
	(void)state;
	struct ssd_params p = one_die();
	p.blocks_per_plane = 512; /* several translation pages of logical space */
	p.map_cache_bytes = 4096;
	struct ssd *s = make_ssd(&p);
	assert_true(ssd_logical_pages(s) > 2048);
	/* Translation page 0 is read [0, 50), the data programmed [50, 550). */
	assert_int_equal(ssd_write(s, 0, 1, true, 0, NULL), 550);
	/* Page 0, dirty, is written back [1000, 1500), page 1 read [1500, 1550), data after. */
	assert_int_equal(ssd_write(s, 1500, 1, true, 1000, NULL), 2050);
	struct ssd_counters c;
	ssd_get_counters(s, &c);
	assert_int_equal(c.map_pages_written, 1);
	assert_int_equal(c.nand_pages_written, 3);
	/* A hit: only the data. */
	struct lat_parts parts = {{0}};
	assert_int_equal(ssd_read(s, 1500, 1, 10000, &parts), 10050);
	assert_int_equal(parts.ns[LAT_MAP_MISS], 0);
	/* A miss that evicts dirty page 1: write-back, translation read, data read. */
	parts = (struct lat_parts){{0}};
	assert_int_equal(ssd_read(s, 0, 1, 20000, &parts), 20000 + 500 + 50 + 50);
	assert_int_equal(parts.ns[LAT_MAP_MISS], 550);
	assert_int_equal(ssd_read(s, 1, 1, 30000, NULL), 30001); /* unmapped, page 0 cached */
	ssd_get_counters(s, &c);
	assert_int_equal(c.map_misses, 3);
	assert_int_equal(c.map_hits, 1);
	assert_int_equal(c.map_pages_written, 2);
	ssd_destroy(s);
}

/* controller_read_ns: a read's data path latency, after the NAND, before the link. */
static void test_read_path_latency(void **state)
{
	(void)state;
	struct ssd_params p = one_die();
	p.controller_ns = 100;
	p.controller_read_ns = 900;
	struct ssd *s = make_ssd(&p);
	uint64_t programmed = ssd_write(s, 0, 1, false, 0, NULL);
	struct lat_parts parts = {{0}};
	assert_int_equal(ssd_read(s, 0, 1, programmed, &parts), programmed + 100 + 50 + 900);
	assert_int_equal(parts.ns[LAT_CONTROLLER], 1000);
	assert_int_equal(ssd_write(s, 1, 1, false, 10000, NULL), 10000 + 100 + 500);
	ssd_destroy(s);
}

/* in_place_writes: overwrites program the page where it is; random overwrites cost no GC. */
static void test_in_place_writes(void **state)
{
	(void)state;
	struct ssd_params p = one_die();
	p.in_place_writes = true;
	p.op_pcent = 10;
	struct ssd *s = make_ssd(&p);
	uint64_t logical = ssd_logical_pages(s), rng = 5, now = 0;
	for (uint64_t lpn = 0; lpn < logical; lpn++)
		now = ssd_write(s, lpn, 1, false, now, NULL);
	for (uint64_t i = 0; i < 5 * logical; i++)
		now = ssd_write(s, xorshift(&rng) % logical, 1, false, now, NULL);
	struct ssd_counters c;
	ssd_get_counters(s, &c);
	assert_int_equal(c.gc_runs, 0);
	assert_int_equal(c.nand_pages_written, c.host_pages_written);
	assert_consistent(s);
	ssd_destroy(s);
}

/*
 * Every piece on at once, random writes, trims, reads and flushes over a small device many
 * times its size: the FTL stays consistent, and each command's parts add up to its latency.
 */
static void test_everything_on(void **state)
{
	(void)state;
	struct ssd_params p;
	ssd_params_defaults(&p);
	p.channels = 2;
	p.luns_per_channel = 2;
	p.planes_per_lun = 2;
	p.pages_per_nand_page = 2;
	p.blocks_per_plane = 32;
	p.pages_per_block = 16;
	p.op_pcent = 25;
	p.write_buffer_kib = 64;
	p.read_suspend = true;
	p.suspend_max = 3;
	p.fw_cores = 2;
	p.fw_core_ns = 3000;
	p.controller_read_ns = 2000;
	p.link_gen = 3;
	p.read_retry_pcent = 10;
	p.read_retry_ns = 30000;
	p.slc_static_bytes = 4 * 2 * 16 * 4096;
	p.slc_dynamic_bytes = 1ull << 30;
	p.slc_program_ns = 50000;
	p.slc_read_ns = 20000;
	p.map_cache_bytes = 2 * 4096;
	for (int full = 0; full < 2; full++) {
		p.slc_when_full = full ? SLC_FULL_FOLD : SLC_FULL_DIRECT;
		struct ssd *s = make_ssd(&p);
		uint64_t logical = ssd_logical_pages(s), rng = 0x5eed + full, now = 0;
		for (int op = 0; op < 40000; op++) {
			uint64_t r = xorshift(&rng);
			uint32_t n = 1 + (uint32_t)(r >> 60) % 4;
			uint64_t lpn = (r >> 8) % (logical - n + 1);
			/* Mostly back to back, sometimes a long idle gap (folding, background GC). */
			now += r % 97 == 0 ? 50000000 : 2000;
			struct lat_parts parts = {{0}};
			uint64_t done;
			if (r % 10 < 6)
				done = ssd_write(s, lpn, n, r % 13 == 0, now, &parts);
			else if (r % 10 < 7)
				done = ssd_trim(s, lpn, n, now, &parts);
			else if (r % 10 < 9)
				done = ssd_read(s, lpn, n, now, &parts);
			else
				done = ssd_flush(s, now, &parts);
			if (lat_total(&parts) != done - now)
				fail_msg("op %d: parts add up to %llu, latency %llu", op,
					 (unsigned long long)lat_total(&parts),
					 (unsigned long long)(done - now));
			if (op % 5000 == 4999)
				assert_consistent(s);
		}
		assert_consistent(s);
		struct ssd_counters c;
		ssd_get_counters(s, &c);
		assert_true(c.slc_pages_written > 0 && c.slc_pages_folded > 0);
		assert_true(c.map_misses > 0 && c.map_pages_written > 0);
		assert_true(c.gc_runs > 0 && c.read_retries > 0);
		assert_int_equal(c.nand_pages_written,
				 c.host_pages_written + c.gc_pages_moved + c.map_pages_written);
		ssd_destroy(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_firmware_cores),  cmocka_unit_test(test_host_link),
	    cmocka_unit_test(test_read_retry),      cmocka_unit_test(test_slc_cache),
	    cmocka_unit_test(test_slc_dynamic),     cmocka_unit_test(test_slc_fold_when_full),
	    cmocka_unit_test(test_map_cache),       cmocka_unit_test(test_read_path_latency),
	    cmocka_unit_test(test_in_place_writes), cmocka_unit_test(test_everything_on),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
