/* nvemu perf's verification pattern: unique per seed, LBA and generation, and it finds the bad byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "perf/perf_internal.h"

static void test_pattern(void **state)
{
	(void)state;
	uint32_t lba_size = 512, blocks = 8;
	uint8_t *buf = malloc(lba_size * blocks);
	uint32_t off;
	pattern_fill(buf, 1000, blocks, lba_size, 42, 1);
	assert_int_equal(pattern_check(buf, 1000, blocks, lba_size, 42, 1, &off), -1);
	/* Another seed, LBA or generation gives different data. */
	assert_int_equal(pattern_check(buf, 1000, blocks, lba_size, 43, 1, &off), 0);
	assert_int_equal(pattern_check(buf, 1001, blocks, lba_size, 42, 1, &off), 0);
	assert_int_equal(pattern_check(buf, 1000, blocks, lba_size, 42, 2, &off), 0);
	buf[3 * lba_size + 300] ^= 0x10;
	assert_int_equal(pattern_check(buf, 1000, blocks, lba_size, 42, 1, &off), 3);
	assert_int_equal(off, 300);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pattern),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
