/* Fault specifications (fault/fault.h): what is accepted, what is refused and why, what prints
 * back, and the pure pieces of behaviour (draws, latency distributions, the thermal model). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fault/fault.h"
#include "util/util.h"

static struct fault_spec spec;
static char err[512];

static int parse(const char *text) { return fault_spec_parse(text, &spec, err, sizeof(err)); }

static void refused(const char *text, const char *reason)
{
	if (parse(text) == 0)
		fail_msg("accepted: %s", text);
	if (!strstr(err, reason))
		fail_msg("'%s' refused with '%s', not '%s'", text, err, reason);
}

static void test_every_type_parses_with_defaults(void **state)
{
	(void)state;
	for (unsigned t = 0; t < FAULT_TYPES; t++) {
		char text[128];
		bool needs_ns = t == FAULT_NS_ADD || t == FAULT_NS_REMOVE;
		snprintf(text, sizeof(text), "%s%s", fault_type_name((enum fault_type)t),
			 needs_ns		   ? " nsid=2"
			 : t == FAULT_DIE_OFFLINE ? " nsid=1 die=3"
						   : "");
		assert_int_equal(parse(text), 0);
		enum fault_type back;
		assert_int_equal(fault_type_parse(fault_type_name((enum fault_type)t), &back), 0);
		assert_int_equal(back, t);
	}
}

static void test_keys_are_read_and_printed_back(void **state)
{
	(void)state;
	assert_int_equal(parse("read-error nsid=1 lba=2048 count=8"), 0);
	assert_int_equal(spec.type, FAULT_READ_ERROR);
	assert_int_equal(spec.nsid, 1);
	assert_int_equal(spec.lba, 2048);
	assert_int_equal(spec.count, 8);
	assert_true(spec.dnr);
	char text[FAULT_TEXT_MAX];
	fault_spec_format(&spec, text, sizeof(text));
	assert_string_equal(text, "read-error nsid=1 lba=2048 count=8");

	assert_int_equal(parse("latency\top=read,write probability=0.25 latency_us=5000 "
			       "dist=exponential seed=7 name=spike-1 max_us=1M"), 0);
	assert_int_equal(spec.probability, FAULT_PROBABILITY_ONE / 4);
	assert_int_equal(spec.ops, FAULT_OP_READ | FAULT_OP_WRITE);
	assert_int_equal(spec.dist, FAULT_DIST_EXPONENTIAL);
	assert_int_equal(spec.max_us, 1u << 20);
	fault_spec_format(&spec, text, sizeof(text));
	assert_string_equal(text, "latency name=spike-1 op=read,write probability=0.25 seed=7 "
				  "latency_us=5000 max_us=1048576 dist=exponential");
	/* What prints back parses to the same specification. */
	struct fault_spec again;
	assert_int_equal(fault_spec_parse(text, &again, err, sizeof(err)), 0);
	assert_memory_equal(&again, &spec, sizeof(spec));
	/* A key given twice: the last value, and nothing left of the longer first one. */
	assert_int_equal(parse("read-error name=long-name-first nqn=nqn.2026-01.a.long.one name=b "
			       "nqn=nqn.b"),
			 0);
	fault_spec_format(&spec, text, sizeof(text));
	assert_string_equal(text, "read-error name=b nqn=nqn.b");
	assert_int_equal(fault_spec_parse(text, &again, err, sizeof(err)), 0);
	assert_memory_equal(&again, &spec, sizeof(spec));

	assert_int_equal(parse("thermal heat=12.5 factor=1.5 tau_ms=2000 threshold_c=60"), 0);
	assert_int_equal(spec.heat, 12500);
	assert_int_equal(spec.factor, 1500);
	assert_false(spec.has_temp);
	assert_int_equal(parse("thermal temp_c=80"), 0);
	assert_true(spec.has_temp);
	assert_int_equal(parse("gc-storm zone=3 nsid=2 for_ms=500 read_latency_us=100"), 0);
	assert_true(spec.has_zone);
	assert_int_equal(spec.zone, 3);
}

static void test_bad_specifications_say_why(void **state)
{
	(void)state;
	refused("", "no fault type");
	refused("bit-rot nsid=1", "not a fault type");
	refused("read-error nsid", "not key=value");
	refused("read-error =1", "not key=value");
	refused("read-error nsid=1 colour=red", "unknown key 'colour'");
	refused("spare-low lba=5", "lba is not a key of spare-low");
	refused("thermal probability=0.5", "probability is not a key of thermal");
	refused("read-error nsid=0", "nsid: 0 is out of range");
	refused("read-error nsid=1 probability=0", "probability: '0' is not a decimal in [0.000000001, 1]");
	refused("read-error nsid=1 probability=1.5", "not a decimal in");
	refused("read-error nsid=1 probability=.5", "not a decimal in");
	refused("read-error nsid=1 probability=0.0000000001", "at most 9 digits");
	refused("read-error lba=8", "lba, count and zone need nsid");
	refused("read-error nsid=1 zone=2 lba=8", "zone and lba/count exclude each other");
	refused("ns-add", "ns-add needs nsid");
	refused("die-offline die=1", "die-offline needs nsid");
	refused("die-offline nsid=1", "die-offline needs die");
	refused("read-error nsid=1 die=1", "die is not a key of read-error");
	refused("read-error nsid=1 op=write", "does not act on 'write'");
	refused("latency op=read,,", "an empty command kind");
	refused("latency op=", "an empty command kind");
	refused("latency op=trim", "'trim' is not a command kind");
	refused("latency dist=normal", "not fixed, uniform or exponential");
	refused("latency dist=uniform latency_us=100 max_us=50", "max_us (50) is below latency_us");
	refused("thermal threshold_c=90 critical_c=80", "threshold_c (90) is above critical_c (80)");
	refused("thermal factor=0.5", "factor: '0.5' is not a decimal in [1, 1000]");
	refused("spare-low spare=10", "spare: 10 is out of range");
	refused("read-error nsid=1 dnr=yes", "dnr: 'yes' is not 0 or 1");
	refused("cfs name=a/b", "name: 'a/b'");
	refused("cfs nqn=bad", "must start with 'nqn.'");
	refused("read-error nsid=1 lba=18446744073709551615 count=2", "past the largest block");
}

