/*
 * NAND timing rules against schedules worked out by hand. Geometry: 2 channels x 2 dies
 * (dies 0 and 2 share channel 0), 1 plane unless stated, 8 pages per block, 4 blocks per plane;
 * tR = 50, tPROG = 500, tBERS = 3000, one page transfer = 10 (all ns).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "flash/flash.h"

enum { T_R = 50, T_PROG = 500, T_BERS = 3000, T_X = 10, PPU = 8 };

static struct ssd_params small_params(void)
{
	struct ssd_params p;
	ssd_params_defaults(&p);
	p.channels = 2;
	p.luns_per_channel = 2;
	p.planes_per_lun = 1;
	p.blocks_per_plane = 4;
	p.pages_per_block = PPU;
	p.page_read_ns = T_R;
	p.page_program_ns = T_PROG;
	p.block_erase_ns = T_BERS;
	p.channel_mbps = 0;
	p.channel_xfer_ns = T_X;
	p.write_buffer_kib = 0;
	p.suspend_ns = 7;
	return p;
}

static struct flash *make(const struct ssd_params *p)
{
	char err[256];
	struct flash *f = flash_create(p, err, sizeof(err));
	assert_non_null(f);
	return f;
}

/* First page of die d's first unit (units_per_die = 4). */
static uint64_t page_of_die(uint32_t d, uint32_t offset)
{
	return (uint64_t)d * 4 * PPU + offset;
}

static void test_geometry(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.planes_per_lun = 2;
	struct flash *f = make(&p);
	const struct flash_geometry *g = flash_geometry(f);
	assert_int_equal(g->dies, 4);
	assert_int_equal(g->pages_per_unit, 2 * PPU);
	assert_int_equal(g->units, 16);
	assert_int_equal(g->pages, 16 * 2 * PPU);
	assert_int_equal(g->page_bytes, 4096);
	flash_destroy(f);
}

/* Dies 0 and 2 share channel 0: the second transfer waits for the first, programs overlap. */
static void test_channel_contention(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	struct flash *f = make(&p);
	assert_int_equal(flash_program(f, page_of_die(0, 0), 0, 0, NULL), T_X + T_PROG);
	assert_int_equal(flash_program(f, page_of_die(2, 0), 0, 0, NULL), 2 * T_X + T_PROG);
	/* Die 1 is on channel 1: no wait. */
	assert_int_equal(flash_program(f, page_of_die(1, 0), 0, 0, NULL), T_X + T_PROG);
	flash_destroy(f);
}

/* Two programs on one die: the second transfer overlaps the first program, then waits. */
static void test_die_contention(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	struct flash *f = make(&p);
	assert_int_equal(flash_program(f, page_of_die(0, 0), 0, 0, NULL), T_X + T_PROG);
	assert_int_equal(flash_program(f, page_of_die(0, 1), 0, 0, NULL), T_X + 2 * T_PROG);
	/* A read queues behind both programs, then crosses the channel. */
	assert_int_equal(flash_read(f, page_of_die(0, 0), 0, 0, 0, NULL),
			 T_X + 2 * T_PROG + T_R + T_X);
	/* An erase queues behind the read's sensing. */
	assert_int_equal(flash_erase(f, 1, 0, 0, NULL), T_X + 2 * T_PROG + T_R + T_BERS);
	assert_int_equal(flash_idle_at(f), T_X + 2 * T_PROG + T_R + T_BERS);
	flash_destroy(f);
}

/* A transfer booked later but ready earlier fills an idle gap of the channel. */
static void test_channel_backfill(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	struct flash *f = make(&p);
	/* Die 0: program, then a read whose transfer is booked at 10 + 500 + 50 = 560. */
	flash_program(f, page_of_die(0, 0), 0, 0, NULL);
	assert_int_equal(flash_read(f, page_of_die(0, 0), 0, 0, 0, NULL), 560 + T_X);
	/* Die 2 (same channel) senses [0, 50): [50, 60) is free although 560 is booked. */
	assert_int_equal(flash_read(f, page_of_die(2, 0), 0, 0, 0, NULL), 50 + T_X);
	/* Sensed [505, 555): [555, 565) collides with [560, 570), so it goes after it. */
	assert_int_equal(flash_read(f, page_of_die(2, 1), 505, 0, 0, NULL), 570 + T_X);
	flash_destroy(f);
}

/*
 * Read suspend: a die suspends its program once, serves the reads that queue up meanwhile, and
 * resumes when they stop; each suspend costs suspend_ns (7) to the read and the program.
 */
