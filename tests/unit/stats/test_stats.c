/*
 * The statistics layer without a daemon: histogram shards and percentiles,
 * the Prometheus text format (checked by a small parser of the exposition
 * format 0.0.4), and "not applicable" fields in JSON.
 */
#include <ctype.h>
#include <json-c/json.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stats/stats.h"
#include "util/hist.h"

static struct hist_shard shards[2];
static struct hist merged, earlier;

static void test_shard_percentiles(void **state)
{
	(void)state;
	memset(shards, 0, sizeof(shards));
	/* 1..10000 us spread over two shards: p50 is 5000 us, p99 9900 us. */
	for (uint64_t v = 1; v <= 10000; v++)
		hist_shard_add(&shards[v % 2], v * 1000);
	hist_init(&merged);
	hist_merge_shard(&merged, &shards[0]);
	hist_merge_shard(&merged, &shards[1]);
	assert_int_equal(merged.count, 10000);
	assert_int_equal(merged.min, 1000);
	assert_int_equal(merged.max, 10000000);
	assert_int_equal(merged.sum, 1000ull * 10000 * 10001 / 2);
	/* Within one bucket: 1/128 of the value. */
	uint64_t p50 = hist_quantile(&merged, 0.5), p99 = hist_quantile(&merged, 0.99);
	assert_true(p50 >= 5000000 - 5000000 / 128 && p50 <= 5000000 + 5000000 / 128);
	assert_true(p99 >= 9900000 - 9900000 / 128 && p99 <= 9900000 + 9900000 / 128);
	assert_true(hist_quantile(&merged, 1.0) >= 10000000 - 10000000 / 128);
}

static void test_empty_shard_is_zero_bytes(void **state)
{
	(void)state;
	memset(shards, 0, sizeof(shards));
	hist_init(&merged);
	hist_merge_shard(&merged, &shards[0]);
	assert_int_equal(merged.count, 0);
	assert_int_equal(merged.min, UINT64_MAX);
	assert_int_equal(hist_quantile(&merged, 0.5), 0);
	hist_shard_add(&shards[0], 0); /* zero is a sample, not "empty" */
	hist_merge_shard(&merged, &shards[0]);
	assert_int_equal(merged.count, 1);
	assert_int_equal(merged.min, 0);
}

static void test_subtract_leaves_the_interval(void **state)
{
	(void)state;
	hist_init(&earlier);
	for (uint64_t v = 1; v <= 1000; v++)
		hist_add(&earlier, 100);
	merged = earlier;
	for (uint64_t v = 1; v <= 10; v++)
		hist_add(&merged, 50000);
	hist_subtract(&merged, &earlier);
	assert_int_equal(merged.count, 10);
	assert_int_equal(merged.sum, 500000);
	uint64_t p50 = hist_quantile(&merged, 0.5);
	assert_true(p50 >= 50000 - 50000 / 128 && p50 <= 50000 + 50000 / 128);
}

/* A reader merging while the owner adds never sees more than was added, nor a count going back. */
static void *add_many(void *arg)
{
	for (uint64_t v = 0; v < 2000000; v++)
		hist_shard_add(arg, v & 0xFFFF);
	return NULL;
}

static void test_merge_while_adding(void **state)
{
	(void)state;
	memset(shards, 0, sizeof(shards));
	pthread_t writer;
	assert_int_equal(pthread_create(&writer, NULL, add_many, &shards[0]), 0);
	uint64_t last = 0;
	for (int i = 0; i < 200; i++) {
		hist_init(&merged);
		hist_merge_shard(&merged, &shards[0]);
		assert_true(merged.count >= last && merged.count <= 2000000);
		last = merged.count;
	}
	pthread_join(writer, NULL);
	hist_init(&merged);
	hist_merge_shard(&merged, &shards[0]);
	assert_int_equal(merged.count, 2000000);
}

/* ---- snapshots ---- */

static struct stats_ns_snapshot ns_snaps[3];
/* The ssd namespace has FDP: 2 handles (the second unused so far) and 1 reclaim group. */
static struct ssd_fdp_counters fdp_counts[3] = {
    {.host_pages = 1000,
     .nand_pages = 1500,
     .gc_pages = 500,
     .rus_opened = 4,
     .rus_erased = 2,
     .valid_pages = 900},
    {0},
    {.host_pages = 1000,
     .nand_pages = 1500,
     .gc_pages = 500,
     .rus_opened = 6,
     .rus_erased = 2,
     .valid_pages = 900},
};

