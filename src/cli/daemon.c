/* `nvemu` with no subcommand: serve NVMe/TCP until SIGINT or SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/config_file.h"
#include "config/config.h"
#include "ns/zoned.h"
#include "nvme/nvme.h"
#include "runtime/reactor.h"
#include "stats/stats.h"
#include "transport/tcp.h"
#include "util/log.h"
#include "util/util.h"

#define MAX_SUBSYSTEMS 64
#define MAX_NS_SPECS 256
#define MAX_NS_KEYS 64
#define DEFAULT_NQN "nqn.2026-11.dev.nvemu:ssd0"

struct ns_spec {
	unsigned subsys;
	struct ns_params params;
	/* --ns-preset and --ns-o: model and zone keys of this namespace alone,
	 * applied over the daemon-wide ones when the namespace is built */
	const char *preset;
	const char *keys[MAX_NS_KEYS];
	unsigned nkeys;
	struct ssd_params ssd;
	struct zoned_params zoned;
};

struct daemon_options {
	const char *listen;
	uint16_t port;
	const char *nqns[MAX_SUBSYSTEMS];
	unsigned nsubsys;
	struct ns_spec ns[MAX_NS_SPECS];
	unsigned nns;
	struct ns_params default_ns;
	unsigned namespaces;
	const char *serial;
	const char *model;
	const char *allowed_hosts[64];
	unsigned nallowed;
	bool allow_any_host;
	struct nvme_target_params target;
	unsigned reactors;
	bool busy_poll;
	uint64_t timer_spin_ns;
	struct ssd_params ssd;
	struct zoned_params zoned;
	/* The -o assignments, which also override a namespace's own keys. */
	const char *override_keys[MAX_NS_KEYS];
	unsigned noverride_keys;
	struct stats_params stats;
	bool check_only;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: nvemu [options]            serve NVMe namespaces over NVMe/TCP\n"
		"       nvemu COMMAND --help        (commands: %s)\n"
		"\n"
		"Configuration\n"
		"  -c, --config FILE         read options, subsystems and namespaces from an INI file\n"
		"                            (docs/config.md); options after it override it\n"
		"      --check-config        check the options and the config file, then exit\n"
		"      --list-keys           list every flash-model and zone key with its default\n"
		"Listening\n"
		"  -a, --listen ADDR         address to listen on (127.0.0.1)\n"
		"  -p, --port PORT           TCP port (4420)\n"
		"      --allow-host NQN      host NQN allowed to connect (repeatable)\n"
		"      --allow-any-host      let any host connect (needed off loopback without --allow-host)\n"
		"Subsystems and namespaces\n"
		"  -n, --nqn NQN             start a subsystem (repeatable; default " DEFAULT_NQN ")\n"
		"      --ns KIND:SIZE[:LBA]  add a namespace to the last subsystem (repeatable)\n"
		"      --ns-preset NAME      model preset of the last --ns alone\n"
		"      --ns-o KEY=VALUE      a model or zone key of the last --ns alone (repeatable)\n"
		"      --kind KIND           kind of the default namespaces: ssd, zoned, ram, nossd (ssd)\n"
		"      --zoned               the default namespace is zoned (ZNS) on the flash model\n"
		"                            (same as --kind zoned; zone keys with -o, see docs/zns.md)\n"
		"      --size SIZE           size of each default ram or nossd namespace, K/M/G/T (1G)\n"
		"      --lba-size BYTES      512 or 4096 (4096)\n"
		"      --namespaces N        default namespaces per subsystem without --ns (1)\n"
		"      --serial TEXT         serial number (NVEMU0001; later subsystems add -2, -3...)\n"
		"      --model TEXT          model number (nvemu NVMe/TCP SSD)\n"
		"Flash model (ssd namespaces; their capacity follows from geometry and op_pcent)\n"
		"      --preset NAME|FILE    load model keys from a preset (femu-bbssd, small, tlc)\n"
		"  -o KEY=VALUE              set a model or zone key (repeatable; nvemu sim --list-keys\n"
		"                            lists the model's, docs/zns.md the zone keys)\n"
		"      --transport-floor NS  subtract this transport round trip from modelled latencies (0)\n"
		"Controller\n"
		"      --mdts N              max transfer 2^N x 4 KiB, 1..8 (5 = 128 KiB)\n"
		"      --io-queues N         I/O queues per controller, 1..1024 (64)\n"
		"      --queue-depth N       I/O queue entries, 2..4096 (128)\n"
		"      --incapsule BYTES     in-capsule data on I/O queues, 0..131072 (8192)\n"
		"      --keep-alive-slack MS grace past the host's keep-alive timeout before a silent\n"
		"                            host is dropped (10000: VMs under emulation stall)\n"
		"Runtime\n"
		"      --reactors N          reactor threads (number of CPUs)\n"
		"      --poll                reactors spin instead of sleeping (lower latency)\n"
		"      --timer-spin NS       sleeping reactors wake this early for a modelled\n"
		"                            completion and spin to it (0; try 80000 in a VM)\n"
		"Statistics (docs/stats.md; read them with nvemu stats)\n"
		"      --control PATH        control socket (default $XDG_RUNTIME_DIR/nvemu/PORT.sock\n"
		"                            or /tmp/nvemu-PORT.sock; 'none': no socket)\n"
		"      --http PORT           also serve /metrics (Prometheus) and /stats (JSON) over\n"
		"                            HTTP on 127.0.0.1:PORT\n"
		"      --record FILE         append a JSON-lines time series of all counters to FILE\n"
		"                            (nvemu plot FILE draws it)\n"
		"      --record-interval MS  time between records (1000)\n"
		"  -v, --verbose             log every connection and refused command\n"
		"  -h, --help                this text\n",
		CLI_COMMAND_NAMES);
}

