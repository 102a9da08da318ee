/*
 * workload=endurance: a whole drive life in virtual time. The drive is filled once (so that,
 * with footprint_pcent < 100, the rest holds cold data), then `pattern` writes run until the
 * drive turns read-only, in steps of `life_step` drive writes, each step a point of the life
 * curve. The report gives the bytes written (TBW), drive writes per day over the warranty, the
 * WAF over the life and the erase-count distribution the wear levelling left.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/sim_internal.h"

#define FILL_PAGES 32 /* the fill writes 128 KiB I/Os (4 KiB pages) */
#define HISTOGRAM_BINS 20

struct life_point {
	uint64_t host_bytes, nand_bytes, retired;
	uint32_t avail_spare;
	double percent_used;
};

struct life {
	struct life_point *points;
	size_t count, cap;
};

static void life_add(struct life *life, const struct ssd_counters *c, uint32_t page_bytes)
{
	if (life->count == life->cap) {
		life->cap = life->cap ? 2 * life->cap : 256;
		life->points = realloc(life->points, life->cap * sizeof(*life->points));
		if (!life->points)
			abort();
	}
	life->points[life->count++] = (struct life_point){
	    .host_bytes = c->host_pages_written * page_bytes,
	    .nand_bytes = c->nand_pages_written * page_bytes,
	    .retired = c->retired_blocks,
	    .avail_spare = c->avail_spare_pcent,
	    .percent_used = c->percent_used,
	};
}

/* The erase counts of every erase unit, sorted, and what the report says of them. */
struct erase_stats {
	uint32_t *sorted;
	uint64_t units;
	double mean, stddev;
	uint32_t width; /* of a histogram bin */
	uint64_t bins[HISTOGRAM_BINS];
};

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static void erase_stats(struct ssd *ssd, struct erase_stats *e)
{
	memset(e, 0, sizeof(*e));
	e->units = ssd_units(ssd);
	e->sorted = malloc(e->units * sizeof(*e->sorted));
	if (!e->sorted)
		abort();
	ssd_unit_erases(ssd, e->sorted);
	qsort(e->sorted, e->units, sizeof(*e->sorted), compare_u32);
	double sum = 0, squares = 0;
	for (uint64_t u = 0; u < e->units; u++)
		sum += e->sorted[u];
	e->mean = sum / (double)e->units;
	for (uint64_t u = 0; u < e->units; u++)
		squares += (e->sorted[u] - e->mean) * (e->sorted[u] - e->mean);
	e->stddev = sqrt(squares / (double)e->units);
	e->width = e->sorted[e->units - 1] / HISTOGRAM_BINS + 1;
	for (uint64_t u = 0; u < e->units; u++)
		e->bins[e->sorted[u] / e->width]++;
}

static uint32_t percentile(const struct erase_stats *e, double q)
{
	uint64_t rank = (uint64_t)(q * (double)(e->units - 1) + 0.5);
	return e->sorted[rank];
}

static json_object *erase_json(const struct erase_stats *e)
{
	json_object *o = json_object_new_object(), *hist = json_object_new_array();
	json_object_object_add(o, "min", json_object_new_uint64(e->sorted[0]));
	json_object_object_add(o, "mean", json_object_new_double(e->mean));
	json_object_object_add(o, "max", json_object_new_uint64(e->sorted[e->units - 1]));
	json_object_object_add(o, "stddev", json_object_new_double(e->stddev));
	json_object_object_add(o, "p1", json_object_new_uint64(percentile(e, 0.01)));
	json_object_object_add(o, "p50", json_object_new_uint64(percentile(e, 0.5)));
	json_object_object_add(o, "p99", json_object_new_uint64(percentile(e, 0.99)));
	for (int i = 0; i < HISTOGRAM_BINS; i++)
		json_object_array_add(hist, json_object_new_uint64(e->bins[i]));
	json_object_object_add(o, "histogram_bin_width", json_object_new_uint64(e->width));
	json_object_object_add(o, "histogram", hist);
	return o;
}