static void test_read_suspend(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.read_suspend = true;
	struct flash *f = make(&p);
	uint64_t programmed =
	    flash_program(f, page_of_die(0, 0), 0, 0, NULL); /* die busy [10, 510) */
	assert_int_equal(programmed, 510);
	/* A read at 100 suspends the program: sense [100 + 7, 157), transfer to 167. */
	assert_int_equal(flash_read(f, page_of_die(0, 1), 100, 0, 0, NULL), 100 + 7 + T_R + T_X);
	/* A read queued meanwhile joins the suspension: sense [157, 207), no second suspend. */
	assert_int_equal(flash_read(f, page_of_die(0, 2), 120, 0, 0, NULL), 157 + T_R + T_X);
	/* The program resumed at 207 with 410 ns to go: it ends at 617, then the erase. */
	assert_int_equal(flash_erase(f, 0, 0, 0, NULL), 617 + T_BERS);
	flash_destroy(f);

	/* Without suspend the read waits for the program. */
	p.read_suspend = false;
	f = make(&p);
	flash_program(f, page_of_die(0, 0), 0, 0, NULL);
	assert_int_equal(flash_read(f, page_of_die(0, 1), 100, 0, 0, NULL), 510 + T_R + T_X);
	flash_destroy(f);
}

/*
 * A read-only phase after writes: reads arrive back to back, each before the previous one's
 * sensing ends, so the die stays suspended and the program finishes once they stop; reads
 * after that pay no suspend (the defect: every read paid suspend_ns, forever).
 */
static void test_read_suspend_stream(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.read_suspend = true;
	struct flash *f = make(&p);
	flash_program(f, page_of_die(0, 0), 0, 0, NULL); /* [10, 510) */
	uint64_t sensed = 100 + 7 + T_R;                 /* the first read suspends */
	assert_int_equal(flash_read(f, page_of_die(0, 1), 100, 0, 0, NULL), sensed + T_X);
	for (int i = 0; i < 20; i++) {
		/* Arrives 1 ns before the previous sensing ends: served right after it. */
		assert_int_equal(flash_read(f, page_of_die(0, 1), sensed - 1, 0, 0, NULL),
				 sensed + T_R + T_X);
		sensed += T_R;
	}
	/* The reads stop at `sensed`; the program has 510 - 100 = 410 ns left. */
	uint64_t resumed_end = sensed + 410;
	assert_int_equal(flash_read(f, page_of_die(0, 1), resumed_end + 100, 0, 0, NULL),
			 resumed_end + 100 + T_R + T_X);
	flash_destroy(f);
}

/* Planes of a die sense independently (as current NAND does); only the channel is shared. */
static void test_plane_reads(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.planes_per_lun = 2;
	struct flash *f = make(&p);
	/* Pages 0 and 1 of die 0 are on planes 0 and 1: both sense [0, 50). */
	assert_int_equal(flash_read(f, 0, 0, 0, 0, NULL), T_R + T_X);
	assert_int_equal(flash_read(f, 1, 0, 0, 0, NULL), T_R + 2 * T_X);
	/* Plane 0 again: after its first read. */
	assert_int_equal(flash_read(f, 2, 0, 0, 0, NULL), 2 * T_R + T_X);
	flash_destroy(f);
}

/* After suspend_max suspends, a read waits for the program to end instead. */
static void test_read_suspend_cap(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.read_suspend = true;
	p.suspend_max = 2;
	struct flash *f = make(&p);
	flash_program(f, page_of_die(0, 0), 0, 0, NULL); /* [10, 510) */
	/* Suspend 1 at 100: sense [107, 157); the program ends 57 later, at 567. */
	assert_int_equal(flash_read(f, page_of_die(0, 1), 100, 0, 0, NULL), 157 + T_X);
	/* Suspend 2 at 200 (the die went back to the program at 157): ends at 624. */
	assert_int_equal(flash_read(f, page_of_die(0, 2), 200, 0, 0, NULL), 257 + T_X);
	/* No third suspend: the read senses after the program, [624, 674). */
	assert_int_equal(flash_read(f, page_of_die(0, 3), 300, 0, 0, NULL), 674 + T_X);
	/* An erase then waits for that read, and a read during the erase suspends it. */
	assert_int_equal(flash_erase(f, 1, 0, 0, NULL), 674 + T_BERS);
	assert_int_equal(flash_read(f, page_of_die(0, 4), 1000, 0, 0, NULL), 1000 + 7 + T_R + T_X);
	flash_destroy(f);
}

/* read_planes=die reads one plane at a time; multi shares a sense between planes reading the
 * same page of a program group (pages 0 and 1 here), not different pages. */
static void test_plane_read_modes(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.planes_per_lun = 2;
	p.read_planes = READ_PLANES_DIE;
	struct flash *f = make(&p);
	assert_int_equal(flash_read(f, 0, 0, 0, 0, NULL), T_R + T_X);
	assert_int_equal(flash_read(f, 1, 0, 0, 0, NULL), 2 * T_R + T_X);
	flash_destroy(f);

	p.read_planes = READ_PLANES_MULTI;
	f = make(&p);
	assert_int_equal(flash_read(f, 0, 0, 0, 0, NULL), T_R + T_X);
	assert_int_equal(flash_read(f, 1, 0, 0, 0, NULL), T_R + 2 * T_X);
	/* Page 3 is plane 1 of the next group: a sense of its own after the first. */
	assert_int_equal(flash_read(f, 3, 0, 0, 0, NULL), 2 * T_R + T_X);
	flash_destroy(f);
}

