/*
 * `nvemu plot FILE`: turns a time series recorded with `nvemu --record FILE`
 * into PNG charts with gnuplot: latency CDF and percentiles, IOPS and
 * bandwidth, write amplification, GC activity and zone states over time.
 * Rates come from the difference between consecutive records. Given the
 * output of `nvemu sim --json`, it draws where the time went instead, or
 * for workload=endurance the drive's life.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "flash/flash.h"
#include "stats/stats.h"
#include "util/hist.h"

#define MAX_PLOT_NS 64

/* One namespace's series: a data file of one row per record, and the state of the last record. */
struct plot_ns {
	char subsys[256];
	uint32_t nsid;
	char kind[16];
	char label[320];
	bool model, zones;
	bool wrote; /* has host writes, so a WAF */
	FILE *dat;
	bool have_prev;
	double prev_t;
	uint64_t prev[6]; /* read_ios, write_ios, read_bytes, write_bytes, host and nand pages */
	uint64_t prev_gc;
	struct hist prev_latency, latency;
	/* The model's latency breakdown: commands with one and each part's sum (ns) so far. */
	bool breakdown, part_used[LAT_PARTS];
	uint64_t prev_parts_cmds, prev_parts_sum[LAT_PARTS];
};

/* One colour per part of the breakdown, the same in every chart. */
static const char *const part_colors[LAT_PARTS] = {
    [LAT_FW_WAIT] = "#9467bd",     [LAT_CONTROLLER] = "#7f7f7f", [LAT_MAP_MISS] = "#8c564b",
    [LAT_BUFFER_WAIT] = "#e377c2", [LAT_DIE_WAIT] = "#1f77b4",   [LAT_GC] = "#d62728",
    [LAT_SUSPEND] = "#ff7f0e",     [LAT_NAND] = "#2ca02c",       [LAT_READ_RETRY] = "#bcbd22",
    [LAT_LINK] = "#17becf",
};

struct plot {
	char tmpdir[64];
	const char *out_dir;
	struct plot_ns ns[MAX_PLOT_NS];
	unsigned nns;
	unsigned records;
	bool several_subsystems;
};

/* Columns of the data files, for the gnuplot scripts (1-based). */
enum {
	COL_T = 1,
	COL_RIOPS,
	COL_WIOPS,
	COL_RMIB,
	COL_WMIB,
	COL_WAF,
	COL_WAF_INTERVAL,
	COL_GC_PER_S,
	COL_ERASE_MEAN,
	COL_P50,
	COL_P99,
	COL_OUTSTANDING,
	COL_ZONES,                                /* then one per state */
	COL_PARTS = COL_ZONES + STATS_ZONE_STATES /* then one per part of the breakdown */
};

static json_object *field(json_object *obj, const char *key)
{
	json_object *v = NULL;
	return json_object_object_get_ex(obj, key, &v) ? v : NULL;
}

static uint64_t u64(json_object *obj, const char *key) { return json_object_get_uint64(field(obj, key)); }

static struct plot_ns *ns_of(struct plot *p, json_object *ns)
{
	const char *subsys = json_object_get_string(field(ns, "subsys"));
	uint32_t nsid = (uint32_t)u64(ns, "nsid");
	for (unsigned i = 0; i < p->nns; i++)
		if (p->ns[i].nsid == nsid && strcmp(p->ns[i].subsys, subsys ? subsys : "") == 0)
			return &p->ns[i];
	if (p->nns == MAX_PLOT_NS)
		return NULL;
	struct plot_ns *n = &p->ns[p->nns];
	snprintf(n->subsys, sizeof(n->subsys), "%s", subsys ? subsys : "");
	n->nsid = nsid;
	snprintf(n->kind, sizeof(n->kind), "%s", json_object_get_string(field(ns, "kind")));
	n->model = field(ns, "host_pages_written") != NULL;
	n->zones = field(ns, "zones") != NULL;
	char path[128];
	snprintf(path, sizeof(path), "%s/ns%u.dat", p->tmpdir, p->nns);
	if (!(n->dat = fopen(path, "w")))
		return NULL;
	for (unsigned i = 0; i < p->nns; i++)
		p->several_subsystems |= strcmp(p->ns[i].subsys, n->subsys) != 0;
	p->nns++;
	return n;
}

static void put(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, " %.6g", v);
	else
		fputs(" NaN", f);
}

