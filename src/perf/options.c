/* Command line of nvemu perf; option letters follow spdk_nvme_perf where it has one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/options.h"
#include "perf/perf_internal.h"
#include "util/log.h"
#include "util/util.h"

static const struct {
	const char *name;
	enum workload wl;
} workloads[] = {
    {"read", WL_READ},           {"write", WL_WRITE}, {"randread", WL_RANDREAD},
    {"randwrite", WL_RANDWRITE}, {"rw", WL_RW},       {"randrw", WL_RANDRW},
};

const char *perf_workload_name(enum workload wl)
{
	for (size_t i = 0; i < ARRAY_SIZE(workloads); i++)
		if (workloads[i].wl == wl)
			return workloads[i].name;
	return "?";
}

/* The options and what they need to be checked together. */
struct perf_args {
	struct perf_config cfg;
	bool have_target, have_time;
};

#define FIELD(f) OPT_FIELD(struct perf_args, cfg.f)

static int set_target(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct perf_args *a = ctx;
	char why[160];
	if (host_target_parse(&a->cfg.target, value, why, sizeof(why)))
		return errorf(err, errlen, "%s: %s", name, why);
	a->have_target = true;
	return 0;
}

static int set_workload(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct perf_args *a = ctx;
	for (size_t i = 0; i < ARRAY_SIZE(workloads); i++) {
		if (strcmp(value, workloads[i].name) == 0) {
			a->cfg.workload = workloads[i].wl;
			return 0;
		}
	}
	return errorf(err, errlen, "%s: '%s' is not read, write, randread, randwrite, rw or randrw",
		      name, value);
}

static int set_time(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct perf_args *a = ctx;
	char *end;
	double seconds = strtod(value, &end);
	if (end == value || *end || !(seconds >= 0))
		return errorf(err, errlen, "%s: '%s' is not a number of seconds >= 0", name, value);
	a->cfg.seconds = seconds;
	a->have_time = true;
	return 0;
}

static int set_verify_read(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct perf_args *a = ctx;
	(void)name, (void)value, (void)err, (void)errlen;
	a->cfg.verify = a->cfg.verify_read_only = true;
	return 0;
}

static int set_pids(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct perf_args *a = ctx;
	a->cfg.npids = 0;
	for (const char *at = value;;) {
		char item[24], why[160];
		size_t len = strcspn(at, ",");
		uint64_t pid;
		if (!len || len >= sizeof(item))
			return errorf(err, errlen,
				      "%s: '%s' is not a list of placement identifiers", name,
				      value);
		memcpy(item, at, len);
		item[len] = '\0';
		if (parse_u64(item, 0, 0xFFFF, &pid, why, sizeof(why)))
			return errorf(err, errlen, "%s: %s", name, why);
		if (a->cfg.npids == ARRAY_SIZE(a->cfg.pids))
			return errorf(err, errlen, "%s: more than %zu identifiers", name,
				      ARRAY_SIZE(a->cfg.pids));
		a->cfg.pids[a->cfg.npids++] = (uint16_t)pid;
		at += len;
		if (!*at++)
			return 0;
	}
}

static int set_pid_split(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct perf_args *a = ctx;
	char *end;
	double pct = strtod(value, &end);
	if (end == value || *end || !(pct > 0 && pct < 100))
		return errorf(err, errlen, "%s: '%s' is not a percentage between 0 and 100", name,
			      value);
	a->cfg.pid_split = pct;
	return 0;
}

/* A text option into a fixed array of size bytes. */
static int copy_text(char *dst, size_t size, const char *name, const char *value, char *err,
		     size_t errlen)
{
	if (strlen(value) >= size)
		return errorf(err, errlen, "%s: longer than %zu bytes", name, size - 1);
	snprintf(dst, size, "%s", value);
	return 0;
}

static int set_hostnqn(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct perf_args *a = ctx;
	return copy_text(a->cfg.host.hostnqn, sizeof(a->cfg.host.hostnqn), name, value, err, errlen);
}

static int set_congestion(void *ctx, const char *name, const char *value, char *err,
			  size_t errlen)
{
	struct perf_args *a = ctx;
	return copy_text(a->cfg.host.congestion, sizeof(a->cfg.host.congestion), name, value, err,
			 errlen);
}

/* Messages never repeat a secret. */
static int set_dhchap_secret(struct perf_args *a, const char *name, const char *value, bool ctrl,
			     char *err, size_t errlen)
{
	char why[128];
	struct dhchap_key *key = ctrl ? &a->cfg.host.dhchap_ctrl_key : &a->cfg.host.dhchap_key;
	if (dhchap_key_parse(value, key, why, sizeof(why)))
		return errorf(err, errlen, "%s: %s", name, why);
	*(ctrl ? &a->cfg.host.has_dhchap_ctrl_key : &a->cfg.host.has_dhchap_key) = true;
	return 0;
}

static int set_dhchap_key(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	return set_dhchap_secret(ctx, name, value, false, err, errlen);
}

static int set_dhchap_ctrl_key(void *ctx, const char *name, const char *value, char *err,
			       size_t errlen)
{
	return set_dhchap_secret(ctx, name, value, true, err, errlen);
}