static struct stats_snapshot make_snapshot(void)
{
	memset(ns_snaps, 0, sizeof(ns_snaps));
	struct stats_ns_snapshot *ssd = &ns_snaps[0], *ram = &ns_snaps[1], *zoned = &ns_snaps[2];
	*ssd = (struct stats_ns_snapshot){.subsys_nqn = "nqn.test:\"quoted\"\\x",
					  .nsid = 1,
					  .kind = "ssd",
					  .lba_size = 4096,
					  .read_ios = 500,
					  .write_ios = 1000,
					  .read_bytes = 500 * 4096,
					  .write_bytes = 1000 * 4096,
					  .has_model = true,
					  .model = {.host_pages_written = 1000,
						    .nand_pages_written = 1500,
						    .gc_runs = 3,
						    .erase_max = 2,
						    .erase_mean = 0.5,
						    .wear = true,
						    .avail_spare_pcent = 40,
						    .spare_threshold_pcent = 10,
						    .percent_used = 62.5,
						    .retired_blocks = 7},
					  .has_fdp = true,
					  .fdp_ru_bytes = 1 << 20,
					  .fdp_nruh = 2,
					  .fdp_nrg = 1,
					  .fdp_handles = fdp_counts,
					  .fdp_groups = fdp_counts + 2};
	*ram = (struct stats_ns_snapshot){.subsys_nqn = "nqn.test", .nsid = 2, .kind = "ram",
					  .lba_size = 512, .write_ios = 7, .outstanding = 2};
	*zoned = (struct stats_ns_snapshot){.subsys_nqn = "nqn.test", .nsid = 3, .kind = "zoned",
					    .has_model = true, .has_zones = true,
					    .zones = {[STATS_ZONE_EMPTY] = 6, [STATS_ZONE_FULL] = 2}};
	for (int i = 0; i < 3; i++)
		hist_init(&ns_snaps[i].latency);
	for (uint64_t v = 1; v <= 1000; v++)
		hist_add(&ssd->latency, v * 1000 + 500); /* 1.5 us .. 1000.5 us */
	hist_add(&ram->latency, 40);
	return (struct stats_snapshot){.unix_ms = 1, .uptime_s = 2.5, .nns = 3, .ns = ns_snaps};
}

/* ---- a parser of the Prometheus text exposition format, strict enough to fail ---- */

struct prom_family {
	char name[128];
	char type[16];
	bool sampled;
};

struct prom_check {
	struct prom_family families[64];
	int nfamilies;
	struct prom_family *current;
	char series[512][512];
	int nseries;
	/* the current histogram series: last cumulative bucket, +Inf, _count */
	double last_bucket, inf_bucket;
};

static bool metric_name_char(char c, bool first)
{
	return isalpha((unsigned char)c) || c == '_' || c == ':' || (!first && isdigit((unsigned char)c));
}

static const char *parse_name(const char *p, char *out, size_t outlen)
{
	size_t n = 0;
	while (metric_name_char(*p, n == 0) && n + 1 < outlen)
		out[n++] = *p++;
	out[n] = '\0';
	return n ? p : NULL;
}

/* Labels {a="b",...}; returns after '}' or NULL; copies the le label's value. */
static const char *parse_labels(const char *p, char *le, size_t lelen)
{
	le[0] = '\0';
	if (*p != '{')
		return p;
	p++;
	while (*p != '}') {
		char label[64];
		p = parse_name(p, label, sizeof(label));
		if (!p || strchr(label, ':') || *p++ != '=' || *p++ != '"')
			return NULL;
		char value[512];
		size_t n = 0;
		for (; *p != '"'; p++) {
			if (!*p || *p == '\n')
				return NULL;
			if (*p == '\\') {
				p++;
				if (*p != '\\' && *p != '"' && *p != 'n')
					return NULL;
			}
			if (n + 1 < sizeof(value))
				value[n++] = *p;
		}
		value[n] = '\0';
		p++;
		if (strcmp(label, "le") == 0)
			snprintf(le, lelen, "%s", value);
		if (*p == ',')
			p++;
		else if (*p != '}')
			return NULL;
	}
	return p + 1;
}

static double parse_value(const char *text)
{
	if (strcmp(text, "+Inf") == 0)
		return 1e308;
	char *end;
	double v = strtod(text, &end);
	assert_true(end != text && *end == '\0');
	return v;
}