static void add_record_ns(struct plot_ns *n, json_object *ns, double t)
{
	static const char *const counters[6] = {"read_ios", "write_ios", "read_bytes", "write_bytes",
						"host_pages_written", "nand_pages_written"};
	uint64_t now[6];
	for (int k = 0; k < 6; k++)
		now[k] = u64(ns, counters[k]);
	uint64_t gc = u64(ns, "gc_runs");
	cli_latency_from_json(field(ns, "latency"), &n->latency);
	double dt = n->have_prev ? t - n->prev_t : 0;
	double rate[4] = {NAN, NAN, NAN, NAN}, waf_interval = NAN, gc_per_s = NAN, p50 = NAN, p99 = NAN;
	if (dt > 0) {
		for (int k = 0; k < 4; k++)
			rate[k] = (double)(now[k] - n->prev[k]) / dt / (k >= 2 ? 1048576.0 : 1.0);
		if (n->model && now[4] > n->prev[4])
			waf_interval = (double)(now[5] - n->prev[5]) / (double)(now[4] - n->prev[4]);
		if (n->model)
			gc_per_s = (double)(gc - n->prev_gc) / dt;
		struct hist interval = n->latency;
		hist_subtract(&interval, &n->prev_latency);
		if (interval.count) {
			p50 = (double)hist_quantile(&interval, 0.5) / 1e3;
			p99 = (double)hist_quantile(&interval, 0.99) / 1e3;
		}
	}
	json_object *waf = field(ns, "waf");
	n->wrote |= waf != NULL;
	fprintf(n->dat, "%.3f", t);
	for (int k = 0; k < 4; k++)
		put(n->dat, rate[k]);
	put(n->dat, waf ? json_object_get_double(waf) : NAN);
	put(n->dat, waf_interval);
	put(n->dat, gc_per_s);
	put(n->dat, n->model ? json_object_get_double(field(field(ns, "erase_count"), "mean")) : NAN);
	put(n->dat, p50);
	put(n->dat, p99);
	put(n->dat, (double)u64(ns, "outstanding"));
	json_object *zones = field(ns, "zones");
	for (unsigned s = 0; s < STATS_ZONE_STATES; s++)
		put(n->dat, zones ? (double)u64(zones, stats_zone_state_names[s]) : NAN);
	/* Each part's mean over the interval's commands, in us. */
	json_object *breakdown = field(ns, "breakdown");
	uint64_t cmds = breakdown ? u64(breakdown, "commands") : 0;
	for (unsigned p = 0; p < LAT_PARTS; p++) {
		uint64_t sum = breakdown ? u64(field(breakdown, lat_part_names[p]), "sum") : 0;
		bool have = n->have_prev && cmds > n->prev_parts_cmds;
		n->part_used[p] |= sum > 0;
		put(n->dat, have ? (double)(sum - n->prev_parts_sum[p]) /
				       (double)(cmds - n->prev_parts_cmds) / 1e3
				 : NAN);
		n->prev_parts_sum[p] = sum;
	}
	n->breakdown |= cmds > 0;
	n->prev_parts_cmds = cmds;
	fputc('\n', n->dat);
	memcpy(n->prev, now, sizeof(now));
	n->prev_gc = gc;
	n->prev_latency = n->latency;
	n->prev_t = t;
	n->have_prev = true;
}