static int parse_ns_spec(const char *text, const struct ns_params *defaults, struct ns_params *out,
			 char *err, size_t errlen)
{
	char copy[128];
	snprintf(copy, sizeof(copy), "%s", text);
	*out = *defaults;
	/* Fields may be empty ("ssd::512"): strsep keeps them in place. */
	char *rest = copy;
	char *kind = strsep(&rest, ":");
	char *size = strsep(&rest, ":");
	char *lba = strsep(&rest, ":");
	if (size && !*size)
		size = NULL;
	if (lba && !*lba)
		lba = NULL;
	if (!kind || ns_kind_parse(kind, &out->kind))
		return errorf(err, errlen, "--ns '%s': kind must be ram, nossd, ssd or zoned",
			      text);
	if (size && parse_u64(size, 1, UINT64_MAX, &out->bytes, NULL, 0))
		return errorf(err, errlen, "--ns '%s': bad size '%s'", text, size);
	uint64_t lba_size = out->lba_size;
	if (lba && (parse_u64(lba, 512, 4096, &lba_size, NULL, 0) ||
		    (lba_size != 512 && lba_size != 4096)))
		return errorf(err, errlen, "--ns '%s': LBA size must be 512 or 4096", text);
	out->lba_size = (uint32_t)lba_size;
	return 0;
}

enum {
	OPT_ALLOW_HOST = 256,
	OPT_ALLOW_ANY,
	OPT_NS,
	OPT_KIND,
	OPT_SIZE,
	OPT_LBA,
	OPT_NAMESPACES,
	OPT_SERIAL,
	OPT_MODEL,
	OPT_MDTS,
	OPT_IO_QUEUES,
	OPT_QUEUE_DEPTH,
	OPT_INCAPSULE,
	OPT_REACTORS,
	OPT_POLL,
	OPT_PRESET,
	OPT_TIMER_SPIN,
	OPT_FLOOR,
	OPT_ZONED,
	OPT_CONTROL,
	OPT_HTTP,
	OPT_RECORD,
	OPT_RECORD_INTERVAL,
	OPT_NS_PRESET,
	OPT_NS_KEY,
	OPT_CHECK_CONFIG,
	OPT_LIST_KEYS,
	OPT_KATO_SLACK,
};

