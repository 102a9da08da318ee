/* The one number syntax (util/util.h): every form it takes, every form it refuses, the messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util/util.h"

static void expect_number(const char *text, uint64_t want)
{
	uint64_t v = 7;
	char err[128] = "";
	if (parse_u64(text, 0, UINT64_MAX, &v, err, sizeof(err)))
		fail_msg("'%s': refused: %s", text, err);
	if (v != want)
		fail_msg("'%s': got %llu, want %llu", text, (unsigned long long)v,
			 (unsigned long long)want);
}

static void expect_message(const char *text, uint64_t min, uint64_t max, const char *message)
{
	uint64_t v = 7;
	char err[128] = "";
	assert_int_equal(parse_u64(text, min, max, &v, err, sizeof(err)), -1);
	assert_string_equal(err, message);
	assert_int_equal(v, 7); /* nothing stored */
}

static void test_decimal_and_hex(void **state)
{
	(void)state;
	expect_number("0", 0);
	expect_number("4096", 4096);
	expect_number("010", 10); /* leading zeros are decimal, not octal */
	expect_number("0x1000", 4096);
	expect_number("0X1f", 31);
	expect_number("0xffffffffffffffff", UINT64_MAX);
	expect_number("18446744073709551615", UINT64_MAX);
}

static void test_binary_suffixes(void **state)
{
	(void)state;
	static const char *const four_k[] = {"4k",  "4K",   "4kb",  "4KB",
					     "4Kb", "4KiB", "4kib", "4KIB"};
	for (size_t i = 0; i < ARRAY_SIZE(four_k); i++)
		expect_number(four_k[i], 4096);
	expect_number("512M", 512ull << 20);
	expect_number("1MiB", 1ull << 20);
	expect_number("2g", 2ull << 30);
	expect_number("1GB", 1ull << 30);
	expect_number("3T", 3ull << 40);
	expect_number("2TiB", 2ull << 40);
	expect_number("0K", 0);
	expect_number("16777215T", 16777215ull << 40); /* the largest multiple of 1 TiB */
}

static void test_refused_forms(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",   "fast", "-1",  "+1",  " 1",   "1 ",  "1.5", "1e3", "0x",  "0x10K", "0x1G",
	    "4Q", "4KQ",  "4Ki", "4iB", "4KBB", "4 K", "K",   "4M4", "x10", "0b101", "1,000",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char message[64];
		snprintf(message, sizeof(message), "'%s' is not a non-negative integer", bad[i]);
		expect_message(bad[i], 0, UINT64_MAX, message);
	}
}

static void test_range(void **state)
{
	(void)state;
	uint64_t v;
	char err[128];
	assert_int_equal(parse_u64("1", 1, 65535, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1);
	assert_int_equal(parse_u64("65535", 1, 65535, &v, err, sizeof(err)), 0);
	assert_int_equal(parse_u64("64K", 0, 65536, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 65536);
	expect_message("0", 1, 65535, "0 is out of range [1, 65535]");
	expect_message("70000", 1, 65535, "70000 is out of range [1, 65535]");
	expect_message("64K", 1, 65535, "64K is out of range [1, 65535]");
	expect_message("0x10000", 1, 65535, "0x10000 is out of range [1, 65535]");
	/* Past 2^64 - 1, by digits or by suffix: out of range too, never wrapped around. */
	expect_message("18446744073709551616", 0, UINT64_MAX,
		       "18446744073709551616 is out of range [0, 18446744073709551615]");
	expect_message("0x10000000000000000", 0, UINT64_MAX,
		       "0x10000000000000000 is out of range [0, 18446744073709551615]");
	expect_message("16777216T", 0, UINT64_MAX,
		       "16777216T is out of range [0, 18446744073709551615]");
}

static void test_errorf(void **state)
{
	(void)state;
	char err[16];
	assert_int_equal(errorf(err, sizeof(err), "%s %d", "port", 4420), -1);
	assert_string_equal(err, "port 4420");
	assert_int_equal(errorf(err, sizeof(err), "%s", "a message longer than the buffer"), -1);
	assert_string_equal(err, "a message longe");
	assert_int_equal(errorf(NULL, 0, "nowhere"), -1);
}

static void test_helpers(void **state)
{
	(void)state;
	struct outer {
		int a;
		long member;
	} o;
	assert_ptr_equal(container_of(&o.member, struct outer, member), &o);
	uint32_t four[4];
	assert_int_equal(ARRAY_SIZE(four), 4);
	assert_int_equal(max_u64(3, UINT64_MAX), UINT64_MAX);
	assert_int_equal(max_u64(9, 2), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decimal_and_hex), cmocka_unit_test(test_binary_suffixes),
	    cmocka_unit_test(test_refused_forms),   cmocka_unit_test(test_range),
	    cmocka_unit_test(test_errorf),          cmocka_unit_test(test_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