static int read_records(struct plot *p, const char *path)
{
	FILE *in = fopen(path, "r");
	if (!in) {
		fprintf(stderr, "nvemu plot: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int rc = 0;
	while (rc == 0 && getline(&line, &cap, in) > 0) {
		lineno++;
		json_object *rec = json_tokener_parse(line);
		json_object *list = field(rec, "namespaces");
		if (!rec || !list) {
			fprintf(stderr, "nvemu plot: %s:%u is not a record of nvemu --record\n", path, lineno);
			rc = -1;
		}
		for (size_t i = 0; rc == 0 && i < json_object_array_length(list); i++) {
			json_object *ns = json_object_array_get_idx(list, i);
			struct plot_ns *n = ns_of(p, ns);
			if (!n) {
				fprintf(stderr, "nvemu plot: more than %d namespaces or no temporary space\n",
					MAX_PLOT_NS);
				rc = -1;
				break;
			}
			add_record_ns(n, ns, json_object_get_double(field(rec, "uptime_s")));
		}
		json_object_put(rec);
		p->records += rc == 0;
	}
	free(line);
	fclose(in);
	if (rc == 0 && p->records < 2) {
		fprintf(stderr, "nvemu plot: %s holds %u record(s); rates need at least 2\n", path, p->records);
		rc = -1;
	}
	return rc;
}

/* The whole run's latency distribution: upper bucket edge in us, fraction at or below. */
static int write_cdf(struct plot *p, unsigned i)
{
	const struct hist *h = &p->ns[i].latency;
	char path[128];
	snprintf(path, sizeof(path), "%s/ns%u.cdf", p->tmpdir, i);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < HIST_BUCKETS && h->count; b++) {
		if (!h->buckets[b])
			continue;
		if (!seen)
			fprintf(f, "%.6g 0\n", (double)hist_bucket_low(b) / 1e3);
		seen += h->buckets[b];
		fprintf(f, "%.6g %.6g\n", (double)(hist_bucket_low(b) + hist_bucket_width(b)) / 1e3,
			(double)seen / (double)h->count);
	}
	return fclose(f);
}

/* gnuplot single-quoted string: a quote is written twice. */
static void quoted(FILE *gp, const char *s)
{
	fputc('\'', gp);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', gp);
		fputc(*s, gp);
	}
	fputc('\'', gp);
}

static void begin_png(FILE *gp, const struct plot *p, const char *name, const char *title,
		      const char *ylabel)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", p->out_dir, name);
	fputs("reset\nset terminal pngcairo size 1100,650 noenhanced font 'DejaVu Sans,11'\nset output ", gp);
	quoted(gp, path);
	fprintf(gp, "\nset title '%s'\nset ylabel '%s'\nset xlabel 'Time since the daemon started (s)'\n"
		    "set grid\nset key outside right top\nset yrange [0:*]\n",
		title, ylabel);
}

/* One line per namespace (that passes `want`) of column col, titled label + suffix. */
static void lines(FILE *gp, const struct plot *p, bool (*want)(const struct plot_ns *), int col,
		  const char *suffix, const char *style, bool *first)
{
	for (unsigned i = 0; i < p->nns; i++) {
		if (want && !want(&p->ns[i]))
			continue;
		fputs(*first ? "plot " : ", ", gp);
		*first = false;
		fprintf(gp, "'%s/ns%u.dat' using 1:%d with %s title ", p->tmpdir, i, col, style);
		char title[400];
		snprintf(title, sizeof(title), "%s%s", p->ns[i].label, suffix);
		quoted(gp, title);
	}
}

/* A series with no valid point would only draw a gnuplot warning. */
static bool is_model(const struct plot_ns *n) { return n->model; }
static bool has_waf(const struct plot_ns *n) { return n->wrote; }
static bool has_latency(const struct plot_ns *n) { return n->latency.count > 0; }
static bool is_zoned(const struct plot_ns *n) { return n->zones; }
static bool has_breakdown(const struct plot_ns *n) { return n->breakdown; }

static bool any(const struct plot *p, bool (*want)(const struct plot_ns *))
{
	for (unsigned i = 0; i < p->nns; i++)
		if (want(&p->ns[i]))
			return true;
	return false;
}

/*
 * Where the time went, per record interval: the model's mean latency breakdown, stacked (the
 * top is the mean modelled latency), one chart per namespace with a model, one above the other.
 */
static void breakdown_script(FILE *gp, const struct plot *p)
{
	unsigned charts = 0;
	for (unsigned i = 0; i < p->nns; i++)
		charts += has_breakdown(&p->ns[i]);
	begin_png(gp, p, "breakdown.png",
		  "Where the time went: the latency breakdown of the flash model",
		  "Mean per command in the interval (µs)");
	fprintf(gp, "set multiplot layout %u,1\nset style fill solid 0.85 noborder\n", charts);
	for (unsigned i = 0; i < p->nns; i++) {
		if (!has_breakdown(&p->ns[i]))
			continue;
		fputs("set title ", gp);
		quoted(gp, p->ns[i].label);
		/* The sum of the parts up to p, drawn from the biggest down so each shows. */
		fputc('\n', gp);
		bool first = true;
		for (int top = LAT_PARTS - 1; top >= 0; top--) {
			if (!p->ns[i].part_used[top])
				continue;
			fprintf(gp, "%s'%s/ns%u.dat' using 1:(0", first ? "plot " : ", ", p->tmpdir,
				i);
			for (int part = 0; part <= top; part++)
				fprintf(gp, "+$%d", COL_PARTS + part);
			fprintf(gp, ") with filledcurves x1 lc rgb '%s' title '%s'",
				part_colors[top], lat_part_names[top]);
			first = false;
		}
		fputc('\n', gp);
	}
	fputs("unset multiplot\n", gp);
}

