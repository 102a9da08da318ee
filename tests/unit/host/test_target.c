/* Transport ID strings as -r takes them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "host/host.h"

static void test_full(void **state)
{
	(void)state;
	struct host_target t;
	char err[160];
	assert_int_equal(host_target_parse(&t,
		"trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:4421 subnqn:nqn.2016-06.io.spdk:cnode1",
		err, sizeof(err)), 0);
	assert_string_equal(t.traddr, "127.0.0.1");
	assert_string_equal(t.trsvcid, "4421");
	assert_string_equal(t.subnqn, "nqn.2016-06.io.spdk:cnode1");
}

static void test_defaults_and_case(void **state)
{
	(void)state;
	struct host_target t;
	char err[160];
	assert_int_equal(host_target_parse(&t, "  TRTYPE:tcp\tTRADDR=10.0.0.2  ", err, sizeof(err)), 0);
	assert_string_equal(t.traddr, "10.0.0.2");
	assert_string_equal(t.trsvcid, "4420");
	assert_string_equal(t.subnqn, "");
}

static void test_errors(void **state)
{
	(void)state;
	struct host_target t;
	char err[160];
	assert_int_equal(host_target_parse(&t, "trtype:RDMA traddr:1.2.3.4", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "TCP"));
	assert_int_equal(host_target_parse(&t, "traddr:1.2.3.4", err, sizeof(err)), -EINVAL);
	assert_int_equal(host_target_parse(&t, "trtype:TCP", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "traddr"));
	assert_int_equal(host_target_parse(&t, "trtype:TCP traddr:1.2.3.4 bogus:1", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "bogus"));
	assert_int_equal(host_target_parse(&t, "trtype:TCP traddr", err, sizeof(err)), -EINVAL);
	assert_int_equal(host_target_parse(&t, "trtype:TCP traddr:", err, sizeof(err)), -EINVAL);
	assert_int_equal(host_target_parse(&t, "trtype:TCP adrfam:IPv6 traddr:::1", err, sizeof(err)),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults_and_case),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