/* Also the [nvemu] keys of a config file. */
static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'a'},
	    {"port", required_argument, NULL, 'p'},
	    {"nqn", required_argument, NULL, 'n'},
	    {"allow-host", required_argument, NULL, OPT_ALLOW_HOST},
	    {"allow-any-host", no_argument, NULL, OPT_ALLOW_ANY},
	    {"ns", required_argument, NULL, OPT_NS},
	    {"kind", required_argument, NULL, OPT_KIND},
	    {"size", required_argument, NULL, OPT_SIZE},
	    {"lba-size", required_argument, NULL, OPT_LBA},
	    {"namespaces", required_argument, NULL, OPT_NAMESPACES},
	    {"serial", required_argument, NULL, OPT_SERIAL},
	    {"model", required_argument, NULL, OPT_MODEL},
	    {"mdts", required_argument, NULL, OPT_MDTS},
	    {"io-queues", required_argument, NULL, OPT_IO_QUEUES},
	    {"queue-depth", required_argument, NULL, OPT_QUEUE_DEPTH},
	    {"incapsule", required_argument, NULL, OPT_INCAPSULE},
	    {"reactors", required_argument, NULL, OPT_REACTORS},
	    {"poll", no_argument, NULL, OPT_POLL},
	    {"preset", required_argument, NULL, OPT_PRESET},
	    {"transport-floor", required_argument, NULL, OPT_FLOOR},
	    {"timer-spin", required_argument, NULL, OPT_TIMER_SPIN},
	    {"zoned", no_argument, NULL, OPT_ZONED},
	    {"control", required_argument, NULL, OPT_CONTROL},
	    {"http", required_argument, NULL, OPT_HTTP},
	    {"record", required_argument, NULL, OPT_RECORD},
	    {"record-interval", required_argument, NULL, OPT_RECORD_INTERVAL},
	    {"ns-preset", required_argument, NULL, OPT_NS_PRESET},
	    {"ns-o", required_argument, NULL, OPT_NS_KEY},
	    {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
	    {"list-keys", no_argument, NULL, OPT_LIST_KEYS},
	    {"keep-alive-slack", required_argument, NULL, OPT_KATO_SLACK},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
};

/* Checks a --ns-o or -o key against the model's and the zone tables. */
static int set_model_key(struct ssd_params *ssd, struct zoned_params *zoned, const char *assignment,
			 char *err, size_t errlen)
{
	char key[128];
	snprintf(key, sizeof(key), "%.*s", (int)strcspn(assignment, "="), assignment);
	bool zone_key = config_find(&zoned_config_table, key) != NULL;
	return config_set_assignment(zone_key ? &zoned_config_table : &ssd_config_table,
				     zone_key ? (void *)zoned : (void *)ssd, assignment, err, errlen);
}

struct model_keys {
	struct ssd_params *ssd;
	struct zoned_params *zoned;
};

static int preset_line(const char *key, const char *value, void *ctx, char *err, size_t errlen)
{
	struct model_keys *keys = ctx;
	char assignment[512];
	snprintf(assignment, sizeof(assignment), "%s=%s", key, value);
	return set_model_key(keys->ssd, keys->zoned, assignment, err, errlen);
}

/* A preset holds flash-model keys and, for zoned drives, zone keys. */
static int load_preset(struct ssd_params *ssd, struct zoned_params *zoned, const char *name,
		       char *err, size_t errlen)
{
	char path[4096];
	if (config_preset_path(name, path, sizeof(path)))
		return errorf(err, errlen, "preset '%s' not found", name);
	struct model_keys keys = {ssd, zoned};
	return config_parse_file(path, preset_line, &keys, err, errlen);
}