static void script(FILE *gp, const struct plot *p)
{
	bool first = true;
	begin_png(gp, p, "latency-cdf.png", "Command latency inside the target, whole run (CDF)",
		  "Fraction of commands at or below");
	fputs("set xlabel 'Latency from command receipt to response queued (µs, log scale)'\n"
	      "set logscale x\nset yrange [0:1.02]\nset key bottom right inside\n", gp);
	for (unsigned i = 0; i < p->nns; i++) {
		if (!has_latency(&p->ns[i]))
			continue;
		fprintf(gp, "%s'%s/ns%u.cdf' using 1:2 with steps lw 2 title ", first ? "plot " : ", ",
			p->tmpdir, i);
		quoted(gp, p->ns[i].label);
		first = false;
	}
	fputc('\n', gp);

	begin_png(gp, p, "latency.png", "Command latency per record interval",
		  "Latency (µs, log scale)");
	fputs("set logscale y\nset yrange [*:*]\n", gp);
	first = true;
	lines(gp, p, has_latency, COL_P50, " p50", "linespoints pt 7 ps 0.5 lw 2", &first);
	lines(gp, p, has_latency, COL_P99, " p99", "linespoints pt 5 ps 0.5 dt 2 lw 2", &first);
	fputc('\n', gp);

	begin_png(gp, p, "iops.png", "I/O rate and bandwidth", "Commands per second (IOPS)");
	fputs("set multiplot layout 2,1\nunset xlabel\n", gp);
	first = true;
	lines(gp, p, NULL, COL_RIOPS, " read", "lines lw 2", &first);
	lines(gp, p, NULL, COL_WIOPS, " write", "lines lw 2 dt 2", &first);
	fputs("\nunset title\nset xlabel 'Time since the daemon started (s)'\nset ylabel 'MiB/s'\n", gp);
	first = true;
	lines(gp, p, NULL, COL_RMIB, " read", "lines lw 2", &first);
	lines(gp, p, NULL, COL_WMIB, " write", "lines lw 2 dt 2", &first);
	fputs("\nunset multiplot\n", gp);

	if (any(p, has_waf)) {
		begin_png(gp, p, "waf.png", "Write amplification (flash-model namespaces)",
			  "NAND pages programmed / host pages written");
		first = true;
		lines(gp, p, has_waf, COL_WAF, " since start", "lines lw 2", &first);
		lines(gp, p, has_waf, COL_WAF_INTERVAL, " per interval", "points pt 7 ps 0.6", &first);
		fputc('\n', gp);
	}
	if (any(p, is_model)) {
		begin_png(gp, p, "gc.png", "Garbage collection (flash-model namespaces)",
			  "Erase units collected per second");
		fputs("set y2label 'Mean erases per erase unit'\nset y2tics\nset ytics nomirror\n"
		      "set y2range [0:*]\n", gp);
		first = true;
		lines(gp, p, is_model, COL_GC_PER_S, " GC runs/s", "lines lw 2", &first);
		for (unsigned i = 0; i < p->nns; i++) {
			if (!p->ns[i].model)
				continue;
			fprintf(gp, ", '%s/ns%u.dat' using 1:%d axes x1y2 with lines dt 2 lw 2 title ",
				p->tmpdir, i, COL_ERASE_MEAN);
			char title[400];
			snprintf(title, sizeof(title), "%s mean erase count (right)", p->ns[i].label);
			quoted(gp, title);
		}
		fputc('\n', gp);
	}
	if (any(p, has_breakdown))
		breakdown_script(gp, p);
	if (any(p, is_zoned)) {
		begin_png(gp, p, "zones.png", "Zone states (zoned namespaces)", "Zones");
		first = true;
		for (unsigned s = 0; s < STATS_ZONE_STATES; s++) {
			char suffix[64];
			snprintf(suffix, sizeof(suffix), " %s", stats_zone_state_names[s]);
			lines(gp, p, is_zoned, COL_ZONES + (int)s, suffix, "lines lw 2", &first);
		}
		fputc('\n', gp);
	}
}

