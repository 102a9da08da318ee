/* Command line of nvemu perf; option letters follow spdk_nvme_perf where it has one. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf/perf_internal.h"
#include "util/log.h"
#include "util/util.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: nvemu perf -r TRID [options]\n"
		"  -r, --transport TRID   'trtype:TCP traddr:IP [trsvcid:PORT] [subnqn:NQN]'\n"
		"                         without subnqn the first NVM subsystem from discovery is used\n"
		"  -q, --queue-depth N    commands outstanding per queue (default 32)\n"
		"  -o, --io-size BYTES    I/O size, k/m suffixes allowed (default 4096)\n"
		"  -w, --workload W       read|write|randread|randwrite|rw|randrw (default randread)\n"
		"  -M, --rwmixread PCT    reads in percent for rw/randrw (default 50)\n"
		"  -t, --time SEC         run time (default 10; without -t, -d runs until the count)\n"
		"  -d, --number-ios N     stop each thread after N I/Os (as spdk_nvme_perf -d)\n"
		"  -P, --num-qpairs N     I/O queues (TCP connections) per thread (default 1)\n"
		"  -c, --core-mask MASK   one thread per set bit, each pinned to that CPU (hex)\n"
		"      --threads N        N unpinned threads (default 1)\n"
		"      --nsid ID          namespace (default 1)\n"
		"  -H, --hdgst            enable the NVMe/TCP header digest\n"
		"  -I, --ddgst            enable the NVMe/TCP data digest\n"
		"      --seed N           seed of offsets and verify pattern (default 1)\n"
		"      --span BYTES       use only the first BYTES of the namespace\n"
		"                         (default: all; verify: at most 256 MiB)\n"
		"      --verify           write a pattern over the span, read it back and check,\n"
		"                         then disconnect, reconnect and check again\n"
		"      --verify-read      only read and check the pattern an earlier --verify wrote\n"
		"                         (same --seed and --span)\n"
		"      --json             print one JSON object instead of text\n"
		"  -k, --kato MS          keep-alive timeout (default 10000; 0 = off)\n"
		"      --no-sqflow        ask for SQ flow control to be disabled (Connect CATTR)\n"
		"      --no-incapsule     never send write data in-capsule (always R2T)\n"
		"      --busy-poll        spin on the sockets instead of sleeping in epoll\n"
		"      --hostnqn NQN      host NQN (default: a random uuid NQN)\n"
		"  -v, --verbose          log what the controller reports while connecting\n"
		"  -h, --help\n"
		"Exit status is 0 only if every I/O completed without error or mismatch.\n");
}

static const struct {
	const char *name;
	enum workload wl;
} workloads[] = {
	{ "read", WL_READ }, { "write", WL_WRITE }, { "randread", WL_RANDREAD },
	{ "randwrite", WL_RANDWRITE }, { "rw", WL_RW }, { "randrw", WL_RANDRW },
};

const char *perf_workload_name(enum workload wl)
{
	for (size_t i = 0; i < ARRAY_SIZE(workloads); i++)
		if (workloads[i].wl == wl)
			return workloads[i].name;
	return "?";
}

enum {
	OPT_THREADS = 256, OPT_NSID, OPT_SEED, OPT_SPAN, OPT_VERIFY, OPT_VERIFY_READ, OPT_JSON, OPT_NO_SQFLOW,
	OPT_NO_INCAPSULE, OPT_BUSY_POLL, OPT_HOSTNQN,
};

static const struct option long_opts[] = {
	{ "transport", required_argument, NULL, 'r' },
	{ "queue-depth", required_argument, NULL, 'q' },
	{ "io-size", required_argument, NULL, 'o' },
	{ "workload", required_argument, NULL, 'w' },
	{ "rwmixread", required_argument, NULL, 'M' },
	{ "time", required_argument, NULL, 't' },
	{ "number-ios", required_argument, NULL, 'd' },
	{ "num-qpairs", required_argument, NULL, 'P' },
	{ "core-mask", required_argument, NULL, 'c' },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "nsid", required_argument, NULL, OPT_NSID },
	{ "hdgst", no_argument, NULL, 'H' },
	{ "ddgst", no_argument, NULL, 'I' },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "span", required_argument, NULL, OPT_SPAN },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "verify-read", no_argument, NULL, OPT_VERIFY_READ },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "kato", required_argument, NULL, 'k' },
	{ "no-sqflow", no_argument, NULL, OPT_NO_SQFLOW },
	{ "no-incapsule", no_argument, NULL, OPT_NO_INCAPSULE },
	{ "busy-poll", no_argument, NULL, OPT_BUSY_POLL },
	{ "hostnqn", required_argument, NULL, OPT_HOSTNQN },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Returns 0 to run, 1 after --help, -EINVAL on a bad option (message printed). */