static void check_sample(struct prom_check *c, const char *line)
{
	char name[128], le[512];
	const char *p = parse_name(line, name, sizeof(name));
	assert_non_null(p);
	const char *labels_start = p;
	p = parse_labels(p, le, sizeof(le));
	assert_non_null(p);
	assert_true(*p == ' ');
	/* Every sample belongs to the family declared last (histograms add suffixes). */
	assert_non_null(c->current);
	size_t base = strlen(c->current->name);
	assert_true(strncmp(name, c->current->name, base) == 0);
	const char *suffix = name + base;
	bool histogram = strcmp(c->current->type, "histogram") == 0;
	if (histogram)
		assert_true(!strcmp(suffix, "_bucket") || !strcmp(suffix, "_sum") || !strcmp(suffix, "_count"));
	else
		assert_string_equal(suffix, "");
	double v = parse_value(p + 1);
	assert_true(v >= 0);
	c->current->sampled = true;
	/* No series twice. */
	char series[512];
	snprintf(series, sizeof(series), "%s%.*s", name, (int)(p - labels_start), labels_start);
	for (int i = 0; i < c->nseries; i++)
		assert_string_not_equal(c->series[i], series);
	assert_true(c->nseries < 512);
	snprintf(c->series[c->nseries++], sizeof(c->series[0]), "%s", series);
	if (!histogram)
		return;
	if (!strcmp(suffix, "_bucket")) {
		assert_true(le[0]);
		if (!strcmp(le, "+Inf")) {
			assert_true(v >= c->last_bucket);
			c->inf_bucket = v;
			c->last_bucket = 0;
		} else {
			assert_true(v >= c->last_bucket); /* cumulative */
			c->last_bucket = v;
		}
	} else if (!strcmp(suffix, "_count")) {
		assert_true(v == c->inf_bucket);
	}
}

static void check_prometheus(struct prom_check *c, char *text)
{
	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			struct prom_family *f = &c->families[c->nfamilies++];
			assert_int_equal(sscanf(line + 7, "%127s %15s", f->name, f->type), 2);
			assert_true(!strcmp(f->type, "counter") || !strcmp(f->type, "gauge") ||
				    !strcmp(f->type, "histogram"));
			for (int i = 0; i + 1 < c->nfamilies; i++)
				assert_string_not_equal(c->families[i].name, f->name);
			if (!strcmp(f->type, "counter"))
				assert_true(strlen(f->name) > 6 &&
					    !strcmp(f->name + strlen(f->name) - 6, "_total"));
			c->current = f;
			continue;
		}
		assert_true(line[0] != '#');
		check_sample(c, line);
	}
	for (int i = 0; i < c->nfamilies; i++)
		assert_true(c->families[i].sampled);
}