static void test_triggers_by_class(void **state)
{
	(void)state;
	assert_int_equal(parse("cfs"), 0);
	assert_false(fault_spec_command_triggered(&spec)); /* fires when it becomes active */
	assert_int_equal(spec.times, 1);
	assert_int_equal(parse("cfs after=100"), 0);
	assert_true(fault_spec_command_triggered(&spec));
	assert_int_equal(parse("link-drop nsid=1"), 0);
	assert_true(fault_spec_command_triggered(&spec));
	assert_int_equal(parse("ns-remove nsid=2 for_ms=100"), 0);
	assert_false(fault_spec_command_triggered(&spec)); /* nsid names what it removes */
	assert_int_equal(parse("timeout"), 0);
	assert_true(fault_spec_command_triggered(&spec));
	assert_int_equal(spec.times, 1);
	assert_int_equal(parse("read-only"), 0);
	assert_false(fault_spec_command_triggered(&spec));
}

static void test_draws_are_a_function_of_seed_and_index(void **state)
{
	(void)state;
	assert_int_equal(fault_draw(42, 7), fault_draw(42, 7));
	assert_int_not_equal(fault_draw(42, 7), fault_draw(43, 7));
	assert_int_not_equal(fault_draw(42, 7), fault_draw(42, 8));
	/* A probability of 1/4 hits about a quarter of 100000 draws. */
	unsigned hits = 0;
	for (uint64_t n = 0; n < 100000; n++)
		hits += fault_draw_hits(fault_draw(9, n), FAULT_PROBABILITY_ONE / 4);
	assert_in_range(hits, 24000, 26000);
	assert_true(fault_draw_hits(0, FAULT_PROBABILITY_ONE));
	assert_true(fault_draw_hits(UINT64_MAX, FAULT_PROBABILITY_ONE));
	assert_false(fault_draw_hits(UINT64_MAX, FAULT_PROBABILITY_ONE - 1));
}

static void test_latency_distributions(void **state)
{
	(void)state;
	assert_int_equal(parse("latency latency_us=100"), 0);
	assert_int_equal(fault_latency_ns(&spec, 12345), 100000);
	assert_int_equal(parse("latency dist=uniform latency_us=100 max_us=200"), 0);
	for (uint64_t n = 0; n < 1000; n++)
		assert_in_range(fault_latency_ns(&spec, fault_draw(1, n)), 100000, 200000);
	assert_int_equal(parse("latency dist=exponential latency_us=100 max_us=100000"), 0);
	double sum = 0;
	for (uint64_t n = 0; n < 100000; n++) {
		uint64_t v = fault_latency_ns(&spec, fault_draw(3, n));
		assert_true(v <= 100000000);
		sum += (double)v;
	}
	/* The mean of an exponential is its parameter: 100 us within 2 %. */
	assert_true(fabs(sum / 100000 - 100000) < 2000);
}

static void test_thermal_model(void **state)
{
	(void)state;
	assert_int_equal(parse("thermal heat=10 tau_ms=1000 ambient_c=30"), 0);
	/* 1 GiB moved heats by 10 degrees... */
	double t = fault_thermal_step(&spec, 30, 0, 1ull << 30);
	assert_true(fabs(t - 40) < 1e-9);
	/* ...and one time constant later what is above ambient has fallen to 1/e of it. */
	t = fault_thermal_step(&spec, t, 1000000000ull, 0);
	assert_true(fabs(t - (30 + 10 / M_E)) < 1e-9);
	assert_int_equal(parse("thermal temp_c=90"), 0);
	assert_true(fabs(fault_thermal_step(&spec, 30, 5000000000ull, 1ull << 40) - 90) < 1e-9);
}

static void test_op_of_opcodes(void **state)
{
	(void)state;
	assert_int_equal(fault_op_of(0x02), FAULT_OP_READ);
	assert_int_equal(fault_op_of(0x01), FAULT_OP_WRITE);
	assert_int_equal(fault_op_of(0x7D), FAULT_OP_APPEND);
	assert_int_equal(fault_op_of(0x7F), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_type_parses_with_defaults),
	    cmocka_unit_test(test_keys_are_read_and_printed_back),
	    cmocka_unit_test(test_bad_specifications_say_why),
	    cmocka_unit_test(test_triggers_by_class),
	    cmocka_unit_test(test_draws_are_a_function_of_seed_and_index),
	    cmocka_unit_test(test_latency_distributions),
	    cmocka_unit_test(test_thermal_model),
	    cmocka_unit_test(test_op_of_opcodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