int perf_parse_args(struct perf_config *cfg, int argc, char **argv)
{
	memset(cfg, 0, sizeof(*cfg));
	host_opts_init(&cfg->host);
	cfg->workload = WL_RANDREAD;
	cfg->read_pct = 50;
	cfg->depth = 32;
	cfg->io_size = 4096;
	cfg->seconds = 10;
	cfg->queues_per_thread = 1;
	cfg->threads = 1;
	cfg->nsid = 1;
	cfg->seed = 1;
	bool have_target = false, have_time = false, have_threads = false;

	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "r:q:o:w:M:t:d:P:c:k:HIvh", long_opts, NULL)) != -1) {
		uint64_t v = 0;
		const char *bad = NULL;
		char err[160];
		switch (c) {
		case 'r':
			if (host_target_parse(&cfg->target, optarg, err, sizeof(err))) {
				fprintf(stderr, "perf: -r: %s\n", err);
				return -EINVAL;
			}
			have_target = true;
			break;
		case 'q':
			if (parse_u64(optarg, 1, 65535, &v, NULL, 0))
				bad = "-q wants 1..65535";
			cfg->depth = (unsigned)v;
			break;
		case 'o':
			if (parse_u64(optarg, 512, 64u << 20, &v, NULL, 0))
				bad = "-o wants 512 bytes..64 MiB";
			cfg->io_size = (uint32_t)v;
			break;
		case 'w': {
			size_t i;
			for (i = 0; i < ARRAY_SIZE(workloads); i++)
				if (!strcmp(optarg, workloads[i].name))
					break;
			if (i == ARRAY_SIZE(workloads))
				bad = "-w wants read|write|randread|randwrite|rw|randrw";
			else
				cfg->workload = workloads[i].wl;
			break;
		}
		case 'M':
			if (parse_u64(optarg, 0, 100, &v, NULL, 0))
				bad = "-M wants 0..100";
			cfg->read_pct = (unsigned)v;
			break;
		case 't': {
			char *end;
			cfg->seconds = strtod(optarg, &end);
			if (*end || cfg->seconds < 0)
				bad = "-t wants seconds >= 0";
			have_time = true;
			break;
		}
		case 'd':
			if (parse_u64(optarg, 1, UINT64_MAX, &cfg->io_limit, NULL, 0))
				bad = "-d wants a count";
			break;
		case 'P':
			if (parse_u64(optarg, 1, 256, &v, NULL, 0))
				bad = "-P wants 1..256";
			cfg->queues_per_thread = (unsigned)v;
			break;
		case 'c':
			if (parse_u64(optarg, 1, UINT64_MAX, &cfg->cpu_mask, NULL, 0))
				bad = "-c wants a nonzero CPU mask such as 0x3";
			break;
		case OPT_THREADS:
			if (parse_u64(optarg, 1, 256, &v, NULL, 0))
				bad = "--threads wants 1..256";
			cfg->threads = (unsigned)v;
			have_threads = true;
			break;
		case OPT_NSID:
			if (parse_u64(optarg, 1, 0xFFFFFFFEu, &v, NULL, 0))
				bad = "--nsid wants a namespace ID";
			cfg->nsid = (uint32_t)v;
			break;
		case 'H': cfg->host.header_digest = true; break;
		case 'I': cfg->host.data_digest = true; break;
		case OPT_SEED:
			if (parse_u64(optarg, 0, UINT64_MAX, &cfg->seed, NULL, 0))
				bad = "--seed wants a number";
			break;
		case OPT_SPAN:
			if (parse_u64(optarg, 1, UINT64_MAX, &cfg->span_bytes, NULL, 0))
				bad = "--span wants a size";
			break;
		case OPT_VERIFY: cfg->verify = true; break;
		case OPT_VERIFY_READ: cfg->verify = cfg->verify_read_only = true; break;
		case OPT_JSON: cfg->json = true; break;
		case 'k':
			if (parse_u64(optarg, 0, UINT32_MAX, &v, NULL, 0))
				bad = "-k wants milliseconds";
			cfg->host.kato_ms = (uint32_t)v;
			break;
		case OPT_NO_SQFLOW: cfg->host.disable_sqflow = true; break;
		case OPT_NO_INCAPSULE: cfg->host.no_incapsule = true; break;
		case OPT_BUSY_POLL: cfg->busy_poll = true; break;
		case OPT_HOSTNQN:
			if (strlen(optarg) >= sizeof(cfg->host.hostnqn))
				bad = "--hostnqn is too long";
			else
				snprintf(cfg->host.hostnqn, sizeof(cfg->host.hostnqn), "%s", optarg);
			break;
		case 'v':
			log_threshold = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (bad) {
			fprintf(stderr, "perf: %s (got '%s')\n", bad, optarg);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "perf: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!have_target) {
		fprintf(stderr, "perf: -r is required\n");
		usage(stderr);
		return -EINVAL;
	}
	if (cfg->cpu_mask && have_threads) {
		fprintf(stderr, "perf: use either -c or --threads\n");
		return -EINVAL;
	}
	if (cfg->cpu_mask)
		cfg->threads = (unsigned)__builtin_popcountll(cfg->cpu_mask);
	if (cfg->io_limit && !have_time)
		cfg->seconds = 0;
	if (cfg->verify && have_time)
		fprintf(stderr, "perf: --verify runs fixed passes; -t is ignored\n");
	return 0;
}