static int parse_options(int argc, char **argv, struct daemon_options *o, char *err, size_t errlen)
{
	uint64_t v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "a:p:n:o:vh", longopts, NULL)) != -1) {
		const char *name = NULL;
		switch (c) {
		case 'a':
			o->listen = optarg;
			break;
		case 'p':
			if (parse_u64(optarg, 1, 65535, &v, NULL, 0))
				name = "--port";
			o->port = (uint16_t)v;
			break;
		case 'n':
			if (o->nsubsys == MAX_SUBSYSTEMS)
				return errorf(err, errlen, "at most %d subsystems", MAX_SUBSYSTEMS);
			o->nqns[o->nsubsys++] = optarg;
			break;
		case OPT_ALLOW_HOST:
			if (o->nallowed == 64)
				return errorf(err, errlen, "at most 64 --allow-host");
			o->allowed_hosts[o->nallowed++] = optarg;
			break;
		case OPT_ALLOW_ANY:
			o->allow_any_host = true;
			break;
		case OPT_NS:
			if (o->nns == MAX_NS_SPECS)
				return errorf(err, errlen, "at most %d --ns", MAX_NS_SPECS);
			o->ns[o->nns].subsys = o->nsubsys ? o->nsubsys - 1 : 0;
			if (parse_ns_spec(optarg, &o->default_ns, &o->ns[o->nns].params, err, errlen))
				return -1;
			o->nns++;
			break;
		case OPT_KIND:
			if (ns_kind_parse(optarg, &o->default_ns.kind))
				name = "--kind";
			break;
		case OPT_SIZE:
			if (parse_u64(optarg, 1, UINT64_MAX, &o->default_ns.bytes, NULL, 0))
				name = "--size";
			break;
		case OPT_LBA:
			if (parse_u64(optarg, 512, 4096, &v, NULL, 0) || (v != 512 && v != 4096))
				name = "--lba-size";
			o->default_ns.lba_size = (uint32_t)v;
			break;
		case OPT_NAMESPACES:
			if (parse_u64(optarg, 1, NVME_MAX_NAMESPACES, &v, NULL, 0))
				name = "--namespaces";
			o->namespaces = (unsigned)v;
			break;
		case OPT_SERIAL:
			o->serial = optarg;
			break;
		case OPT_MODEL:
			o->model = optarg;
			break;
		case OPT_MDTS:
			if (parse_u64(optarg, 1, 8, &v, NULL, 0))
				name = "--mdts";
			o->target.mdts = (uint8_t)v;
			break;
		case OPT_IO_QUEUES:
			if (parse_u64(optarg, 1, 1024, &v, NULL, 0))
				name = "--io-queues";
			o->target.max_io_queues = (uint16_t)v;
			break;
		case OPT_QUEUE_DEPTH:
			if (parse_u64(optarg, 2, 4096, &v, NULL, 0))
				name = "--queue-depth";
			o->target.io_queue_depth = (uint16_t)v;
			break;
		case OPT_INCAPSULE:
			if (parse_u64(optarg, 0, 131072, &v, NULL, 0) || v % 16)
				name = "--incapsule (a multiple of 16)";
			o->target.incapsule_size = (uint32_t)v;
			break;
		case OPT_REACTORS:
			if (parse_u64(optarg, 1, 256, &v, NULL, 0))
				name = "--reactors";
			o->reactors = (unsigned)v;
			break;
		case OPT_POLL:
			o->busy_poll = true;
			break;
		case OPT_PRESET:
			if (load_preset(&o->ssd, &o->zoned, optarg, err, errlen))
				return -1;
			break;
		case 'o':
			if (set_model_key(&o->ssd, &o->zoned, optarg, err, errlen))
				return -1;
			if (o->noverride_keys == MAX_NS_KEYS)
				return errorf(err, errlen, "at most %d -o", MAX_NS_KEYS);
			o->override_keys[o->noverride_keys++] = optarg;
			break;
		case OPT_NS_PRESET:
		case OPT_NS_KEY: {
			if (!o->nns)
				return errorf(
				    err, errlen,
				    "--%s applies to the --ns before it, and there is none",
				    c == OPT_NS_KEY ? "ns-o" : "ns-preset");
			struct ns_spec *spec = &o->ns[o->nns - 1];
			/* Checked now against scratch tables, applied when the namespace is built. */
			struct ssd_params ssd;
			struct zoned_params zoned;
			ssd_params_defaults(&ssd);
			zoned_params_defaults(&zoned);
			if (c == OPT_NS_PRESET) {
				if (load_preset(&ssd, &zoned, optarg, err, errlen))
					return -1;
				spec->preset = optarg;
			} else {
				if (set_model_key(&ssd, &zoned, optarg, err, errlen))
					return -1;
				if (spec->nkeys == MAX_NS_KEYS)
					return errorf(err, errlen,
						      "at most %d --ns-o per namespace",
						      MAX_NS_KEYS);
				spec->keys[spec->nkeys++] = optarg;
			}
			break;
		}
		case OPT_CHECK_CONFIG:
			o->check_only = true;
			break;
		case OPT_KATO_SLACK:
			if (parse_u64(optarg, 0, 3600000, &v, NULL, 0))
				name = "--keep-alive-slack";
			o->target.keep_alive_slack_ms = (uint32_t)v;
			break;
		case OPT_LIST_KEYS:
			printf("Flash model keys (-o, --ns-o, presets, [namespace] sections):\n");
			config_print_keys(&ssd_config_table, stdout);
			printf("Zone keys (zoned namespaces):\n");
			config_print_keys(&zoned_config_table, stdout);
			exit(0);
		case OPT_ZONED:
			o->default_ns.kind = NS_KIND_ZONED;
			break;
		case OPT_TIMER_SPIN:
			if (parse_u64(optarg, 0, 10000000, &v, NULL, 0))
				name = "--timer-spin";
			o->timer_spin_ns = v;
			break;
		case OPT_FLOOR:
			if (parse_u64(optarg, 0, 1000000000, &v, NULL, 0))
				name = "--transport-floor";
			o->default_ns.transport_floor_ns = v;
			break;
		case OPT_CONTROL:
			o->stats.control_path = optarg;
			break;
		case OPT_HTTP:
			if (parse_u64(optarg, 1, 65535, &v, NULL, 0))
				name = "--http";
			o->stats.http_port = (uint16_t)v;
			break;
		case OPT_RECORD:
			o->stats.record_path = optarg;
			break;
		case OPT_RECORD_INTERVAL:
			if (parse_u64(optarg, 10, 3600000, &v, NULL, 0))
				name = "--record-interval (10..3600000 ms)";
			o->stats.record_interval_ms = v;
			break;
		case 'v':
			log_threshold = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return errorf(err, errlen, "unknown option (see nvemu --help)");
		}
		if (name)
			return errorf(err, errlen, "bad value '%s' for %s", optarg, name);
	}
	if (optind < argc)
		return errorf(err, errlen, "unexpected argument '%s' (see nvemu --help)",
			      argv[optind]);
	return 0;
}