static void remove_tmp(struct plot *p)
{
	char path[128];
	for (unsigned i = 0; i < p->nns; i++) {
		snprintf(path, sizeof(path), "%s/ns%u.dat", p->tmpdir, i);
		unlink(path);
		snprintf(path, sizeof(path), "%s/ns%u.cdf", p->tmpdir, i);
		unlink(path);
	}
	rmdir(p->tmpdir);
}

/*
 * `nvemu sim --json` output: where the time went, as a stacked bar per latency band (the
 * commands between two percentiles), a segment per part of the breakdown that is ever nonzero.
 */
static int plot_sim_breakdown(struct plot *p, json_object *sim, const char *input)
{
	json_object *bands = field(sim, "breakdown_by_percentile_us");
	size_t nbands = json_object_array_length(bands);
	bool used[LAT_PARTS] = {false};
	for (size_t b = 0; b < nbands; b++)
		for (int i = 0; i < LAT_PARTS; i++)
			used[i] |= json_object_get_double(field(json_object_array_get_idx(bands, b),
								lat_part_names[i])) > 0;
	char path[128];
	snprintf(path, sizeof(path), "%s/breakdown.dat", p->tmpdir);
	FILE *dat = fopen(path, "w");
	if (!dat)
		return -1;
	for (size_t b = 0; b < nbands; b++) {
		json_object *band = json_object_array_get_idx(bands, b);
		json_object *range = field(band, "percentiles");
		fprintf(dat, "\"p%g-p%g\"",
			json_object_get_double(json_object_array_get_idx(range, 0)),
			json_object_get_double(json_object_array_get_idx(range, 1)));
		for (int i = 0; i < LAT_PARTS; i++)
			if (used[i])
				fprintf(dat, " %.6g",
					json_object_get_double(field(band, lat_part_names[i])));
		fputc('\n', dat);
	}
	if (fclose(dat))
		return -1;
	FILE *gp = popen("gnuplot", "w");
	if (!gp)
		return -1;
	char title[4200];
	snprintf(title, sizeof(title), "Where the time went: %s (nvemu sim)", input);
	begin_png(gp, p, "breakdown.png", title, "Mean latency of the commands in the band (µs)");
	fputs("set xlabel 'Commands between two latency percentiles'\n"
	      "set style data histograms\nset style histogram rowstacked\n"
	      "set style fill solid 0.85 border -1\nset boxwidth 0.7\n",
	      gp);
	int col = 2;
	for (int i = 0; i < LAT_PARTS; i++) {
		if (!used[i])
			continue;
		fprintf(gp, "%s'%s' using %d%s lc rgb '%s' title '%s'", col == 2 ? "plot " : ", ",
			path, col, col == 2 ? ":xtic(1)" : "", part_colors[i], lat_part_names[i]);
		col++;
	}
	fputc('\n', gp);
	int rc = pclose(gp) == 0 ? 0 : -1;
	unlink(path);
	return rc;
}

/*
 * `nvemu sim -o workload=endurance --json` output: the drive's life, available spare and
 * percentage used against the bytes the host wrote, and the WAF as the spare goes.
 */
