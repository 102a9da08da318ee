/*
 * `nvemu stats`: reads a running daemon's statistics over its control socket.
 * By default a refreshing table (like top); --json prints one JSON object;
 * --trace turns a per-command trace of one namespace on (and off at the end).
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "stats/stats.h"
#include "util/hist.h"
#include "util/util.h"

struct stats_options {
	char control[108];
	bool json;
	bool prometheus;
	double interval_s;
	uint64_t count; /* refreshes, 0: until interrupted */
	uint32_t trace_nsid;
	const char *trace_out;
	const char *trace_format;
	const char *nqn;
	double duration_s; /* of a trace; 0: until interrupted */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: nvemu stats [options]           live statistics of a running nvemu\n"
		"  -c, --control PATH    the daemon's control socket\n"
		"  -p, --port PORT       find the socket of the daemon serving PORT (4420)\n"
		"      --json            print one JSON object and exit (fields: docs/stats.md)\n"
		"      --prometheus      print the Prometheus text exposition and exit\n"
		"  -i, --interval SEC    refresh period of the table (1)\n"
		"  -n, --count N         refresh N times, then exit (0: until Ctrl-C)\n"
		"      --trace NSID      trace every command of namespace NSID ...\n"
		"      --out FILE        ... into FILE (required with --trace)\n"
		"      --format F        ... as json (JSON lines, default) or text\n"
		"  -d, --duration SEC    ... for SEC seconds (default: until Ctrl-C)\n"
		"      --nqn NQN         the subsystem of NSID when several have one\n"
		"  -h, --help            this text\n");
}

static json_object *fetch_json(const char *path)
{
	char *text = cli_control_request(path, "json\n");
	if (!text)
		return NULL;
	json_object *root = json_tokener_parse(text);
	if (!root)
		fprintf(stderr, "nvemu stats: the daemon's answer is not JSON: %.200s\n", text);
	free(text);
	return root;
}

static json_object *field(json_object *obj, const char *key)
{
	json_object *v = NULL;
	return json_object_object_get_ex(obj, key, &v) ? v : NULL;
}

static uint64_t field_u64(json_object *obj, const char *key)
{
	return json_object_get_uint64(field(obj, key));
}

void cli_latency_from_json(struct json_object *lat, struct hist *h)
{
	hist_init(h);
	json_object *buckets = field(lat, "buckets");
	for (size_t i = 0; buckets && i < json_object_array_length(buckets); i++) {
		json_object *pair = json_object_array_get_idx(buckets, i);
		uint64_t low = json_object_get_uint64(json_object_array_get_idx(pair, 0));
		h->buckets[hist_index(low)] += json_object_get_uint64(json_object_array_get_idx(pair, 1));
	}
	h->count = field_u64(lat, "count");
	h->sum = field_u64(lat, "sum");
	h->min = h->count ? field_u64(lat, "min") : UINT64_MAX;
	h->max = field_u64(lat, "max");
}

static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig) { (void)sig; interrupted = 1; }

