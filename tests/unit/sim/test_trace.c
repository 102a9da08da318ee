/*
 * The trace reader of `nvemu sim --trace`: each format's records become operations, page
 * ranges and issue times; what is not a record for the device is skipped; ranges stay inside
 * it whatever the trace says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sim/sim_internal.h"

#define PAGE 4096
#define PAGES 1000

static char path[64];

/* Opens `text` as a trace; NULL (with the message in err) if the reader refuses it. */
static struct trace_source *open_text(const char *text, enum trace_format format,
				      enum trace_timing timing, char *err, size_t errlen)
{
	snprintf(path, sizeof(path), "/tmp/nvemu-test-trace.%d", getpid());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	struct sim_params p = {.trace_format = format, .trace_timing = timing};
	snprintf(p.trace, sizeof(p.trace), "%s", path);
	struct trace_source *t = trace_open(&p, PAGE, PAGES, err, errlen);
	unlink(path);
	return t;
}

static struct trace_source *open_ok(const char *text)
{
	char err[256];
	struct trace_source *t = open_text(text, TRACE_AUTO, TIMING_AUTO, err, sizeof(err));
	if (!t)
		fail_msg("trace_open: %s", err);
	return t;
}

static void expect(struct trace_source *t, enum io_op op, uint64_t lpn, uint32_t npages,
		   uint64_t at)
{
	struct io_source *src = trace_as_source(t);
	struct io io;
	assert_true(src->next(src, &io));
	assert_int_equal(io.op, op);
	assert_int_equal(io.npages, npages);
	if (npages)
		assert_int_equal(io.lpn, lpn);
	assert_int_equal(io.at, at);
}

static void expect_end(struct trace_source *t, uint64_t skipped)
{
	struct io_source *src = trace_as_source(t);
	struct io io;
	assert_false(src->next(src, &io));
	assert_int_equal(trace_skipped(t), skipped);
	trace_close(t);
}

static void test_msr(void **state)
{
	(void)state;
	struct trace_source *t = open_ok("128166372003061629,hm,1,Write,8192,4096,11302\n"
					 "128166372003071629,hm,1,Read,4096,12288,1070\n"
					 "128166372003081629,hm,1,Flush,0,0,1\n");
	expect(t, IO_WRITE, 2, 1, 0);
	expect(t, IO_READ, 1, 3, 1000000); /* 10,000 ticks of 100 ns */
	assert_true(trace_as_source(t)->open_loop);
	expect_end(t, 1);
}

static void test_blkparse(void **state)
{
	(void)state;
	struct trace_source *t = open_ok("  8,0    1  1  0.000000000  7  Q  WS 16 + 8 [fio]\n"
					 "  8,0    1  2  0.000002000  7  C  WS 16 + 8 [0]\n"
					 "  8,0    1  3  0.000010000  7  Q  R 24 + 16 [fio]\n"
					 "  8,0    1  4  0.000020000  7  Q  FWS [fio]\n"
					 "  8,0    1  5  0.000030000  7  Q  D 0 + 8 [fio]\n"
					 "  8,0    1  6  -1.5  7  Q  R 24 + 16 [fio]\n"
					 "  8,0    1  7  nan  7  Q  R 24 + 16 [fio]\n");
	expect(t, IO_WRITE, 2, 1, 0);
	expect(t, IO_READ, 3, 2, 10000); /* sectors 24-39: bytes 12288-20479 */
	expect(t, IO_FLUSH, 0, 0, 20000);
	expect(t, IO_TRIM, 0, 1, 30000);
	expect_end(t, 3); /* a completion and two times that are none */
}

static void test_fio(void **state)
{
	(void)state;
	struct trace_source *t = open_ok("fio version 2 iolog\n/dev/x add\n/dev/x open\n"
					 "/dev/x write 0 8192\n/dev/x trim 4096 4096\n"
					 "/dev/x sync 0 0\n/dev/x close\n");
	assert_false(trace_as_source(t)->open_loop); /* v2 has no times: replayed at qd */
	expect(t, IO_WRITE, 0, 2, 0);
	expect(t, IO_TRIM, 1, 1, 0);
	expect(t, IO_FLUSH, 0, 0, 0);
	expect_end(t, 3);
	t = open_ok("fio version 3 iolog\n0 /dev/x add\n5 /dev/x read 40960 4096\n"
		    "8 /dev/x datasync 0 0\n");
	expect(t, IO_READ, 10, 1, 0);
	expect(t, IO_FLUSH, 0, 0, 3000000);
	expect_end(t, 1);
	char err[256];
	assert_null(open_text("fio version x iolog\n", TRACE_FIO, TIMING_AUTO, err, sizeof(err)));
	assert_non_null(strstr(err, "fio version N iolog"));
	assert_null(open_text("fio version 2 iolog\n", TRACE_AUTO, TIMING_TIMESTAMPS, err,
			      sizeof(err)));
	assert_non_null(strstr(err, "no timestamps"));
}

/* Offsets past the device wrap around it; a range never leaves it, nor is empty, even where
 * offset + length overflows (fuzz_trace found a trim of 0 pages). */
static void test_ranges_stay_inside(void **state)
{
	(void)state;
	struct trace_source *t =
	    open_ok("fio version 2 iolog\n"
		    "/dev/x write 4100096 4096\n"                  /* page 1001: wraps to 1 */
		    "/dev/x write 4091904 16384\n"                 /* pages 999-1002: moved back */
		    "/dev/x read 0 999999999999\n"                 /* larger than the device */
		    "/dev/x trim 0 55555555555555555555555555\n"   /* a length sscanf saturates */
		    "/dev/x trim 18446744073709551615 4096\n"      /* the last byte there is */
		    "/dev/x write 8192 0\n");                      /* no length: one page */
	expect(t, IO_WRITE, 1, 1, 0);
	expect(t, IO_WRITE, PAGES - 4, 4, 0);
	expect(t, IO_READ, 0, PAGES, 0);
	expect(t, IO_TRIM, 0, PAGES, 0);
	expect(t, IO_TRIM, (UINT64_MAX / PAGE) % PAGES, 1, 0);
	expect(t, IO_WRITE, 2, 1, 0);
	expect_end(t, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_msr),
	    cmocka_unit_test(test_blkparse),
	    cmocka_unit_test(test_fio),
	    cmocka_unit_test(test_ranges_stay_inside),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