static json_object *life_json(const struct life *life)
{
	json_object *list = json_object_new_array();
	for (size_t i = 0; i < life->count; i++) {
		const struct life_point *p = &life->points[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "host_bytes", json_object_new_uint64(p->host_bytes));
		json_object_object_add(o, "nand_bytes", json_object_new_uint64(p->nand_bytes));
		json_object_object_add(o, "available_spare_pcent",
				       json_object_new_uint64(p->avail_spare));
		json_object_object_add(o, "percent_used", json_object_new_double(p->percent_used));
		json_object_object_add(o, "retired_blocks", json_object_new_uint64(p->retired));
		/* Since the previous point: it rises as retired blocks eat the spare. */
		if (i > 0 && p->host_bytes > p[-1].host_bytes)
			json_object_object_add(
			    o, "waf_interval",
			    json_object_new_double((double)(p->nand_bytes - p[-1].nand_bytes) /
						   (double)(p->host_bytes - p[-1].host_bytes)));
		json_object_array_add(list, o);
	}
	return list;
}

static const char *key_choice(const struct config_table *table, const char *key, uint32_t value)
{
	return config_find(table, key)->choices[value];
}

static void report(const struct sim_target *t, const struct ssd_params *sp,
		   const struct sim_params *p, bool json, const struct ssd_counters *c,
		   const struct erase_stats *e, const struct life *life, double sim_s, double wall)
{
	uint64_t logical_bytes = t->logical_pages * t->page_bytes;
	uint64_t tbw = c->host_pages_written * t->page_bytes;
	double drive_writes = (double)tbw / (double)logical_bytes;
	double dwpd = drive_writes / (p->warranty_years * 365);
	const char *levelling = key_choice(&ssd_config_table, "wear_levelling", sp->wear_levelling);
	const char *pattern = key_choice(&sim_config_table, "pattern", p->pattern);
	if (json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "workload", json_object_new_string("endurance"));
		json_object_object_add(j, "pattern", json_object_new_string(pattern));
		json_object_object_add(j, "wear_levelling", json_object_new_string(levelling));
		json_object_object_add(j, "endurance", json_object_new_uint64(sp->endurance));
		json_object_object_add(j, "endurance_spread_pcent",
				       json_object_new_double(sp->endurance_spread_pcent));
		json_object_object_add(j, "op_pcent", json_object_new_double(sp->op_pcent));
		json_object_object_add(j, "footprint_pcent",
				       json_object_new_double(p->footprint_pcent));
		json_object_object_add(j, "logical_bytes", json_object_new_uint64(logical_bytes));
		json_object_object_add(j, "read_only", json_object_new_boolean(c->read_only));
		json_object_object_add(j, "tbw_bytes", json_object_new_uint64(tbw));
		json_object_object_add(
		    j, "nand_bytes_written",
		    json_object_new_uint64(c->nand_pages_written * t->page_bytes));
		json_object_object_add(j, "drive_writes", json_object_new_double(drive_writes));
		json_object_object_add(j, "warranty_years",
				       json_object_new_double(p->warranty_years));
		json_object_object_add(j, "dwpd", json_object_new_double(dwpd));
		json_object_object_add(j, "waf", json_object_new_double(c->waf));
		json_object_object_add(j, "erase_count", erase_json(e));
		json_object_object_add(j, "retired_blocks",
				       json_object_new_uint64(c->retired_blocks));
		json_object_object_add(j, "spare_blocks_initial",
				       json_object_new_uint64(c->retired_blocks + c->spare_blocks));
		json_object_object_add(j, "percent_used", json_object_new_double(c->percent_used));
		json_object_object_add(j, "cold_moves", json_object_new_uint64(c->cold_moves));
		json_object_object_add(j, "read_retries", json_object_new_uint64(c->read_retries));
		json_object_object_add(j, "simulated_seconds", json_object_new_double(sim_s));
		json_object_object_add(j, "wall_seconds", json_object_new_double(wall));
		json_object_object_add(j, "seed", json_object_new_uint64(sp->seed));
		json_object_object_add(j, "life", life_json(life));
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
		json_object_put(j);
		return;
	}
	printf("endurance: %s, bs %" PRIu64 ", footprint %g%% of %.3f GB, wear levelling %s, "
	       "endurance %u (spread %g%%), op %.2f%%, seed %" PRIu64 "\n",
	       pattern, p->block_size, p->footprint_pcent, (double)logical_bytes / 1e9, levelling,
	       sp->endurance, sp->endurance_spread_pcent, sp->op_pcent, sp->seed);
	printf("  %s after %.3f GB written (%.1f drive writes): %.3f drive writes per day over %g "
	       "years\n",
	       c->read_only ? "read-only" : "still writable", (double)tbw / 1e9, drive_writes, dwpd,
	       p->warranty_years);
	printf("  waf over the life %.3f, %" PRIu64 " of %" PRIu64 " spare blocks retired, "
	       "percentage used %.1f, %" PRIu64 " cold moves\n",
	       c->waf, c->retired_blocks, c->retired_blocks + c->spare_blocks, c->percent_used,
	       c->cold_moves);
	printf("  erases per block: min %u p1 %u p50 %u p99 %u max %u, mean %.1f, stddev %.1f\n",
	       e->sorted[0], percentile(e, 0.01), percentile(e, 0.5), percentile(e, 0.99),
	       e->sorted[e->units - 1], e->mean, e->stddev);
	printf("  %.1f s simulated, %.1f s wall\n", sim_s, wall);
}