static void sleep_s(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
	while (!interrupted && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static json_object *find_ns(json_object *root, const char *nqn, uint64_t nsid)
{
	json_object *list = field(root, "namespaces");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *ns = json_object_array_get_idx(list, i);
		if (field_u64(ns, "nsid") == nsid &&
		    strcmp(json_object_get_string(field(ns, "subsys")), nqn) == 0)
			return ns;
	}
	return NULL;
}

static void print_us(uint64_t ns) { printf(" %8.2f", (double)ns / 1e3); }

/* Where the interval's commands spent their modelled time: each nonzero part's mean, in us. */
static void print_breakdown(json_object *now, json_object *before)
{
	if (!now)
		return;
	uint64_t cmds = field_u64(now, "commands") - (before ? field_u64(before, "commands") : 0);
	if (!cmds)
		return;
	printf("     time us:");
	for (unsigned p = 0; p < LAT_PARTS; p++) {
		uint64_t sum = field_u64(field(now, lat_part_names[p]), "sum");
		if (before)
			sum -= field_u64(field(before, lat_part_names[p]), "sum");
		if (sum)
			printf(" %s %.1f", lat_part_names[p], (double)sum / (double)cmds / 1e3);
	}
	printf("\n");
}

static void print_row(json_object *ns, json_object *prev_ns, double dt)
{
	uint64_t d[4] = {0};
	static const char *const counters[] = {"read_ios", "write_ios", "read_bytes", "write_bytes"};
	for (int k = 0; k < 4 && prev_ns; k++)
		d[k] = field_u64(ns, counters[k]) - field_u64(prev_ns, counters[k]);
	printf("%4llu %-6s", (unsigned long long)field_u64(ns, "nsid"),
	       json_object_get_string(field(ns, "kind")));
	printf(" %9.0f %9.0f %8.1f %8.1f", (double)d[0] / dt, (double)d[1] / dt,
	       (double)d[2] / dt / 1048576.0, (double)d[3] / dt / 1048576.0);
	static struct hist now, before;
	cli_latency_from_json(field(ns, "latency"), &now);
	if (prev_ns) {
		cli_latency_from_json(field(prev_ns, "latency"), &before);
		hist_subtract(&now, &before);
	}
	if (now.count) {
		print_us(hist_quantile(&now, 0.5));
		print_us(hist_quantile(&now, 0.99));
	} else {
		printf(" %8s %8s", "-", "-");
	}
	json_object *waf = field(ns, "waf");
	if (waf)
		printf(" %6.3f", json_object_get_double(waf));
	else
		printf(" %6s", field(field(ns, "not_applicable"), "waf") ? "n/a" : "-");
	if (field(ns, "gc_runs"))
		printf(" %8llu", (unsigned long long)field_u64(ns, "gc_runs"));
	else
		printf(" %8s", "n/a");
	printf(" %6llu\n", (unsigned long long)field_u64(ns, "outstanding"));
	json_object *zones = field(ns, "zones");
	if (zones) {
		printf("     zones:");
		json_object_object_foreach(zones, state, count)
			printf(" %s %lld", state, (long long)json_object_get_int64(count));
		printf("\n");
	}
	print_breakdown(field(ns, "breakdown"), prev_ns ? field(prev_ns, "breakdown") : NULL);
}

static int run_top(const struct stats_options *o)
{
	bool tty = isatty(STDOUT_FILENO);
	json_object *prev = NULL;
	struct timespec prev_t = {0};
	int rc = 0;
	/* Every frame shows the interval since the one before: the first is a silent sample. */
	for (uint64_t n = 0; !interrupted && (!o->count || n <= o->count); n++) {
		if (n)
			sleep_s(o->interval_s);
		if (interrupted)
			break;
		json_object *root = fetch_json(o->control);
		if (!root) {
			rc = 1;
			break;
		}
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (!prev) {
			prev = root;
			prev_t = t;
			continue;
		}
		double dt = (double)(t.tv_sec - prev_t.tv_sec) + (double)(t.tv_nsec - prev_t.tv_nsec) / 1e9;
		if (tty)
			printf("\033[H\033[2J");
		printf("nvemu stats  %s  uptime %.0f s  (rates and latency over the last %.1f s; "
		       "WAF and GC runs since start)\n",
		       o->control, json_object_get_double(field(root, "uptime_s")), dt);
		printf("%4s %-6s %9s %9s %8s %8s %8s %8s %6s %8s %6s\n", "NSID", "KIND", "rIOPS", "wIOPS",
		       "rMiB/s", "wMiB/s", "p50 us", "p99 us", "WAF", "GC runs", "QD");
		json_object *list = field(root, "namespaces");
		for (size_t i = 0; list && i < json_object_array_length(list); i++) {
			json_object *ns = json_object_array_get_idx(list, i);
			json_object *prev_ns = find_ns(prev, json_object_get_string(field(ns, "subsys")),
						       field_u64(ns, "nsid"));
			print_row(ns, prev_ns, dt);
		}
		fflush(stdout);
		json_object_put(prev);
		prev = root;
		prev_t = t;
	}
	json_object_put(prev);
	return rc;
}

static int run_trace(const struct stats_options *o)
{
	char path[PATH_MAX + 1], line[2 * PATH_MAX];
	if (o->trace_out[0] == '/') {
		snprintf(path, sizeof(path), "%s", o->trace_out);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return 1;
		snprintf(path, sizeof(path), "%s/%s", cwd, o->trace_out);
	}
	snprintf(line, sizeof(line), "trace on %u %s %s%s%s\n", o->trace_nsid, path, o->trace_format,
		 o->nqn ? " " : "", o->nqn ? o->nqn : "");
	char *answer = cli_control_request(o->control, line);
	if (!answer)
		return 1;
	fputs(answer, stderr);
	bool ok = strncmp(answer, "ok", 2) == 0;
	free(answer);
	if (!ok)
		return 1;
	if (o->duration_s > 0)
		sleep_s(o->duration_s);
	else
		while (!interrupted)
			pause();
	snprintf(line, sizeof(line), "trace off %u%s%s\n", o->trace_nsid, o->nqn ? " " : "",
		 o->nqn ? o->nqn : "");
	answer = cli_control_request(o->control, line);
	if (!answer)
		return 1;
	fputs(answer, stderr);
	ok = strncmp(answer, "ok", 2) == 0;
	free(answer);
	return ok ? 0 : 1;
}

static int print_once(const struct stats_options *o)
{
	if (o->prometheus) {
		char *text = cli_control_request(o->control, "prometheus\n");
		if (!text)
			return 1;
		fputs(text, stdout);
		free(text);
		return 0;
	}
	json_object *root = fetch_json(o->control);
	if (!root)
		return 1;
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return 0;
}

static int parse_seconds(const char *text, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || *end || !(v >= 0) || v > 86400 * 365)
		return -1;
	*out = v;
	return 0;
}