static int set_dhchap_hashes(void *ctx, const char *name, const char *value, char *err,
			     size_t errlen)
{
	struct perf_args *a = ctx;
	return dhchap_list_option(name, value, false, &a->cfg.host.dhchap_hashes, err, errlen);
}

static int set_dhchap_dhgroups(void *ctx, const char *name, const char *value, char *err,
			       size_t errlen)
{
	struct perf_args *a = ctx;
	return dhchap_list_option(name, value, true, &a->cfg.host.dhchap_dhgroups, err, errlen);
}

static const struct opt perf_opts[] = {
    {OPT_SECTION, .help = "Target and connection"},
    {OPT_TEXT, "transport", 'r', "TRID", .apply = set_target,
     .help = "'trtype:TCP traddr:IP [trsvcid:PORT] [subnqn:NQN]' (required); without subnqn the "
	     "first NVM subsystem from discovery is used"},
    {OPT_NUMBER, "nsid", 0, "ID", 1, 0xFFFFFFFE, .def = "1", FIELD(nsid), .help = "namespace"},
    {OPT_NUMBER, "num-qpairs", 'P', "N", 1, 256, .def = "1", FIELD(queues_per_thread),
     .help = "I/O queues (TCP connections) per thread"},
    {OPT_FLAG, "hdgst", 'H', FIELD(host.header_digest),
     .help = "enable the NVMe/TCP header digest"},
    {OPT_FLAG, "ddgst", 'I', FIELD(host.data_digest), .help = "enable the NVMe/TCP data digest"},
    {OPT_NUMBER, "kato", 'k', "MS", 0, UINT32_MAX, .def = "10000", FIELD(host.kato_ms),
     .help = "keep-alive timeout; 0: off"},
    {OPT_FLAG, "no-sqflow", FIELD(host.disable_sqflow),
     .help = "ask for SQ flow control to be disabled (Connect CATTR)"},
    {OPT_TEXT, "tcp-congestion", 0, "NAME", .def = "cubic", .apply = set_congestion,
     .help = "TCP congestion control of the connections; system: the kernel's default (BBR "
	     "paces large transfers on a local link to two thirds of their rate)"},
    {OPT_FLAG, "no-incapsule", FIELD(host.no_incapsule),
     .help = "never send write data in-capsule (always R2T)"},
    {OPT_TEXT, "hostnqn", 0, "NQN", .def = "a random uuid NQN", .flags = OPT_DEFAULT_SHOWN,
     .apply = set_hostnqn, .help = "host NQN"},
    {OPT_TEXT, "dhchap-key", 0, "SECRET", .apply = set_dhchap_key,
     .help = "authenticate with DH-HMAC-CHAP when the target asks, with this secret "
	     "(DHHC-1:HH:BASE64:, as for nvme connect)"},
    {OPT_TEXT, "dhchap-ctrl-key", 0, "SECRET", .apply = set_dhchap_ctrl_key,
     .help = "have the target prove it knows this controller secret (bidirectional)"},
    {OPT_TEXT, "dhchap-hashes", 0, "LIST", .def = "sha256,sha384,sha512",
     .apply = set_dhchap_hashes, .help = "hashes offered to the target"},
    {OPT_TEXT, "dhchap-dhgroups", 0, "LIST",
     .def = "null,ffdhe2048,ffdhe3072,ffdhe4096,ffdhe6144,ffdhe8192", .apply = set_dhchap_dhgroups,
     .help = "Diffie-Hellman groups offered to the target"},
    {OPT_FLAG, "busy-poll", FIELD(busy_poll),
     .help = "spin on the sockets instead of sleeping in epoll"},

    {OPT_SECTION, .help = "Workload"},
    {OPT_NUMBER, "queue-depth", 'q', "N", 1, 65535, .def = "32", FIELD(depth),
     .help = "commands outstanding per queue"},
    {OPT_NUMBER, "io-size", 'o', "BYTES", 512, 64 << 20, .def = "4096", FIELD(io_size),
     .help = "I/O size"},
    {OPT_TEXT, "workload", 'w', "W", .def = "randread", .apply = set_workload,
     .help = "read, write, randread, randwrite, rw or randrw"},
    {OPT_NUMBER, "rwmixread", 'M', "PCT", 0, 100, .def = "50", FIELD(read_pct),
     .help = "reads in percent for rw and randrw"},
    {OPT_TEXT, "time", 't', "SEC", .def = "10", .apply = set_time,
     .help = "run time; without -t, -d runs until the count"},
    {OPT_NUMBER, "number-ios", 'd', "N", 1, UINT64_MAX, FIELD(io_limit),
     .help = "stop each thread after N I/Os (as spdk_nvme_perf -d)"},
    {OPT_NUMBER, "core-mask", 'c', "MASK", 1, UINT64_MAX, FIELD(cpu_mask),
     .help = "one thread per set bit, each pinned to that CPU (0x3: CPUs 0 and 1)"},
    /* 0 until given, to tell --threads 1 from nothing beside -c */
    {OPT_NUMBER, "threads", 0, "N", 1, 256, .def = "1", .flags = OPT_DEFAULT_SHOWN, FIELD(threads),
     .help = "N unpinned threads"},
    {OPT_NUMBER, "seed", 0, "N", 0, UINT64_MAX, .def = "1", FIELD(seed),
     .help = "seed of the offsets and the verify pattern"},
    {OPT_NUMBER, "span", 0, "BYTES", 1, UINT64_MAX, FIELD(span_bytes),
     .help = "use only BYTES of the namespace (default: all; verify: at most 256 MiB)"},
    {OPT_NUMBER, "offset", 0, "BYTES", 0, UINT64_MAX, FIELD(offset_bytes),
     .help = "where the span starts (0), a multiple of the LBA size"},
    {OPT_TEXT, "pid", 0, "PID[,PID...]", .apply = set_pids,
     .help = "FDP: writes carry DTYPE 2 (Data Placement) with these placement identifiers, "
	     "queue i taking the (i mod n)-th"},
    {OPT_TEXT, "pid-split", 0, "PCT", .apply = set_pid_split,
     .help = "FDP, with --pid HOT,COLD: writes to the first PCT % of the span take HOT, the "
	     "rest COLD (a hot/cold split of the LBA range)"},

    {OPT_SECTION, .help = "Verification"},
    {OPT_FLAG, "verify", FIELD(verify),
     .help = "write a pattern over the span, read it back and check, then disconnect, reconnect "
	     "and check again; with -w randread, randwrite or randrw and -t, random reads and "
	     "writes run for that long after the pattern is written, each write stamping new data "
	     "and each read checking what was written last"},
    {OPT_FLAG, "verify-read", .apply = set_verify_read,
     .help = "only read and check the pattern an earlier --verify wrote (same --seed and --span)"},
    {OPT_NUMBER, "or-seed", 0, "N", 1, UINT64_MAX, FIELD(or_seed),
     .help = "with --verify-read, a block may hold the pattern of seed N instead (the old or the "
	     "new data after a power cut); counted apart"},

    {OPT_SECTION, .help = "Output"},
    {OPT_FLAG, "json", FIELD(json), .help = "print one JSON object instead of text"},
    {OPT_FLAG, "verbose", 'v', FIELD(verbose),
     .help = "log what the controller reports while connecting"},
    {OPT_HELP, "help", 'h', .help = "this text"},
    {OPT_LIST, "list-options", .help = "list every option, tab-separated, for scripts"},
};

