/* Parameter registry: defaults, aliases, errors that name the key, preset files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"
#include "ftl/ftl.h"

static void test_defaults_and_aliases(void **state)
{
	(void)state;
	struct ssd_params p;
	ssd_params_defaults(&p);
	assert_int_equal(p.pages_per_block, 256);
	assert_true(p.gc_separate);
	char err[256];
	assert_int_equal(config_set(&p, "nchs", "16", err, sizeof(err)), 0);
	assert_int_equal(p.channels, 16);
	assert_int_equal(config_set(&p, "pg_rd_lat", "45000", err, sizeof(err)), 0);
	assert_int_equal(p.page_read_ns, 45000);
	assert_int_equal(config_set(&p, "write_buffer_kib", "1m", err, sizeof(err)), 0);
	assert_int_equal(p.write_buffer_kib, 1 << 20);
	assert_int_equal(config_set(&p, "gc_policy", "d-choice", err, sizeof(err)), 0);
	assert_int_equal(p.gc_policy, GC_DCHOICE);
	assert_int_equal(config_set(&p, "read_suspend", "on", err, sizeof(err)), 0);
	assert_true(p.read_suspend);
}

static void expect_error(const char *key, const char *value, const char *fragment)
{
	struct ssd_params p;
	ssd_params_defaults(&p);
	struct ssd_params before = p;
	char err[256] = "";
	assert_int_equal(config_set(&p, key, value, err, sizeof(err)), -1);
	if (!strstr(err, key) || !strstr(err, fragment))
		fail_msg("%s=%s: message '%s' lacks '%s'", key, value, err, fragment);
	assert_memory_equal(&p, &before, sizeof(p)); /* nothing stored */
}

static void test_errors_name_the_key(void **state)
{
	(void)state;
	expect_error("no_such_key", "1", "unknown");
	expect_error("channels", "four", "not a non-negative integer");
	expect_error("channels", "0", "out of range");
	expect_error("op_pcent", "7x", "not a number");
	expect_error("op_pcent", "-3", "out of range");
	expect_error("read_suspend", "maybe", "boolean");
	expect_error("gc_policy", "lru", "greedy|cost-benefit");
	expect_error("pages_per_block", "12q", "integer");
}

static int collect(const char *key, const char *value, void *ctx, char *err, size_t errlen)
{
	return config_set(ctx, key, value, err, errlen);
}

static void test_parse_text(void **state)
{
	(void)state;
	struct ssd_params p;
	ssd_params_defaults(&p);
	char err[256];
	const char *text = "# comment\n\n  nchs = 2 # trailing\nluns_per_channel=3\r\n; other\n";
	assert_int_equal(config_parse_text(text, collect, &p, err, sizeof(err)), 0);
	assert_int_equal(p.channels, 2);
	assert_int_equal(p.luns_per_channel, 3);
	assert_int_equal(config_parse_text("a = 1\nbogus line\n", collect, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 1"));
	assert_int_equal(config_parse_text("nchs = 1\nbogus line\n", collect, &p, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "line 2"));
}

static void test_presets_load(void **state)
{
	(void)state;
	const char *names[] = {"femu-bbssd", "small", "tlc"};
	for (size_t i = 0; i < 3; i++) {
		char path[4096], err[512];
		struct ssd_params p;
		ssd_params_defaults(&p);
		assert_int_equal(config_preset_path(names[i], path, sizeof(path)), 0);
		if (config_load_ssd_file(&p, path, err, sizeof(err)) != 0)
			fail_msg("%s: %s", names[i], err);
		struct ssd *s = ssd_create(&p, err, sizeof(err));
		if (!s)
			fail_msg("%s: %s", names[i], err);
		ssd_destroy(s);
	}
	char path[4096];
	assert_int_equal(config_preset_path("no-such-preset", path, sizeof(path)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_aliases),
		cmocka_unit_test(test_errors_name_the_key),
		cmocka_unit_test(test_parse_text),
		cmocka_unit_test(test_presets_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