static bool is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strcmp(addr, "localhost") == 0;
}

/*
 * Starts from the daemon-wide keys, then this namespace's preset and keys, then
 * -o again: a key given with -o overrides every other setting of it.
 */
static int apply_ns_keys(struct daemon_options *o, struct ns_spec *spec, struct ns_params *params,
			 char *err, size_t errlen)
{
	if (!spec->preset && !spec->nkeys)
		return 0;
	spec->ssd = o->ssd;
	spec->zoned = o->zoned;
	if (spec->preset && load_preset(&spec->ssd, &spec->zoned, spec->preset, err, errlen))
		return -1;
	for (unsigned k = 0; k < spec->nkeys; k++)
		if (set_model_key(&spec->ssd, &spec->zoned, spec->keys[k], err, errlen))
			return -1;
	for (unsigned k = 0; k < o->noverride_keys; k++)
		if (set_model_key(&spec->ssd, &spec->zoned, o->override_keys[k], err, errlen))
			return -1;
	params->ssd = &spec->ssd;
	params->zoned = &spec->zoned;
	return 0;
}

static int build_target(struct daemon_options *o, struct nvme_target **out, struct stats *stats,
			char *err, size_t errlen)
{
	if (!o->nsubsys)
		o->nqns[o->nsubsys++] = DEFAULT_NQN;
	if (!is_loopback(o->listen) && !o->nallowed && !o->allow_any_host) {
		snprintf(err, errlen,
			 "listening on %s (not loopback) needs --allow-host NQN or --allow-any-host",
			 o->listen);
		return -1;
	}
	o->target.listen_addr = o->listen;
	o->target.port = o->port;
	o->target.allow_any_host = o->allow_any_host || !o->nallowed;
	struct nvme_target *target = nvme_target_create(&o->target);
	if (!target)
		return errorf(err, errlen, "out of memory");
	*out = target;
	for (unsigned i = 0; i < o->nallowed; i++) {
		if (nvme_target_allow_host(target, o->allowed_hosts[i]))
			return errorf(err, errlen, "bad --allow-host '%s'", o->allowed_hosts[i]);
	}
	for (unsigned s = 0; s < o->nsubsys; s++) {
		const char *base_serial = o->serial ? o->serial : "NVEMU0001";
		char serial[32];
		if (s == 0)
			snprintf(serial, sizeof(serial), "%.20s", base_serial);
		else
			snprintf(serial, sizeof(serial), "%.14s-%u", base_serial, (s + 1) % 100000);
		struct nvme_subsys_params sp = {.nqn = o->nqns[s], .serial = serial,
						.model = o->model ? o->model : "nvemu NVMe/TCP SSD"};
		struct nvme_subsys *subsys = nvme_target_add_subsys(target, &sp, err, errlen);
		if (!subsys)
			return -1;
		bool explicit_ns = false;
		for (unsigned i = 0; i < o->nns; i++)
			explicit_ns |= o->ns[i].subsys == s;
		for (unsigned i = 0; i < (explicit_ns ? o->nns : o->namespaces); i++) {
			if (explicit_ns && o->ns[i].subsys != s)
				continue;
			struct ns_params params = explicit_ns ? o->ns[i].params : o->default_ns;
			params.ssd = &o->ssd;
			params.zoned = &o->zoned;
			if (explicit_ns && apply_ns_keys(o, &o->ns[i], &params, err, errlen))
				return -1;
			params.transport_floor_ns = o->default_ns.transport_floor_ns;
			struct ns *ns = ns_create(&params, err, errlen);
			if (!ns)
				return -1;
			uint32_t nsid = nvme_subsys_add_ns(subsys, ns, err, errlen);
			if (!nsid) {
				ns_destroy(ns);
				return -1;
			}
			if (stats_add_ns(stats, subsys, nsid, ns, err, errlen))
				return -1;
		}
	}
	return 0;
}

