/* `nvemu sim`: options, preconditioning, the measured phase, and the report (text or JSON). */
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ns/ns.h"
#include "ns/zoned.h"
#include "sim/sim.h"
#include "sim/sim_internal.h"
#include "util/util.h"

#define MAX_ASSIGNMENTS 256
#define FILL_MIN_PAGES 32 /* sequential fill in I/Os of at least 128 KiB (4 KiB pages) */

struct options {
	struct ssd_params ssd;
	struct sim_params sim;
	struct zoned_params zoned;
	bool zoned_kind; /* a zone key was given: the device is zoned */
	const char *preset;
	const char *assignments[MAX_ASSIGNMENTS];
	int assignment_count;
	bool json, quiet, seed_given;
	uint64_t seed;
	const char *save, *load; /* drive directories (docs/persistence.md) */
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: nvemu sim [--preset NAME|FILE] [-o key=value]... [--seed N] [--json] [--quiet]\n"
	    "                 [--load DIR] [--save DIR]\n"
	    "       nvemu sim --list-keys\n"
	    "Runs the SSD model in virtual time (zoned when a zone key is given, as in the\n"
	    "femu-zns and wd-zn540-8tb presets). Presets: see presets/ (docs/validation.md).\n"
	    "--load DIR starts from the model state of ssd drive directory DIR (not changed; no\n"
	    "preconditioning unless asked); --save DIR writes the model state at the end as a new\n"
	    "drive directory the daemon serves with --path DIR (its data reads as zeroes).\n"
	    "Example: nvemu sim --json -o workload=randwrite -o op_pcent=7\n");
}