static const struct opt_table perf_table = {
    .command = "nvemu perf",
    .usage = "Usage: nvemu perf -r TRID [options]\n"
	     "An NVMe/TCP load generator and verifier in the manner of spdk_nvme_perf.\n\n",
    .epilog = "Exit status is 0 only if every I/O completed without error or mismatch.\n",
    .opts = perf_opts,
    .count = ARRAY_SIZE(perf_opts),
};

/* Returns 0 to run, -EINVAL on a bad option (message printed); --help exits. */
int perf_parse_args(struct perf_config *cfg, int argc, char **argv)
{
	struct perf_args a = {0};
	host_opts_init(&a.cfg.host);
	opt_defaults(&perf_table, &a);
	a.have_time = false; /* set by the default of -t */
	char err[256];
	int operand = opt_parse(&perf_table, argc, argv, &a, false, err, sizeof(err));
	if (operand < 0) {
		fprintf(stderr, "perf: %s\n", err);
		return -EINVAL;
	}
	if (operand < argc) {
		fprintf(stderr, "perf: unexpected argument '%s'\n", argv[operand]);
		return -EINVAL;
	}
	if (!a.have_target) {
		fprintf(stderr, "perf: -r is required (see nvemu perf --help)\n");
		return -EINVAL;
	}
	if (a.cfg.pid_split > 0 && a.cfg.npids != 2) {
		fprintf(stderr, "perf: --pid-split needs --pid HOT,COLD\n");
		return -EINVAL;
	}
	if (a.cfg.host.has_dhchap_ctrl_key && !a.cfg.host.has_dhchap_key) {
		fprintf(stderr, "perf: --dhchap-ctrl-key needs --dhchap-key too\n");
		return -EINVAL;
	}
	if (a.cfg.cpu_mask && a.cfg.threads) {
		fprintf(stderr, "perf: use either -c or --threads\n");
		return -EINVAL;
	}
	*cfg = a.cfg;
	if (cfg->verbose)
		log_threshold = LOG_DEBUG;
	if (cfg->cpu_mask)
		cfg->threads = (unsigned)__builtin_popcountll(cfg->cpu_mask);
	else if (!cfg->threads)
		cfg->threads = 1;
	if (cfg->io_limit && !a.have_time)
		cfg->seconds = 0;
	bool random = cfg->workload == WL_RANDREAD || cfg->workload == WL_RANDWRITE ||
		      cfg->workload == WL_RANDRW;
	if (cfg->verify && a.have_time && !random)
		fprintf(stderr,
			"perf: --verify with a sequential workload runs fixed passes; -t is "
			"ignored\n");
	if (cfg->verify && random && !a.have_time)
		cfg->seconds = 0; /* no random phase unless asked for with -t */
	return 0;
}
