/* CRC32C as NVMe/TCP digests use it, checked against a bitwise reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/crc32c.h"
#include "util/util.h"

/* Reflected Castagnoli polynomial, one bit at a time: slow and obviously right. */
static uint32_t reference_crc32c(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t crc = 0xFFFFFFFFu;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void test_check_vector(void **state)
{
	(void)state;
	assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(reference_crc32c("123456789", 9), 0xE3069283u);
}

static void test_empty_input(void **state)
{
	(void)state;
	/* No bytes: initial value and final inversion cancel out. */
	assert_int_equal(crc32c("", 0), 0);
}

static void fill_pattern(uint8_t *buf, size_t len)
{
	uint32_t x = 0x12345678;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
}

static void test_matches_reference_at_every_length(void **state)
{
	(void)state;
	uint8_t buf[1100];
	fill_pattern(buf, sizeof(buf));
	/* Odd lengths and offsets exercise the vector kernel's head and tail handling. */
	for (size_t len = 0; len < sizeof(buf) - 7; len += 13)
		for (size_t off = 0; off < 8; off += 3)
			assert_int_equal(crc32c(buf + off, len), reference_crc32c(buf + off, len));
}

static void test_incremental_equals_one_shot(void **state)
{
	(void)state;
	uint8_t buf[4096 + 77];
	fill_pattern(buf, sizeof(buf));
	uint32_t whole = crc32c(buf, sizeof(buf));
	static const size_t cuts[] = {1, 7, 64, 1000, 4096};
	for (size_t c = 0; c < ARRAY_SIZE(cuts); c++) {
		uint32_t crc = CRC32C_INIT;
		for (size_t at = 0; at < sizeof(buf); at += cuts[c]) {
			size_t n = sizeof(buf) - at < cuts[c] ? sizeof(buf) - at : cuts[c];
			crc = crc32c_update(crc, buf + at, n);
		}
		assert_int_equal(crc32c_final(crc), whole);
	}
	assert_int_equal(whole, reference_crc32c(buf, sizeof(buf)));
}

static void test_iov_equals_contiguous(void **state)
{
	(void)state;
	uint8_t buf[300];
	fill_pattern(buf, sizeof(buf));
	struct iovec iov[4] = {
	    {.iov_base = buf, .iov_len = 24},
	    {.iov_base = buf + 24, .iov_len = 0},
	    {.iov_base = buf + 24, .iov_len = 1},
	    {.iov_base = buf + 25, .iov_len = sizeof(buf) - 25},
	};
	assert_int_equal(crc32c_iov(iov, 4), reference_crc32c(buf, sizeof(buf)));
	assert_int_equal(crc32c_iov(iov, 0), 0);
}

static void test_single_bit_flip_changes_digest(void **state)
{
	(void)state;
	uint8_t buf[72];
	fill_pattern(buf, sizeof(buf));
	uint32_t good = crc32c(buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++) {
		buf[i] ^= 0x10;
		assert_int_not_equal(crc32c(buf, sizeof(buf)), good);
		buf[i] ^= 0x10;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_vector),
	    cmocka_unit_test(test_empty_input),
	    cmocka_unit_test(test_matches_reference_at_every_length),
	    cmocka_unit_test(test_incremental_equals_one_shot),
	    cmocka_unit_test(test_iov_equals_contiguous),
	    cmocka_unit_test(test_single_bit_flip_changes_digest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