static void *reactor_thread(void *arg)
{
	reactor_run(arg);
	return NULL;
}

static void print_banner(const struct daemon_options *o, const struct stats *stats)
{
	printf("nvemu: serving NVMe/TCP on %s port %u (%u reactor%s, %s)\n", o->listen, o->port,
	       o->reactors, o->reactors == 1 ? "" : "s", o->busy_poll ? "polling" : "sleeping");
	for (unsigned s = 0; s < o->nsubsys; s++)
		printf("  connect:  nvme connect -t tcp -a %s -s %u -n %s\n",
		       is_loopback(o->listen) ? "127.0.0.1" : o->listen, o->port, o->nqns[s]);
	printf("  discover: nvme discover -t tcp -a %s -s %u\n",
	       is_loopback(o->listen) ? "127.0.0.1" : o->listen, o->port);
	printf("  (a QEMU guest with user networking reaches this host's loopback as 10.0.2.2)\n");
	if (*stats_control_path(stats))
		printf("  stats:    nvemu stats --control %s\n", stats_control_path(stats));
	if (o->stats.http_port)
		printf("  metrics:  http://127.0.0.1:%u/metrics\n", o->stats.http_port);
	fflush(stdout);
}

static void set_defaults(struct daemon_options *o)
{
	*o = (struct daemon_options){
	    .listen = "127.0.0.1",
	    .port = 4420,
	    .default_ns = {.kind = NS_KIND_SSD, .bytes = 1ull << 30, .lba_size = 4096},
	    .namespaces = 1,
	    .target = {.mdts = 5, .max_io_queues = 64, .io_queue_depth = 128, .incapsule_size = 8192,
		       .keep_alive_slack_ms = 10000},
	    .reactors = (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
	};
	ssd_params_defaults(&o->ssd);
	zoned_params_defaults(&o->zoned);
}

/* A config file's key, checked as its command-line option would be. */
static int check_option(const char *option, const char *value, char *err, size_t errlen)
{
	struct daemon_options *scratch = malloc(sizeof(*scratch));
	if (!scratch)
		return errorf(err, errlen, "out of memory");
	set_defaults(scratch);
	char flag[160];
	snprintf(flag, sizeof(flag), "--%s", option);
	/* --ns-o and --ns-preset need a namespace to apply to; other options start past it. */
	char *argv[] = {"nvemu", "--ns", "ram", flag, (char *)value, NULL};
	int skip = strncmp(option, "ns-", 3) == 0 ? 0 : 2;
	argv[skip] = "nvemu";
	int rc = parse_options(5 - skip, argv + skip, scratch, err, errlen);
	free(scratch);
	return rc;
}

/*
 * Replaces --config FILE (or -c FILE) with the options the file stands for,
 * in its place, so that options after it override the file's.
 */
static int expand_config(int argc, char **argv, struct arg_list *out, char *err, size_t errlen)
{
	for (int i = 0; i < argc; i++) {
		const char *file = NULL;
		if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc)
			file = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			file = argv[i] + 9;
		if (!file) {
			if (arg_list_push(out, argv[i]))
				goto oom;
			continue;
		}
		if (config_file_to_args(file, longopts, check_option, out, err, errlen))
			return -1;
	}
	return 0;
oom:
	return errorf(err, errlen, "out of memory");
}