/* A key goes to the model's table if it knows it, else to the workload's. */
static int apply_key(const char *key, const char *value, void *ctx, char *err, size_t errlen)
{
	struct options *o = ctx;
	if (config_find(&ssd_config_table, key))
		return config_set(&o->ssd, key, value, err, errlen);
	if (config_find(&sim_config_table, key))
		return config_set_in(&sim_config_table, &o->sim, key, value, err, errlen);
	if (config_find(&zoned_config_table, key)) {
		o->zoned_kind = true;
		return config_set_in(&zoned_config_table, &o->zoned, key, value, err, errlen);
	}
	return errorf(err, errlen, "%s: unknown key (see nvemu sim --list-keys)", key);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option long_options[] = {
		{"preset", required_argument, NULL, 'p'}, {"json", no_argument, NULL, 'j'},
		{"seed", required_argument, NULL, 's'},   {"quiet", no_argument, NULL, 'q'},
		{"list-keys", no_argument, NULL, 'l'},    {"help", no_argument, NULL, 'h'},
		{"save", required_argument, NULL, 'S'},   {"load", required_argument, NULL, 'L'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:p:jqs:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (o->assignment_count == MAX_ASSIGNMENTS) {
				fprintf(stderr, "sim: too many -o options\n");
				return -1;
			}
			o->assignments[o->assignment_count++] = optarg;
			break;
		case 'p': o->preset = optarg; break;
		case 'S': o->save = optarg; break;
		case 'L': o->load = optarg; break;
		case 'j': o->json = true; break;
		case 'q': o->quiet = true; break;
		case 's': {
			char err[160];
			if (parse_u64(optarg, 0, UINT64_MAX, &o->seed, err, sizeof(err))) {
				fprintf(stderr, "sim: --seed: %s\n", err);
				return -1;
			}
			o->seed_given = true;
			break;
		}
		case 'l':
			printf("Model keys (-o, preset files, the daemon's ssd namespaces):\n");
			config_print_keys(&ssd_config_table, stdout);
			printf(
			    "Zone keys (the zoned kind; any of them makes the simulated device zoned):\n");
			config_print_keys(&zoned_config_table, stdout);
			printf("Workload keys (nvemu sim only):\n");
			config_print_keys(&sim_config_table, stdout);
			return 1;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sim: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	char err[512];
	if (o->preset) {
		char path[4096];
		if (config_preset_path(o->preset, path, sizeof(path)) != 0) {
			fprintf(stderr, "sim: preset '%s' not found\n", o->preset);
			return -1;
		}
		if (config_parse_file(path, apply_key, o, err, sizeof(err)) != 0) {
			fprintf(stderr, "sim: %s\n", err);
			return -1;
		}
	}
	for (int i = 0; i < o->assignment_count; i++) {
		const char *eq = strchr(o->assignments[i], '=');
		char key[128];
		if (!eq || eq == o->assignments[i] || (size_t)(eq - o->assignments[i]) >= sizeof(key)) {
			fprintf(stderr, "sim: -o %s: expected key=value\n", o->assignments[i]);
			return -1;
		}
		memcpy(key, o->assignments[i], (size_t)(eq - o->assignments[i]));
		key[eq - o->assignments[i]] = '\0';
		if (apply_key(key, eq + 1, o, err, sizeof(err)) != 0) {
			fprintf(stderr, "sim: -o %s\n", err);
			return -1;
		}
	}
	if (o->seed_given)
		o->ssd.seed = o->seed;
	if (o->sim.trace[0])
		o->sim.workload = WL_TRACE;
	else if (o->sim.workload == WL_TRACE) {
		fprintf(stderr, "sim: workload=trace needs -o trace=FILE\n");
		return -1;
	}
	enum workload_kind w = (enum workload_kind)o->sim.workload;
	if (o->zoned_kind && w != WL_READ && w != WL_RANDREAD && w != WL_WRITE) {
		fprintf(stderr, "sim: a zoned device is written sequentially: workload=write, read "
				"or randread\n");
		return -1;
	}
	if (o->zoned_kind && (o->load || o->save)) {
		fprintf(stderr, "sim: --load and --save keep ssd drives (no zone keys)\n");
		return -1;
	}
	/* A loaded drive is in the state it was left in: no preconditioning unless asked. */
	if (o->load && o->sim.precondition == PRE_AUTO)
		o->sim.precondition = PRE_NONE;
	return 0;
}

static int push_model_key(const char *key, const char *value, void *ctx, char *err, size_t errlen)
{
	if (!config_find(&ssd_config_table, key))
		return 0;
	char assignment[512];
	snprintf(assignment, sizeof(assignment), "%s=%s", key, value);
	return arg_list_push(ctx, assignment) ? errorf(err, errlen, "out of memory") : 0;
}

/* The model keys given (preset, -o, --seed), to go over a loaded drive's own. */
static int model_assignments(const struct options *o, struct arg_list *out, char *err,
			     size_t errlen)
{
	char path[4096];
	if (o->preset && (config_preset_path(o->preset, path, sizeof(path)) ||
			  config_parse_file(path, push_model_key, out, err, errlen)))
		return -1;
	for (int i = 0; i < o->assignment_count; i++) {
		char key[128];
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(o->assignments[i], "="),
			 o->assignments[i]);
		if (config_find(&ssd_config_table, key) && arg_list_push(out, o->assignments[i]))
			return errorf(err, errlen, "out of memory");
	}
	char seed[64];
	snprintf(seed, sizeof(seed), "seed=%" PRIu64, o->seed);
	if (o->seed_given && arg_list_push(out, seed))
		return errorf(err, errlen, "out of memory");
	return 0;
}

/* The model: a new one, or a drive directory's (--load). */
static int open_target(struct options *o, struct sim_target *t, char *err, size_t errlen)
{
	if (!o->load)
		return target_open(t, &o->ssd, o->zoned_kind ? &o->zoned : NULL, err, errlen);
	struct arg_list keys = {0};
	struct ns_model_drive *loaded = NULL;
	if (!model_assignments(o, &keys, err, errlen))
		loaded = ns_model_drive_load(o->load, (const char *const *)keys.argv,
					     (unsigned)keys.argc, err, errlen);
	arg_list_free(&keys);
	if (!loaded)
		return -1;
	o->ssd = *ns_model_drive_params(loaded);
	target_load(t, loaded);
	return 0;
}

static enum precondition_kind resolve_precondition(const struct sim_params *p)
{
	if (p->precondition != PRE_AUTO)
		return (enum precondition_kind)p->precondition;
	switch ((enum workload_kind)p->workload) {
	case WL_RANDWRITE:
	case WL_RANDRW:
	case WL_RW:
	case WL_HOTCOLD:
	case WL_CACHE:
		return PRE_STEADY;
	case WL_READ:
	case WL_RANDREAD: return PRE_FILL;
	default: return PRE_NONE;
	}
}

/* Greedy GC, uniform random writes, large blocks: x = e^(-(1+op)(1-x)), WAF = 1/(1-x). */
static double greedy_waf_theory(double op)
{
	double x = 0.5;
	for (int i = 0; i < 100000; i++)
		x = exp(-(1 + op) * (1 - x));
	return 1 / (1 - x);
}

static bool two_streams(const struct sim_params *p)
{
	return p->workload == WL_HOTCOLD || p->workload == WL_CACHE;
}

/* hotcold and cache: the hot region's pages, and the log's I/O size in pages. */
static uint64_t hot_pages(const struct sim_params *p, uint64_t footprint_pages)
{
	return (uint64_t)((double)footprint_pages * p->hot_pcent / 100);
}

static uint32_t log_npages(const struct sim_params *p, uint32_t npages, uint32_t page_bytes)
{
	uint64_t bytes = p->log_bs ? p->log_bs : p->workload == WL_CACHE ? 16ull << 20 : 0;
	return bytes ? (uint32_t)((bytes + page_bytes - 1) / page_bytes) : npages;
}

static void two_stream_for(struct two_stream_source *src, const struct options *o,
			   uint64_t footprint_pages, uint32_t npages, uint32_t page_bytes,
			   uint64_t seed)
{
	two_stream_init(src, hot_pages(&o->sim, footprint_pages), npages, footprint_pages,
			log_npages(&o->sim, npages, page_bytes), o->sim.hot_write_pcent / 100,
			seed);
}

/*
 * A sequential fill (the two-stream workloads write each region on its own handle), then for
 * steady state `warmup` passes of random writes, or of the two-stream workload itself.
 */
static void precondition(struct sim_target *t, const struct options *o, uint64_t footprint_pages,
			 uint32_t npages, uint64_t *now, struct phase_result *r)
{
	enum precondition_kind kind = resolve_precondition(&o->sim);
	if (kind == PRE_NONE)
		return;
	uint32_t page_bytes = t->page_bytes;
	struct synthetic_source src;
	uint32_t fill_pages = npages > FILL_MIN_PAGES ? npages : FILL_MIN_PAGES;
	synthetic_init(&src, false, 0, fill_pages, footprint_pages, 0);
	if (two_streams(&o->sim))
		src.handle1_from = hot_pages(&o->sim, footprint_pages);
	uint64_t fill_bytes = (footprint_pages + fill_pages - 1) / fill_pages * fill_pages * page_bytes;
	run_phase(t, &src.base, 32, fill_bytes, 0, now, "precondition: fill", !o->quiet, r);
	if (kind != PRE_STEADY || o->sim.warmup <= 0 || t->zones)
		return;
	uint64_t warm_bytes = (uint64_t)(o->sim.warmup * (double)footprint_pages) * page_bytes;
	if (two_streams(&o->sim)) {
		struct two_stream_source warm;
		two_stream_for(&warm, o, footprint_pages, npages, page_bytes, o->ssd.seed ^ 0x5eed);
		run_phase(t, &warm.base, o->sim.queue_depth, warm_bytes, 0, now,
			  "precondition: the workload", !o->quiet, r);
		return;
	}
	synthetic_init(&src, true, 0, npages, footprint_pages, o->ssd.seed ^ 0x5eed);
	run_phase(t, &src.base, o->sim.queue_depth, warm_bytes, 0, now,
		  "precondition: random writes", !o->quiet, r);
}

static json_object *fdp_counters_json(const char *id_name, uint32_t id,
				      const struct ssd_fdp_counters *a,
				      const struct ssd_fdp_counters *b)
{
	uint64_t host = a->host_pages - b->host_pages, nand = a->nand_pages - b->nand_pages;
	json_object *o = json_object_new_object();
	json_object_object_add(o, id_name, json_object_new_uint64(id));
	json_object_object_add(o, "host_pages", json_object_new_uint64(host));
	json_object_object_add(o, "nand_pages", json_object_new_uint64(nand));
	json_object_object_add(o, "gc_pages", json_object_new_uint64(a->gc_pages - b->gc_pages));
	json_object_object_add(o, "waf",
			       json_object_new_double(host ? (double)nand / (double)host : 0));
	json_object_object_add(o, "rus_opened",
			       json_object_new_uint64(a->rus_opened - b->rus_opened));
	json_object_object_add(o, "rus_erased",
			       json_object_new_uint64(a->rus_erased - b->rus_erased));
	json_object_object_add(o, "valid_pages", json_object_new_uint64(a->valid_pages));
	return o;
}

/*
 * The measured phase per FDP handle (the sim places on handle h of group 0, so its PID is h)
 * and per reclaim group: what the host and GC wrote through each.
 */
static void fdp_json(json_object *j, const struct phase_result *r)
{
	json_object *handles = json_object_new_array(), *groups = json_object_new_array();
	for (uint32_t i = 0; i < r->handles + r->groups; i++) {
		bool group = i >= r->handles;
		uint32_t id = group ? i - r->handles : i;
		json_object *o = fdp_counters_json(group ? "rg" : "pid", id, &r->fdp_after[i],
						   &r->fdp_before[i]);
		if (!group)
			json_object_object_add(o, "ruh", json_object_new_uint64(id));
		json_object_array_add(group ? groups : handles, o);
	}
	json_object_object_add(j, "handles", handles);
	json_object_object_add(j, "groups", groups);
}

/* Counters of the optional pieces, when they did anything. */
static void add_pieces_json(json_object *j, const struct ssd_counters *a,
			    const struct ssd_counters *b)
{
	json_object_object_add(j, "read_retries",
			       json_object_new_uint64(a->read_retries - b->read_retries));
	json_object_object_add(j, "slc_pages_written",
			       json_object_new_uint64(a->slc_pages_written - b->slc_pages_written));
	json_object_object_add(j, "slc_pages_folded",
			       json_object_new_uint64(a->slc_pages_folded - b->slc_pages_folded));
	json_object_object_add(j, "slc_cache_bytes", json_object_new_uint64(a->slc_cache_bytes));
	json_object_object_add(j, "slc_used_bytes", json_object_new_uint64(a->slc_used_bytes));
	json_object_object_add(j, "map_hits", json_object_new_uint64(a->map_hits - b->map_hits));
	json_object_object_add(j, "map_misses",
			       json_object_new_uint64(a->map_misses - b->map_misses));
	json_object_object_add(j, "map_pages_written",
			       json_object_new_uint64(a->map_pages_written - b->map_pages_written));
}

/* Latency bands whose parts the report gives (percent of the commands, by latency). */
static const double bands[][2] = {{0, 50}, {50, 90}, {90, 99}, {99, 99.9}, {99.9, 100}};
#define BANDS ARRAY_SIZE(bands)

static json_object *breakdown_json(const struct phase_result *r)
{
	json_object *parts = json_object_new_object();
	for (int i = 0; i < LAT_PARTS; i++) {
		const struct histogram *h = &r->breakdown->part[i];
		json_object *part = json_object_new_object();
		json_object_object_add(
		    part, "mean",
		    json_object_new_double(h->count ? h->sum / (double)h->count / 1e3 : 0));
		json_object_object_add(
		    part, "p99", json_object_new_double((double)histogram_quantile(h, 0.99) / 1e3));
		json_object_object_add(parts, lat_part_names[i], part);
	}
	return parts;
}

static json_object *bands_json(const struct phase_result *r)
{
	json_object *list = json_object_new_array();
	for (size_t b = 0; b < BANDS; b++) {
		double mean[LAT_PARTS];
		breakdown_band(r->breakdown, r->latency, bands[b][0] / 100, bands[b][1] / 100,
			       mean);
		json_object *band = json_object_new_object(), *range = json_object_new_array();
		json_object_array_add(range, json_object_new_double(bands[b][0]));
		json_object_array_add(range, json_object_new_double(bands[b][1]));
		json_object_object_add(band, "percentiles", range);
		for (int i = 0; i < LAT_PARTS; i++)
			json_object_object_add(band, lat_part_names[i],
					       json_object_new_double(mean[i] / 1e3));
		json_object_array_add(list, band);
	}
	return list;
}

/* One text line of the parts' means in a band, biggest first, zeros left out. */
static void print_band(const struct phase_result *r, double lo, double hi, const char *label)
{
	double mean[LAT_PARTS];
	breakdown_band(r->breakdown, r->latency, lo / 100, hi / 100, mean);
	int order[LAT_PARTS];
	for (int i = 0; i < LAT_PARTS; i++)
		order[i] = i;
	for (int i = 1; i < LAT_PARTS; i++)
		for (int j = i; j > 0 && mean[order[j]] > mean[order[j - 1]]; j--) {
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	printf("  %s:", label);
	for (int i = 0; i < LAT_PARTS && mean[order[i]] >= 0.05; i++)
		printf(" %s %.1f", lat_part_names[order[i]], mean[order[i]] / 1e3);
	printf("\n");
}

static void report(const struct options *o, const struct sim_target *t,
		   const struct phase_result *r, double precondition_wall)
{
	const struct ssd_counters *a = &r->after, *b = &r->before;
	double sim_s = (double)(r->sim_end_ns - r->sim_start_ns) * 1e-9;
	uint64_t host = a->host_pages_written - b->host_pages_written;
	uint64_t nand = a->nand_pages_written - b->nand_pages_written;
	double waf = host ? (double)nand / (double)host : 0;
	double iops = sim_s > 0 ? (double)r->ios / sim_s : 0;
	double mbps = sim_s > 0 ? (double)r->bytes / sim_s / 1e6 : 0;
	const struct histogram *h = r->latency;
	double lat_mean = h->count ? h->sum / (double)h->count / 1e3 : 0;
	double p50 = (double)histogram_quantile(h, 0.5) / 1e3;
	double p99 = (double)histogram_quantile(h, 0.99) / 1e3;
	double p999 = (double)histogram_quantile(h, 0.999) / 1e3;
	double theory = greedy_waf_theory(o->ssd.op_pcent / 100);
	const char *workload = sim_config_table.keys[0].choices[o->sim.workload];
	uint64_t logical_bytes = t->logical_pages * t->page_bytes;
	double wall_rate = r->wall_seconds > 0 ? (double)r->ios / r->wall_seconds : 0;

	if (o->json) {
		json_object *j = json_object_new_object(), *lat = json_object_new_object(),
			    *er = json_object_new_object();
		json_object_object_add(j, "workload", json_object_new_string(workload));
		json_object_object_add(j, "iops", json_object_new_double(iops));
		json_object_object_add(j, "mbps", json_object_new_double(mbps));
		json_object_object_add(lat, "mean", json_object_new_double(lat_mean));
		json_object_object_add(lat, "p50", json_object_new_double(p50));
		json_object_object_add(lat, "p99", json_object_new_double(p99));
		json_object_object_add(lat, "p999", json_object_new_double(p999));
		json_object_object_add(lat, "max", json_object_new_double((double)h->max / 1e3));
		json_object_object_add(j, "lat_us", lat);
		json_object_object_add(j, "waf", json_object_new_double(waf));
		json_object_object_add(j, "host_pages_written", json_object_new_uint64(host));
		json_object_object_add(j, "nand_pages_written", json_object_new_uint64(nand));
		json_object_object_add(j, "gc_runs", json_object_new_uint64(a->gc_runs - b->gc_runs));
		json_object_object_add(er, "min", json_object_new_uint64(a->erase_min));
		json_object_object_add(er, "mean", json_object_new_double(a->erase_mean));
		json_object_object_add(er, "max", json_object_new_uint64(a->erase_max));
		json_object_object_add(j, "erase_count", er);
		json_object_object_add(j, "simulated_seconds", json_object_new_double(sim_s));
		json_object_object_add(j, "wall_seconds", json_object_new_double(r->wall_seconds));
		json_object_object_add(j, "precondition_wall_seconds",
				       json_object_new_double(precondition_wall));
		json_object_object_add(j, "ios", json_object_new_uint64(r->ios));
		json_object_object_add(j, "reads", json_object_new_uint64(r->reads));
		json_object_object_add(j, "writes", json_object_new_uint64(r->writes));
		json_object_object_add(j, "ios_per_wall_second", json_object_new_double(wall_rate));
		json_object_object_add(j, "op_pcent", json_object_new_double(o->ssd.op_pcent));
		json_object_object_add(j, "waf_theory_greedy_uniform", json_object_new_double(theory));
		json_object_object_add(j, "logical_bytes", json_object_new_uint64(logical_bytes));
		json_object_object_add(j, "page_bytes", json_object_new_uint64(t->page_bytes));
		json_object_object_add(j, "kind",
				       json_object_new_string(t->zones ? "zoned" : "ssd"));
		json_object_object_add(j, "seed", json_object_new_uint64(o->ssd.seed));
		if (r->breakdown) {
			json_object_object_add(j, "breakdown_us", breakdown_json(r));
			json_object_object_add(j, "breakdown_by_percentile_us", bands_json(r));
		}
		add_pieces_json(j, a, b);
		json_object_object_add(j, "fdp", json_object_new_boolean(o->ssd.fdp));
		fdp_json(j, r);
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
		json_object_put(j);
		return;
	}
	printf("workload %s, %.3f GB logical, op %.2f%%, seed %" PRIu64 "\n", workload,
	       (double)logical_bytes / 1e9, o->ssd.op_pcent, o->ssd.seed);
	printf("  %" PRIu64 " I/Os (%" PRIu64 " reads, %" PRIu64 " writes) in %.6f s simulated\n",
	       r->ios, r->reads, r->writes, sim_s);
	printf("  iops %.0f  MB/s %.1f\n", iops, mbps);
	printf("  latency us: mean %.1f  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", lat_mean, p50,
	       p99, p999, (double)h->max / 1e3);
	printf("  waf %.3f (greedy theory for uniform random writes at this op: %.3f)\n", waf, theory);
	printf("  host pages written %" PRIu64 ", nand pages written %" PRIu64 ", gc runs %" PRIu64
	       "\n", host, nand, a->gc_runs - b->gc_runs);
	printf("  erases per block: min %" PRIu64 " mean %.2f max %" PRIu64 "\n", a->erase_min,
	       a->erase_mean, a->erase_max);
	for (uint32_t h = 0; h < r->handles; h++) {
		const struct ssd_fdp_counters *ha = &r->fdp_after[h], *hb = &r->fdp_before[h];
		uint64_t hh = ha->host_pages - hb->host_pages, hn = ha->nand_pages - hb->nand_pages;
		if (hh || hn)
			printf("  fdp handle %u: host pages %" PRIu64 ", nand pages %" PRIu64
			       ", waf %.3f, reclaim units opened %" PRIu64 ", erased %" PRIu64 "\n",
			       h, hh, hn, hh ? (double)hn / (double)hh : 0,
			       ha->rus_opened - hb->rus_opened, ha->rus_erased - hb->rus_erased);
	}
	if (r->breakdown) {
		print_band(r, 0, 100, "where the time went, mean us");
		print_band(r, 99, 100, "the slowest 1 %, mean us");
	}
	printf("  wall %.3f s (+%.3f s preconditioning), %.0f simulated I/Os per wall second\n",
	       r->wall_seconds, precondition_wall, wall_rate);
}

int sim_main(int argc, char **argv)
{
	struct options o = {0};
	ssd_params_defaults(&o.ssd);
	config_defaults(&sim_config_table, &o.sim);
	zoned_params_defaults(&o.zoned);
	int rc = parse_options(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 2;

	char err[1024];
	struct sim_target target;
	if (open_target(&o, &target, err, sizeof(err)) != 0) {
		fprintf(stderr, "sim: %s\n", err);
		return 2;
	}
	if (o.sim.workload == WL_ENDURANCE) {
		rc = endurance_run(&target, &o.ssd, &o.sim, o.json, o.quiet);
		target_close(&target);
		return rc;
	}
	uint32_t page_bytes = target.page_bytes;
	uint64_t footprint = (uint64_t)((double)target.logical_pages * o.sim.footprint_pcent / 100);
	uint32_t npages = (uint32_t)((o.sim.block_size + page_bytes - 1) / page_bytes);
	if (footprint < npages)
		footprint = npages;
	if (npages > target.logical_pages) {
		fprintf(stderr, "sim: bs=%" PRIu64 " is larger than the device\n", o.sim.block_size);
		target_close(&target);
		return 2;
	}
	struct histogram *latency = calloc(1, sizeof(*latency));
	struct breakdown *breakdown = o.sim.breakdown ? calloc(1, sizeof(*breakdown)) : NULL;
	if (!latency || (o.sim.breakdown && !breakdown))
		abort();

	uint64_t now = 0;
	struct trace_source *trace = NULL;
	struct io_source *src;
	struct synthetic_source synthetic;
	struct two_stream_source two;
	if (two_streams(&o.sim)) {
		two_stream_for(&two, &o, footprint, npages, page_bytes, o.ssd.seed);
		src = &two.base;
	} else if (o.sim.workload == WL_TRACE) {
		trace = trace_open(&o.sim, page_bytes, target.logical_pages, err, sizeof(err));
		if (!trace) {
			fprintf(stderr, "sim: %s\n", err);
			free(latency);
			free(breakdown);
			target_close(&target);
			return 2;
		}
		src = trace_as_source(trace);
	} else {
		enum workload_kind w = (enum workload_kind)o.sim.workload;
		bool random = w == WL_RANDREAD || w == WL_RANDWRITE || w == WL_RANDRW;
		double reads = w == WL_READ || w == WL_RANDREAD ? 1
			       : w == WL_WRITE || w == WL_RANDWRITE ? 0
								    : o.sim.read_pcent / 100;
		synthetic_init(&synthetic, random, reads, npages, footprint, o.ssd.seed);
		src = &synthetic.base;
	}

	struct ssd_fdp_config fdp;
	bool placed = target.ssd && ssd_fdp_config(target.ssd, &fdp) && fdp.enabled;
	uint32_t handles = placed ? fdp.nruh : 0, groups = placed ? fdp.nrg : 0;
	if (two_streams(&o.sim) && (handles == 1 || target.zones)) {
		fprintf(
		    stderr,
		    "sim: workload %s places two streams and overwrites at random: it needs the "
		    "ssd kind, and fdp_nruh of 2 or more with fdp=on\n",
		    sim_config_table.keys[0].choices[o.sim.workload]);
		trace_close(trace);
		free(latency);
		free(breakdown);
		target_close(&target);
		return 2;
	}
	struct ssd_fdp_counters *fdp_counts =
	    calloc(2 * (handles + groups) + 1, sizeof(*fdp_counts));
	if (!fdp_counts)
		abort();
	struct phase_result r = {.latency = latency,
				 .breakdown = breakdown,
				 .handles = handles,
				 .groups = groups,
				 .fdp_before = fdp_counts,
				 .fdp_after = fdp_counts + handles + groups};
	/* Preconditioning reuses the histogram and skips the breakdown. */
	struct phase_result pre = r;
	pre.breakdown = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	precondition(&target, &o, footprint, npages, &now, &pre);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double precondition_wall =
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	/* Preconditioning reuses the histogram; the measured phase starts from zero. */
	memset(latency, 0, sizeof(*latency));
	now += (uint64_t)(o.sim.idle_s * 1e9);
	uint64_t max_bytes = o.sim.io_size;
	if (!max_bytes && !trace)
		max_bytes = footprint * page_bytes;
	uint64_t max_ns = (uint64_t)(o.sim.duration_s * 1e9);
	run_phase(&target, src, o.sim.queue_depth, max_bytes, max_ns, &now, "measured", !o.quiet,
		  &r);
	if (trace && trace_skipped(trace))
		fprintf(stderr, "sim: %" PRIu64 " trace lines skipped (not I/O or not understood)\n",
			trace_skipped(trace));
	report(&o, &target, &r, precondition_wall);
	int status = 0;
	if (o.save && ns_model_drive_save(o.save, target.ssd, &o.ssd, err, sizeof(err))) {
		fprintf(stderr, "sim: --save: %s\n", err);
		status = 1;
	} else if (o.save && !o.quiet) {
		fprintf(stderr, "sim: saved the model state as drive %s (serve it: nvemu --path %s)\n",
			o.save, o.save);
	}
	trace_close(trace);
	free(breakdown);
	free(fdp_counts);
	free(latency);
	target_close(&target);
	return status;
}