int endurance_run(struct sim_target *t, const struct ssd_params *sp, const struct sim_params *p,
		  bool json, bool quiet)
{
	if (!t->ssd || !sp->endurance) {
		fprintf(stderr, "sim: workload=endurance needs an ssd device with endurance set "
				"(-o endurance=CYCLES)\n");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint32_t page_bytes = t->page_bytes;
	uint32_t npages = (uint32_t)((p->block_size + page_bytes - 1) / page_bytes);
	uint64_t footprint = (uint64_t)((double)t->logical_pages * p->footprint_pcent / 100);
	if (footprint < npages)
		footprint = npages;
	struct histogram *latency = calloc(1, sizeof(*latency));
	if (!latency)
		abort();
	struct phase_result r = {.latency = latency};
	struct synthetic_source src;
	uint64_t now = 0;
	t->until_read_only = true;

	/* The whole drive holds data, as a drive in use does: what is not written again is cold. */
	synthetic_init(&src, false, 0, FILL_PAGES, t->logical_pages, 0);
	run_phase(t, &src.base, 32,
		  (t->logical_pages + FILL_PAGES - 1) / FILL_PAGES * FILL_PAGES * page_bytes, 0,
		  &now, "endurance: fill", !quiet, &r);

	bool random = p->pattern == PATTERN_RANDWRITE || p->pattern == PATTERN_RANDRW;
	double reads =
	    p->pattern == PATTERN_RANDRW || p->pattern == PATTERN_RW ? p->read_pcent / 100 : 0;
	synthetic_init(&src, random, reads, npages, footprint, sp->seed);
	uint64_t step = (uint64_t)(p->life_step * (double)(t->logical_pages * page_bytes));
	if (step < page_bytes)
		step = page_bytes;
	struct life life = {0};
	struct ssd_counters c;
	ssd_get_counters(t->ssd, &c);
	life_add(&life, &c, page_bytes);
	uint64_t issued = 0, start = now;
	struct timespec shown = t0;
	while (!c.read_only && (!p->io_size || issued < p->io_size)) {
		uint64_t chunk =
		    p->io_size && p->io_size - issued < step ? p->io_size - issued : step;
		run_phase(t, &src.base, p->queue_depth, chunk, 0, &now, "endurance", !quiet, &r);
		issued += r.bytes;
		ssd_get_counters(t->ssd, &c);
		life_add(&life, &c, page_bytes);
		if (r.bytes == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (!quiet && t1.tv_sec - shown.tv_sec >= 10) {
			shown = t1;
			fprintf(stderr, "endurance: %.1f drive writes, spare %u%%, %.1f%% used\n",
				(double)c.host_pages_written / (double)t->logical_pages,
				c.avail_spare_pcent, c.percent_used);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	struct erase_stats e;
	erase_stats(t->ssd, &e);
	report(t, sp, p, json, &c, &e, &life, (double)(now - start) * 1e-9, wall);
	free(e.sorted);
	free(life.points);
	free(latency);
	return 0;
}