static bool has_series(const struct prom_check *c, const char *prefix)
{
	for (int i = 0; i < c->nseries; i++)
		if (strncmp(c->series[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static struct prom_check prom;

static void test_prometheus_is_valid(void **state)
{
	(void)state;
	struct stats_snapshot snap = make_snapshot();
	char *text = stats_render_prometheus(&snap);
	assert_non_null(text);
	memset(&prom, 0, sizeof(prom));
	check_prometheus(&prom, text);
	free(text);
	/* Labels escaped; WAF only where it exists (ssd), zones only for the zoned namespace. */
	assert_true(has_series(&prom, "nvemu_write_amplification{subsys=\"nqn.test:\\\"quoted\\\"\\\\x\",nsid=\"1\""));
	assert_false(has_series(&prom, "nvemu_write_amplification{subsys=\"nqn.test\",nsid=\"2\""));
	assert_false(has_series(&prom, "nvemu_write_amplification{subsys=\"nqn.test\",nsid=\"3\""));
	assert_false(has_series(&prom, "nvemu_gc_runs_total{subsys=\"nqn.test\",nsid=\"2\""));
	assert_true(has_series(&prom, "nvemu_zones{subsys=\"nqn.test\",nsid=\"3\",kind=\"zoned\",state=\"full\"}"));
	assert_false(has_series(&prom, "nvemu_zones{subsys=\"nqn.test\",nsid=\"2\""));
	/* FDP: a series per handle and per group; a handle with nothing written has no WAF. */
	assert_true(has_series(
	    &prom,
	    "nvemu_fdp_nand_pages_written_total{subsys=\"nqn.test:\\\"quoted\\\"\\\\x\",nsid=\"1\",kind=\"ssd\",ruh=\"0\"}"));
	assert_true(has_series(
	    &prom,
	    "nvemu_fdp_reclaim_units_opened_total{subsys=\"nqn.test:\\\"quoted\\\"\\\\x\",nsid=\"1\",kind=\"ssd\",rg=\"0\"}"));
	assert_true(has_series(
	    &prom,
	    "nvemu_fdp_write_amplification{subsys=\"nqn.test:\\\"quoted\\\"\\\\x\",nsid=\"1\",kind=\"ssd\",ruh=\"0\"}"));
	assert_false(has_series(
	    &prom,
	    "nvemu_fdp_write_amplification{subsys=\"nqn.test:\\\"quoted\\\"\\\\x\",nsid=\"1\",kind=\"ssd\",ruh=\"1\"}"));
	assert_false(has_series(&prom, "nvemu_fdp_valid_pages{subsys=\"nqn.test\""));
	/* Wear only where the model wears (the ssd namespace here, not the zoned one). */
	assert_true(has_series(&prom, "nvemu_available_spare_ratio{subsys=\"nqn.test:"));
	assert_false(has_series(&prom, "nvemu_available_spare_ratio{subsys=\"nqn.test\",nsid=\"3\""));
}

static void test_prometheus_latency_buckets(void **state)
{
	(void)state;
	struct stats_snapshot snap = make_snapshot();
	char *text = stats_render_prometheus(&snap);
	assert_non_null(text);
	/* 1.5 .. 1000.5 us: 99 at or below 100 us, whose buckets lie wholly below 100 us. */
	const char *want = "nvemu_command_latency_seconds_bucket{subsys=\"nqn.test:\\\"quoted\\\"\\\\x\","
			   "nsid=\"1\",kind=\"ssd\",le=\"0.0001\"} 99\n";
	assert_non_null(strstr(text, want));
	assert_non_null(strstr(text, "nvemu_command_latency_seconds_count{subsys=\"nqn.test\",nsid=\"2\",kind=\"ram\"} 1\n"));
	free(text);
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void test_json_says_not_applicable(void **state)
{
	(void)state;
	struct stats_snapshot snap = make_snapshot();
	char *text = stats_render_json(&snap, false);
	assert_non_null(text);
	json_object *root = json_tokener_parse(text);
	free(text);
	assert_non_null(root);
	json_object *list = get(root, "namespaces");
	json_object *ssd = json_object_array_get_idx(list, 0), *ram = json_object_array_get_idx(list, 1);
	assert_true(json_object_get_double(get(ssd, "waf")) == 1.5);
	assert_int_equal(json_object_get_uint64(get(ssd, "gc_runs")), 3);
	assert_int_equal(json_object_get_uint64(get(get(ssd, "latency"), "count")), 1000);
	assert_null(get(ram, "waf"));
	assert_null(get(ram, "gc_runs"));
	assert_null(get(ram, "host_pages_written"));
	assert_null(get(ram, "zones"));
	json_object *na = get(ram, "not_applicable");
	assert_string_equal(json_object_get_string(get(na, "waf")), "no flash model behind this namespace kind");
	assert_non_null(get(na, "write_buffer_fill"));
	assert_int_equal(json_object_get_uint64(get(ram, "outstanding")), 2);
	/* The zoned namespace has a model but no host write yet: WAF has no value. */
	json_object *zoned = json_object_array_get_idx(list, 2);
	assert_null(get(zoned, "waf"));
	assert_int_equal(json_object_get_uint64(get(get(zoned, "zones"), "empty")), 6);
	/* FDP: per handle and group on the ssd, and why not elsewhere. */
	json_object *fdp = get(ssd, "fdp");
	json_object *h0 = json_object_array_get_idx(get(fdp, "handles"), 0);
	json_object *h1 = json_object_array_get_idx(get(fdp, "handles"), 1);
	assert_int_equal(json_object_get_uint64(get(h0, "nand_pages_written")), 1500);
	assert_true(json_object_get_double(get(h0, "waf")) == 1.5);
	assert_null(get(h1, "waf"));
	assert_int_equal(
	    json_object_get_uint64(
		get(json_object_array_get_idx(get(fdp, "groups"), 0), "reclaim_units_opened")),
	    6);
	assert_null(get(zoned, "fdp"));
	assert_string_equal(json_object_get_string(get(get(zoned, "not_applicable"), "fdp")),
			    "FDP is off (model key fdp)");
	assert_string_equal(json_object_get_string(get(na, "fdp")),
			    "no flash model behind this namespace kind");
	/* Wear: the ssd namespace's, none for the zoned one. */
	json_object *wear = get(ssd, "wear");
	assert_int_equal(json_object_get_uint64(get(wear, "available_spare_pcent")), 40);
	assert_int_equal(json_object_get_uint64(get(wear, "retired_blocks")), 7);
	assert_true(json_object_get_double(get(wear, "percent_used")) == 62.5);
	assert_false(json_object_get_boolean(get(wear, "read_only")));
	assert_false(json_object_object_get_ex(zoned, "wear", NULL));
	json_object_put(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shard_percentiles),
	    cmocka_unit_test(test_empty_shard_is_zero_bytes),
	    cmocka_unit_test(test_subtract_leaves_the_interval),
	    cmocka_unit_test(test_merge_while_adding),
	    cmocka_unit_test(test_prometheus_is_valid),
	    cmocka_unit_test(test_prometheus_latency_buckets),
	    cmocka_unit_test(test_json_says_not_applicable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