/*
 * NAND pages of two pages: pages 0-1 are plane 0's NAND page, 2-3 plane 1's, and 0-3 one
 * program group. A read of the other page of a sensed NAND page needs only the transfer.
 */
static void test_nand_page_of_pages(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.planes_per_lun = 2;
	p.pages_per_nand_page = 2;
	struct flash *f = make(&p);
	assert_int_equal(flash_program(f, 0, 0, 0, NULL), T_X + T_PROG);
	assert_int_equal(flash_program(f, 1, 0, 0, NULL), 2 * T_X + T_PROG);
	assert_int_equal(flash_program(f, 3, 0, 0, NULL), 3 * T_X + T_PROG);
	/* Page 4 starts the next group: after the first program. */
	assert_int_equal(flash_program(f, 4, 0, 0, NULL), 3 * T_X + 2 * T_PROG);
	uint64_t idle = 3 * T_X + 2 * T_PROG;
	assert_int_equal(flash_read(f, 0, idle, 0, 0, NULL), idle + T_R + T_X);
	assert_int_equal(flash_read(f, 1, idle, 0, 0, NULL), idle + T_R + 2 * T_X);
	/* A program overwrites the registers: page 0 is sensed again. */
	uint64_t programmed = flash_program(f, 5, idle, 0, NULL);
	assert_int_equal(flash_read(f, 0, idle, 0, 0, NULL), programmed + T_R + T_X);
	flash_destroy(f);

	struct ssd_params bad = small_params();
	bad.pages_per_nand_page = 3; /* 8 pages per block */
	char err[256] = "";
	assert_null(flash_create(&bad, err, sizeof(err)));
	assert_non_null(strstr(err, "pages_per_nand_page"));
}

/*
 * Copies into one program group read their pages first, then program once: two copies from
 * plane 0 and plane 1 into a 2-plane group cost two transfers each and a single tPROG.
 */
static void test_copy_gathers_group(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.planes_per_lun = 2;
	struct flash *f = make(&p);
	uint64_t read_done;
	/* Sources: pages 0 (plane 0) and 1 (plane 1) of unit 0; targets: 16, 17 of unit 1. */
	uint64_t end = flash_copy(f, 0, 0, 16, 0, 0, &read_done);
	assert_int_equal(read_done, T_R + T_X);
	assert_int_equal(end, T_R + 2 * T_X + T_PROG);
	end = flash_copy(f, 1, 0, 17, 0, 0, &read_done);
	/* Plane 1 sensed [0, 50) too; its transfers follow the first copy's two. */
	assert_int_equal(read_done, T_R + 3 * T_X);
	assert_int_equal(end, T_R + 4 * T_X + T_PROG);
	flash_destroy(f);
}

static void test_multi_plane_program(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.planes_per_lun = 2;
	struct flash *f = make(&p);
	/* Unit 0 of die 0: pages 0 (plane 0) and 1 (plane 1) form one multi-plane program. */
	assert_int_equal(flash_program(f, 0, 0, 0, NULL), T_X + T_PROG);
	assert_int_equal(flash_program(f, 1, 0, 0, NULL), 2 * T_X + T_PROG);
	/* Page 2 (plane 0 of the next group) needs its own program. */
	assert_int_equal(flash_program(f, 2, 0, 0, NULL), 2 * T_X + 2 * T_PROG);
	flash_destroy(f);
}

static void test_write_buffer(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.write_buffer_kib = 8; /* two 4 KiB slots */
	struct flash *f = make(&p);
	assert_int_equal(flash_buffer_pages(f), 2);
	assert_int_equal(flash_buffer_admit(f, 0), 0);
	flash_buffer_release(f, 700);
	assert_int_equal(flash_buffer_admit(f, 0), 0);
	flash_buffer_release(f, 400);
	/* Full: the next page waits for the slot that drains first. */
	assert_int_equal(flash_buffer_admit(f, 5), 400);
	flash_buffer_release(f, 900);
	assert_int_equal(flash_buffer_admit(f, 800), 800); /* the 700 slot is free by then */
	flash_buffer_release(f, 1000);
	assert_int_equal(flash_buffer_drained_at(f), 1000);
	flash_destroy(f);
}

static void test_bad_geometry(void **state)
{
	(void)state;
	struct ssd_params p = small_params();
	p.blocks_per_plane = 1 << 24;
	p.pages_per_block = 65536;
	char err[256] = "";
	assert_null(flash_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "pages"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_geometry),           cmocka_unit_test(test_channel_contention),
	    cmocka_unit_test(test_die_contention),     cmocka_unit_test(test_channel_backfill),
	    cmocka_unit_test(test_read_suspend),       cmocka_unit_test(test_read_suspend_stream),
	    cmocka_unit_test(test_plane_reads),        cmocka_unit_test(test_read_suspend_cap),
	    cmocka_unit_test(test_plane_read_modes),   cmocka_unit_test(test_nand_page_of_pages),
	    cmocka_unit_test(test_copy_gathers_group), cmocka_unit_test(test_multi_plane_program),
	    cmocka_unit_test(test_write_buffer),       cmocka_unit_test(test_bad_geometry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