int daemon_main(int argc, char **argv)
{
	struct daemon_options o;
	set_defaults(&o);
	char err[512] = "";
	struct arg_list args = {0};
	if (expand_config(argc, argv, &args, err, sizeof(err)) ||
	    parse_options(args.argc, args.argv, &o, err, sizeof(err))) {
		fprintf(stderr, "nvemu: %s\n", err);
		arg_list_free(&args);
		return 2;
	}
	o.stats.nreactors = o.reactors;
	o.stats.port = o.port;
	struct stats *stats = stats_create(&o.stats);
	struct nvme_target *target = NULL;
	if (!stats || build_target(&o, &target, stats, err, sizeof(err)) || o.check_only) {
		bool failed = !stats || !o.check_only || err[0];
		if (failed)
			fprintf(stderr, "nvemu: %s\n", stats ? err : "out of memory");
		else
			printf("nvemu: configuration is valid (%u subsystem%s)\n", o.nsubsys,
			       o.nsubsys == 1 ? "" : "s");
		stats_destroy(stats);
		nvme_target_destroy(target);
		arg_list_free(&args);
		return failed ? 2 : 0;
	}

	/* Only the main thread takes signals; reactors inherit the blocked mask. */
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct reactor **reactors = calloc(o.reactors, sizeof(*reactors));
	pthread_t *threads = calloc(o.reactors, sizeof(*threads));
	int rc = 1;
	struct tcp_transport *transport = NULL;
	unsigned started = 0;
	if (!reactors || !threads)
		goto out;
	for (unsigned i = 0; i < o.reactors; i++) {
		if (!(reactors[i] = reactor_create(i, o.busy_poll)))
			goto out;
		reactor_set_timer_spin(reactors[i], o.timer_spin_ns);
	}
	struct tcp_transport_params tp = {.addr = o.listen, .port = o.port, .target = target,
					  .reactors = reactors, .nreactors = o.reactors};
	transport = tcp_transport_create(&tp, err, sizeof(err));
	if (!transport) {
		fprintf(stderr, "nvemu: %s\n", err);
		rc = 2;
		goto out;
	}
	if (stats_start(stats, err, sizeof(err))) {
		fprintf(stderr, "nvemu: %s\n", err);
		rc = 2;
		goto out;
	}
	for (; started < o.reactors; started++) {
		if (pthread_create(&threads[started], NULL, reactor_thread, reactors[started]))
			goto out;
		/* Shown by gdb's "info threads" and top -H. */
		char name[16];
		snprintf(name, sizeof(name), "reactor-%u", started % 10000);
		pthread_setname_np(threads[started], name);
	}
	print_banner(&o, stats);
	int sig = 0;
	sigwait(&stop_signals, &sig);
	log_info("%s: stopping", strsignal(sig));
	rc = 0;
out:
	for (unsigned i = 0; i < started; i++)
		reactor_stop(reactors[i]);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	stats_destroy(stats);
	tcp_transport_destroy(transport);
	for (unsigned i = 0; reactors && i < o.reactors; i++)
		reactor_destroy(reactors[i]);
	free(reactors);
	free(threads);
	nvme_target_destroy(target);
	/* Options point into the expanded arguments until here. */
	arg_list_free(&args);
	return rc;
}