static int plot_sim_life(struct plot *p, json_object *sim, const char *input)
{
	json_object *life = field(sim, "life");
	char path[128];
	snprintf(path, sizeof(path), "%s/life.dat", p->tmpdir);
	FILE *dat = fopen(path, "w");
	if (!dat)
		return -1;
	for (size_t i = 0; i < json_object_array_length(life); i++) {
		json_object *point = json_object_array_get_idx(life, i);
		json_object *waf = field(point, "waf_interval");
		fprintf(dat, "%.6g %.6g %.6g ",
			(double)json_object_get_uint64(field(point, "host_bytes")) / 1e9,
			json_object_get_double(field(point, "available_spare_pcent")),
			json_object_get_double(field(point, "percent_used")));
		if (waf)
			fprintf(dat, "%.6g\n", json_object_get_double(waf));
		else
			fputs("NaN\n", dat);
	}
	if (fclose(dat))
		return -1;
	FILE *gp = popen("gnuplot", "w");
	if (!gp)
		return -1;
	char title[4400];
	snprintf(title, sizeof(title), "Drive life: %s (wear levelling %s, %.3g drive writes)",
		 input, json_object_get_string(field(sim, "wear_levelling")),
		 json_object_get_double(field(sim, "drive_writes")));
	begin_png(gp, p, "life.png", title, "Percent");
	fprintf(gp,
		"set xlabel 'Written by the host (GB)'\nset y2label 'WAF'\n"
		"set y2tics\nset y2range [0:*]\n"
		"plot '%s' using 1:2 with lines lw 2 title 'available spare', "
		"'%s' using 1:3 with lines lw 2 title 'percentage used', "
		"'%s' using 1:4 axes x1y2 with lines title 'WAF (right axis)'\n",
		path, path, path);
	int rc = pclose(gp) == 0 ? 0 : -1;
	unlink(path);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: nvemu plot FILE [--out DIR]   charts of a recorded run (nvemu --record FILE)\n"
	    "       or of `nvemu sim --json` output (where each latency band's time went,\n"
	    "       or with workload=endurance the drive's life)\n"
	    "  -o, --out DIR   where the PNGs go (default: FILE.plots)\n"
	    "Writes latency-cdf.png, latency.png, iops.png, and when they apply waf.png,\n"
	    "gc.png and breakdown.png (flash-model namespaces: where the time went, stacked)\n"
	    "and zones.png (zoned namespaces); for sim output, breakdown.png (a stacked bar\n"
	    "per latency band), or life.png (available spare and percentage used against the\n"
	    "bytes written). Needs gnuplot.\n");
}

int plot_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"out", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	static struct plot p; /* two histograms per namespace: too big for the stack */
	const char *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (c == 'o') {
			out = optarg;
		} else {
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	const char *input = argv[optind];
	char default_out[4096];
	snprintf(default_out, sizeof(default_out), "%s.plots", input);
	p.out_dir = out ? out : default_out;
	if (mkdir(p.out_dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "nvemu plot: %s: %s\n", p.out_dir, strerror(errno));
		return 1;
	}
	snprintf(p.tmpdir, sizeof(p.tmpdir), "/tmp/nvemu-plot-XXXXXX");
	if (!mkdtemp(p.tmpdir)) {
		fprintf(stderr, "nvemu plot: temporary directory: %s\n", strerror(errno));
		return 1;
	}
	json_object *sim = json_object_from_file(input);
	/* nvemu sim output: its life (workload=endurance) or where its time went. */
	bool life = sim && field(sim, "life");
	if (life || (sim && field(sim, "breakdown_by_percentile_us"))) {
		int rc = life ? plot_sim_life(&p, sim, input) : plot_sim_breakdown(&p, sim, input);
		json_object_put(sim);
		rmdir(p.tmpdir);
		if (rc)
			fprintf(stderr,
				"nvemu plot: gnuplot failed (installed? scripts/install-deps adds "
				"gnuplot-nox)\n");
		else
			printf("nvemu plot: the %s of %s drawn in %s/%s.png\n",
			       life ? "life" : "breakdown", input, p.out_dir,
			       life ? "life" : "breakdown");
		return rc ? 1 : 0;
	}
	json_object_put(sim);
	int rc = read_records(&p, input) ? 1 : 0;
	for (unsigned i = 0; i < p.nns; i++) {
		struct plot_ns *n = &p.ns[i];
		fclose(n->dat);
		char label[sizeof(n->label)];
		snprintf(label, sizeof(label), "%s%snsid %u (%s)", p.several_subsystems ? n->subsys : "",
			 p.several_subsystems ? " " : "", n->nsid, n->kind);
		memcpy(n->label, label, sizeof(label));
		if (!rc && write_cdf(&p, i))
			rc = 1;
	}
	if (!rc) {
		FILE *gp = popen("gnuplot", "w");
		if (gp)
			script(gp, &p);
		if (!gp || pclose(gp) != 0) {
			fprintf(stderr, "nvemu plot: gnuplot failed (installed? scripts/install-deps adds "
					"gnuplot-nox)\n");
			rc = 1;
		}
	}
	remove_tmp(&p);
	if (!rc)
		printf("nvemu plot: %u records of %u namespace(s) drawn in %s/\n", p.records, p.nns, p.out_dir);
	return rc;
}