int stats_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"control", required_argument, NULL, 'c'}, {"port", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'J'},		{"prometheus", no_argument, NULL, 'P'},
	    {"interval", required_argument, NULL, 'i'}, {"count", required_argument, NULL, 'n'},
	    {"trace", required_argument, NULL, 'T'},	{"out", required_argument, NULL, 'o'},
	    {"format", required_argument, NULL, 'F'},	{"duration", required_argument, NULL, 'd'},
	    {"nqn", required_argument, NULL, 'N'},	{"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct stats_options o = {.interval_s = 1, .trace_format = "json"};
	uint64_t port = 4420, v;
	const char *control = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:p:i:n:d:h", longopts, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case 'c': control = optarg; break;
		case 'p': if (parse_u64(optarg, 1, 65535, &port, NULL, 0)) bad = "--port"; break;
		case 'J': o.json = true; break;
		case 'P': o.prometheus = true; break;
		case 'i': if (parse_seconds(optarg, &o.interval_s) || o.interval_s < 0.05) bad = "--interval"; break;
		case 'n': if (parse_u64(optarg, 0, UINT64_MAX, &o.count, NULL, 0)) bad = "--count"; break;
		case 'T':
			if (parse_u64(optarg, 1, UINT32_MAX, &v, NULL, 0))
				bad = "--trace";
			o.trace_nsid = (uint32_t)v;
			break;
		case 'o': o.trace_out = optarg; break;
		case 'F':
			if (strcmp(optarg, "json") && strcmp(optarg, "text"))
				bad = "--format (json or text)";
			o.trace_format = optarg;
			break;
		case 'd': if (parse_seconds(optarg, &o.duration_s)) bad = "--duration"; break;
		case 'N': o.nqn = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "nvemu stats: bad value '%s' for %s\n", optarg, bad);
			return 2;
		}
	}
	if (optind < argc || (o.trace_nsid && !o.trace_out) || (o.trace_out && !o.trace_nsid)) {
		fprintf(stderr, "nvemu stats: %s (see nvemu stats --help)\n",
			optind < argc ? "unexpected argument" : "--trace NSID and --out FILE go together");
		return 2;
	}
	if (control)
		snprintf(o.control, sizeof(o.control), "%s", control);
	else
		stats_default_control_path((uint16_t)port, o.control, sizeof(o.control));
	struct sigaction sa = {.sa_handler = on_interrupt};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (o.trace_nsid)
		return run_trace(&o);
	if (o.json || o.prometheus)
		return print_once(&o);
	return run_top(&o);
}

/* `nvemu power-cut`: the same socket's power-cut command (docs/persistence.md). */
int power_cut_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"control", required_argument, NULL, 'c'}, {"port", required_argument, NULL, 'p'},
	    {"down-ms", required_argument, NULL, 'd'},	{"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t port = 4420, down_ms = 1000;
	const char *control = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:p:d:h", longopts, NULL)) != -1) {
		char err[160] = "";
		switch (c) {
		case 'c': control = optarg; break;
		case 'p': parse_u64(optarg, 1, 65535, &port, err, sizeof(err)); break;
		case 'd': parse_u64(optarg, 0, 3600000, &down_ms, err, sizeof(err)); break;
		case 'h':
			printf("Usage: nvemu power-cut [-p PORT | -c PATH] [--down-ms N]\n"
			       "Cuts the power of a running nvemu: every connection drops, writes not yet\n"
			       "on NAND are lost (unless power_loss_protection is on), and the drive is\n"
			       "back after N ms (1000) for hosts to reconnect. See docs/persistence.md.\n");
			return 0;
		default: return 2;
		}
		if (*err) {
			fprintf(stderr, "nvemu power-cut: %s\n", err);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nvemu power-cut: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	char path[108], line[64];
	if (control)
		snprintf(path, sizeof(path), "%s", control);
	else
		stats_default_control_path((uint16_t)port, path, sizeof(path));
	snprintf(line, sizeof(line), "power-cut %llu\n", (unsigned long long)down_ms);
	char *answer = cli_control_request(path, line);
	if (!answer)
		return 1;
	fputs(answer, strncmp(answer, "ok", 2) == 0 ? stdout : stderr);
	int rc = strncmp(answer, "ok", 2) == 0 ? 0 : 1;
	free(answer);
	return rc;
}
