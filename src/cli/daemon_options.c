/*
 * The daemon's options, described once: the table below gives the command line, --help, the
 * [nvemu] keys of config files, and (through --list-options) the man page and the option tables
 * of docs/config.md and the README.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/daemon.h"
#include "config/options.h"
#include "util/log.h"
#include "util/util.h"

#define FIELD(f) OPT_FIELD(struct daemon_options, f)

/* Checks a --ns-o or -o key against the model's and the zone tables. */
static int set_model_key(struct ssd_params *ssd, struct zoned_params *zoned, const char *assignment,
			 char *err, size_t errlen)
{
	char key[128];
	snprintf(key, sizeof(key), "%.*s", (int)strcspn(assignment, "="), assignment);
	bool zone_key = config_find(&zoned_config_table, key) != NULL;
	return config_set_assignment(zone_key ? &zoned_config_table : &ssd_config_table,
				     zone_key ? (void *)zoned : (void *)ssd, assignment, err,
				     errlen);
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

static int parse_lba_size(const char *text, uint32_t *out)
{
	uint64_t v;
	if (parse_u64(text, 512, 4096, &v, NULL, 0) || (v != 512 && v != 4096))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* KIND:SIZE[:LBA], fields left empty ("ssd::512") taking the default namespace's. */
static int parse_ns_spec(const char *name, const char *text, const struct ns_params *defaults,
			 struct ns_params *out, char *err, size_t errlen)
{
	char copy[128];
	snprintf(copy, sizeof(copy), "%s", text);
	*out = *defaults;
	char *rest = copy;
	char *kind = strsep(&rest, ":");
	char *size = strsep(&rest, ":");
	char *lba = strsep(&rest, ":");
	if (!kind || ns_kind_parse(kind, &out->kind))
		return errorf(err, errlen, "%s '%s': kind must be ram, nossd, ssd or zoned", name,
			      text);
	out->kind_given = true;
	/* The default namespace's drive directory is its own. */
	out->path = NULL;
	if (size && *size && parse_u64(size, 1, UINT64_MAX, &out->bytes, NULL, 0))
		return errorf(err, errlen, "%s '%s': bad size '%s'", name, text, size);
	if (lba && *lba && parse_lba_size(lba, &out->lba_size))
		return errorf(err, errlen, "%s '%s': LBA size must be 512 or 4096", name, text);
	return 0;
}

static int add_subsystem(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct daemon_options *o = ctx;
	if (o->nsubsys == MAX_SUBSYSTEMS)
		return errorf(err, errlen, "%s: at most %d subsystems", name, MAX_SUBSYSTEMS);
	o->nqns[o->nsubsys++] = value;
	return 0;
}

static int allow_host(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct daemon_options *o = ctx;
	if (o->nhosts == MAX_ALLOWED_HOSTS)
		return errorf(err, errlen, "%s: at most %d hosts", name, MAX_ALLOWED_HOSTS);
	o->hosts[o->nhosts++] = (struct host_spec){.nqn = value, .subsys = (int)o->nsubsys - 1};
	return 0;
}

/* --dhchap-key and --dhchap-ctrl-key: a secret of the --allow-host before it.  Messages never
 * repeat the secret, which may be partly right. */
static int host_secret(struct daemon_options *o, const char *name, const char *value, bool ctrl,
		       char *err, size_t errlen)
{
	if (!o->nhosts)
		return errorf(err, errlen,
			      "%s belongs to the --allow-host before it, and there is none", name);
	struct host_spec *host = &o->hosts[o->nhosts - 1];
	const char **slot = ctrl ? &host->dhchap_ctrl_key : &host->dhchap_key;
	if (*slot)
		return errorf(err, errlen, "%s: host %s has one already", name, host->nqn);
	struct dhchap_key key;
	char why[128];
	int rc = dhchap_key_parse(value, &key, why, sizeof(why));
	dhchap_wipe(&key, sizeof(key));
	if (rc)
		return errorf(err, errlen, "%s of host %s: %s", name, host->nqn, why);
	*slot = value;
	return 0;
}

static int dhchap_key(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	return host_secret(ctx, name, value, false, err, errlen);
}

static int dhchap_ctrl_key(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct daemon_options *o = ctx;
	if (host_secret(o, name, value, true, err, errlen))
		return -1;
	if (!o->hosts[o->nhosts - 1].dhchap_key)
		return errorf(err, errlen, "%s: host %s needs its own --dhchap-key first", name,
			      o->hosts[o->nhosts - 1].nqn);
	return 0;
}

static int dhchap_hashes(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct daemon_options *o = ctx;
	return dhchap_list_option(name, value, false, &o->target.dhchap_hashes, err, errlen);
}

static int dhchap_dhgroups(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct daemon_options *o = ctx;
	return dhchap_list_option(name, value, true, &o->target.dhchap_dhgroups, err, errlen);
}

static int add_namespace(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct daemon_options *o = ctx;
	if (o->nns == MAX_NS_SPECS)
		return errorf(err, errlen, "%s: at most %d namespaces", name, MAX_NS_SPECS);
	o->ns[o->nns].subsys = o->nsubsys ? o->nsubsys - 1 : 0;
	if (parse_ns_spec(name, value, &o->default_ns, &o->ns[o->nns].params, err, errlen))
		return -1;
	o->nns++;
	return 0;
}

static const struct daemon_options *defaults(void);

/* --ns-preset and --ns-o: checked now against scratch tables (copies of the defaults, worked out
 * once: a config file's namespace keys each made them anew), applied when the namespace is built. */
static struct ns_spec *last_ns(struct daemon_options *o, const char *name, char *err, size_t errlen)
{
	if (!o->nns)
		errorf(err, errlen, "%s applies to the --ns before it, and there is none", name);
	return o->nns ? &o->ns[o->nns - 1] : NULL;
}

static int ns_preset(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct ns_spec *spec = last_ns(ctx, name, err, errlen);
	struct ssd_params ssd = defaults()->ssd;
	struct zoned_params zoned = defaults()->zoned;
	if (!spec || load_preset(&ssd, &zoned, value, err, errlen))
		return -1;
	spec->preset = value;
	return 0;
}

/* path=, data=, power_loss_protection=: the namespace's own keys, not the model's. */
static int own_key(struct ns_params *params, const char *name, const char *value, bool *own,
		   char *err, size_t errlen)
{
	char key[64];
	snprintf(key, sizeof(key), "%.*s", (int)strcspn(value, "="), value);
	*own = ns_key_is_own(key);
	if (!*own)
		return 0;
	if (!strchr(value, '='))
		return errorf(err, errlen, "%s '%s': expected key=value", name, value);
	if (ns_set_own_key(params, key, strchr(value, '=') + 1, err, errlen))
		return errorf(err, errlen, "%s %s", name, value), -1;
	return 0;
}

static int ns_key(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct ns_spec *spec = last_ns(ctx, name, err, errlen);
	struct ssd_params ssd = defaults()->ssd;
	struct zoned_params zoned = defaults()->zoned;
	bool own;
	if (!spec || own_key(&spec->params, name, value, &own, err, errlen))
		return -1;
	if (own)
		return 0;
	if (set_model_key(&ssd, &zoned, value, err, errlen))
		return -1;
	if (spec->nkeys == MAX_NS_KEYS)
		return errorf(err, errlen, "at most %d %s per namespace", MAX_NS_KEYS, name);
	spec->keys[spec->nkeys++] = value;
	return 0;
}

static int set_kind(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct daemon_options *o = ctx;
	if (ns_kind_parse(value, &o->default_ns.kind))
		return errorf(err, errlen, "%s: '%s' is not ram, nossd, ssd or zoned", name, value);
	o->default_ns.kind_given = true;
	return 0;
}

static int set_zoned(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	(void)value;
	return set_kind(ctx, name, "zoned", err, errlen);
}

static int set_lba_size(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct daemon_options *o = ctx;
	if (parse_lba_size(value, &o->default_ns.lba_size))
		return errorf(err, errlen, "%s: '%s' is not 512 or 4096", name, value);
	return 0;
}

static int set_preset(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct daemon_options *o = ctx;
	(void)name;
	if (o->npresets == MAX_NS_KEYS)
		return errorf(err, errlen, "at most %d %s", MAX_NS_KEYS, name);
	o->presets[o->npresets] = value;
	o->preset_at[o->npresets++] = o->noverride_keys;
	return load_preset(&o->ssd, &o->zoned, value, err, errlen);
}

static int set_key(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct daemon_options *o = ctx;
	bool own;
	if (own_key(&o->default_ns, name, value, &own, err, errlen))
		return -1;
	if (own)
		return 0;
	if (set_model_key(&o->ssd, &o->zoned, value, err, errlen))
		return -1;
	if (o->noverride_keys == MAX_NS_KEYS)
		return errorf(err, errlen, "at most %d %s", MAX_NS_KEYS, name);
	o->override_keys[o->noverride_keys++] = value;
	return 0;
}

static int add_fault(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct daemon_options *o = ctx;
	struct fault_spec spec;
	char why[400];
	if (o->nfaults == MAX_FAULTS)
		return errorf(err, errlen, "%s: at most %d faults", name, MAX_FAULTS);
	if (fault_spec_parse(value, &spec, why, sizeof(why)))
		return errorf(err, errlen, "%s '%s': %s", name, value, why);
	o->faults[o->nfaults++] = value;
	return 0;
}

static int list_keys(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	(void)ctx, (void)name, (void)value, (void)err, (void)errlen;
	printf("Flash model keys (-o, --ns-o, presets, [namespace] sections):\n");
	config_print_keys(&ssd_config_table, stdout);
	printf("Zone keys (zoned namespaces):\n");
	config_print_keys(&zoned_config_table, stdout);
	exit(0);
}

/* daemon_options_parse expands --config before the table is parsed; only other spellings
 * (-cFILE, --conf FILE) come here. */
static int config_spelled_out(void *ctx, const char *name, const char *value, char *err,
			      size_t errlen)
{
	(void)ctx, (void)value;
	return errorf(err, errlen, "%s: write -c FILE, --config FILE or --config=FILE", name);
}

static const struct opt daemon_opts[] = {
    {OPT_SECTION, .help = "Configuration"},
    {OPT_TEXT, "config", 'c', "FILE", .flags = OPT_REPEATABLE | OPT_NOT_A_KEY,
     .apply = config_spelled_out,
     .help = "read options, subsystems and namespaces from an INI file (docs/config.md); options "
	     "after it override it"},
    {OPT_FLAG, "check-config", .flags = OPT_NOT_A_KEY, FIELD(check_only),
     .help = "check the options and the config file, then exit"},
    {OPT_FLAG, "list-keys", .flags = OPT_NOT_A_KEY, .apply = list_keys,
     .help = "list every flash-model and zone key with its default"},
    {OPT_LIST, "list-options", .flags = OPT_NOT_A_KEY,
     .help = "list every option, tab-separated, for scripts (the man page and docs/config.md "
	     "are made from it)"},

    {OPT_SECTION, .help = "Listening"},
    {OPT_TEXT, "listen", 'a', "ADDR", .def = "127.0.0.1", FIELD(listen),
     .help = "address to listen on, IPv4 or IPv6"},
    {OPT_NUMBER, "port", 'p', "PORT", 1, 65535, .def = "4420", FIELD(port),
     .help = "TCP port; the discovery controller answers on it too"},
    {OPT_TEXT, "allow-host", 0, "NQN", .flags = OPT_REPEATABLE, .apply = allow_host,
     .help = "a host NQN allowed to connect: to every subsystem when given before any --nqn, to "
	     "the subsystem of the --nqn before it otherwise; on loopback, a subsystem that no "
	     "--allow-host names admits any host"},
    {OPT_FLAG, "allow-any-host", FIELD(allow_any_host),
     .help = "let any host connect on an address other than loopback (needed there without "
	     "--allow-host); hosts given a --dhchap-key still authenticate"},
    {OPT_TEXT, "dhchap-key", 0, "SECRET", .flags = OPT_REPEATABLE, .apply = dhchap_key,
     .help = "the host of the --allow-host before it must authenticate (DH-HMAC-CHAP) with this "
	     "secret, DHHC-1:HH:BASE64: as nvme gen-dhchap-key writes it; never logged (a config "
	     "file keeps it out of the process list)"},
    {OPT_TEXT, "dhchap-ctrl-key", 0, "SECRET", .flags = OPT_REPEATABLE, .apply = dhchap_ctrl_key,
     .help = "the controller's secret for the --allow-host before it: a host that asks "
	     "(nvme connect with a controller secret) gets proof that the controller knows it "
	     "(bidirectional authentication)"},
    {OPT_TEXT, "dhchap-hashes", 0, "LIST", .def = "sha512,sha384,sha256", .apply = dhchap_hashes,
     .help = "hashes DH-HMAC-CHAP may use, most preferred first: the first the host offers is "
	     "taken"},
    {OPT_TEXT, "dhchap-dhgroups", 0, "LIST",
     .def = "ffdhe2048,ffdhe3072,ffdhe4096,ffdhe6144,ffdhe8192,null", .apply = dhchap_dhgroups,
     .help = "Diffie-Hellman groups DH-HMAC-CHAP may use, most preferred first (null: no DH "
	     "exchange); the larger groups cost a software-emulated host seconds per queue"},

    {OPT_SECTION, .help = "Subsystems and namespaces"},
    {OPT_TEXT, "nqn", 'n', "NQN", .def = DEFAULT_NQN, .flags = OPT_REPEATABLE | OPT_DEFAULT_SHOWN,
     .apply = add_subsystem, .help = "start a subsystem; the --ns after it belong to it"},
    {OPT_TEXT, "ns", 0, "KIND:SIZE[:LBA]", .flags = OPT_REPEATABLE, .apply = add_namespace,
     .help = "add a namespace to the last subsystem, e.g. ram:4G:512"},
    {OPT_TEXT, "ns-preset", 0, "NAME", .flags = OPT_NOT_A_KEY, .apply = ns_preset,
     .help = "the model preset of the last --ns alone"},
    {OPT_TEXT, "ns-o", 0, "KEY=VALUE", .flags = OPT_REPEATABLE | OPT_NOT_A_KEY, .apply = ns_key,
     .help = "a model or zone key of the last --ns alone"},
    {OPT_TEXT, "kind", 0, "KIND", .def = "ssd", .flags = OPT_DEFAULT_SHOWN, .apply = set_kind,
     .help = "kind of the default namespaces: ssd, zoned, ram or nossd"},
    {OPT_FLAG, "zoned", .apply = set_zoned,
     .help = "the default namespaces are zoned (ZNS) on the flash model: --kind zoned (zone keys "
	     "with -o, docs/zns.md)"},
    {OPT_NUMBER, "size", 0, "SIZE", 1, UINT64_MAX, .def = "1G for ram and nossd, the flash "
     "geometry's capacity for ssd and zoned", .flags = OPT_DEFAULT_SHOWN, FIELD(default_ns.bytes),
     .help = "size of each default namespace; an ssd or zoned namespace's flash grows to hold "
	     "it (blocks_per_plane), unless the geometry is given"},
    {OPT_TEXT, "lba-size", 0, "BYTES", .def = "4096", .flags = OPT_DEFAULT_SHOWN,
     .apply = set_lba_size, .help = "logical block size of the default namespaces: 512 or 4096"},
    {OPT_TEXT, "path", 0, "DIR", FIELD(default_ns.path),
     .help = "keep the default namespace in drive directory DIR (docs/persistence.md): made on "
	     "first start, served again by later ones (`--path DIR` alone serves it as it was); "
	     "--ns-o path=DIR for one of --ns"},
    {OPT_NUMBER, "namespaces", 0, "N", 1, NVME_MAX_NAMESPACES, .def = "1", FIELD(namespaces),
     .help = "default namespaces in each subsystem that has no --ns"},
    {OPT_TEXT, "serial", 0, "TEXT", .def = "NVEMU0001", FIELD(serial),
     .help = "serial number; later subsystems add -2, -3, ..."},
    {OPT_TEXT, "model", 0, "TEXT", .def = "nvemu NVMe/TCP SSD", FIELD(model),
     .help = "model number"},

    {OPT_SECTION,
     .help = "Flash model (ssd and zoned namespaces; their capacity follows from the geometry and "
	     "op_pcent)"},
    {OPT_TEXT, "preset", 0, "NAME|FILE", .apply = set_preset,
     .help = "flash-model and zone keys from a preset (femu-bbssd, femu-zns, small, tlc, or a "
	     "real drive: samsung-970pro-1tb, samsung-980pro-1tb, samsung-pm9a3-3.84tb, "
	     "wd-zn540-8tb, intel-p5800x-800gb) or a file of your own"},
    {OPT_TEXT, NULL, 'o', "KEY=VALUE", .flags = OPT_REPEATABLE, .apply = set_key,
     .help = "set a model or zone key of every namespace, overriding presets and --ns-o; FEMU "
	     "names too (--list-keys lists them)"},
    {OPT_NUMBER, "transport-floor", 0, "NS", 0, 1000000000, .def = "0",
     FIELD(default_ns.transport_floor_ns),
     .help = "subtract this transport round trip from every modelled completion (never below "
	     "now), so that the host sees the model's latency; measure it as the QD1 p50 of a "
	     "nossd namespace (bench/latency-accuracy)"},

    {OPT_SECTION, .help = "Controller"},
    {OPT_NUMBER, "mdts", 0, "N", 1, 8, .def = "5", FIELD(target.mdts),
     .help = "maximum data transfer, 2^N x 4 KiB: 5 is 128 KiB"},
    {OPT_NUMBER, "io-queues", 0, "N", 1, 1024, .def = "64", FIELD(target.max_io_queues),
     .help = "I/O queues granted per controller"},
    {OPT_NUMBER, "queue-depth", 0, "N", 2, 4096, .def = "128", FIELD(target.io_queue_depth),
     .help = "entries per I/O queue, MQES + 1"},
    {OPT_NUMBER, "incapsule", 0, "BYTES", 0, 131072, 16, "8192", FIELD(target.incapsule_size),
     .help = "in-capsule data on I/O queues, IOCCSZ; larger writes use R2T"},
    {OPT_NUMBER, "keep-alive-slack", 0, "MS", 0, 3600000, .def = "10000",
     FIELD(target.keep_alive_slack_ms),
     .help = "grace past a host's keep-alive timeout before a silent host's controller is torn "
	     "down; any command counts as keep-alive, and hosts in emulated VMs stall for "
	     "seconds"},

    {OPT_SECTION, .help = "Limits (a host over one is refused, and the first refusal logged)"},
    {OPT_NUMBER, "max-connections", 0, "N", 1, 1000000, .def = "4096",
     FIELD(transport.max_connections),
     .help = "open connections (one per queue) in all; more are closed at once, before their "
	     "ICReq, and the file descriptor limit is raised to fit"},
    {OPT_NUMBER, "max-unconnected-per-address", 0, "N", 1, 1000000, .def = "256",
     FIELD(transport.max_unconnected_per_address),
     .help = "connections from one address that have no queue yet (no Connect, or not "
	     "authenticated); more from it are closed at once"},
    {OPT_NUMBER, "max-controllers-per-host", 0, "N", 1, 65519, .def = "64",
     FIELD(target.max_ctrls_per_host),
     .help = "controllers one host NQN may have at once over all subsystems (discovery "
	     "included); a Connect past it gets Connect Controller Busy"},
    {OPT_NUMBER, "pdu-timeout", 0, "MS", 100, 3600000, .def = "30000",
     FIELD(transport.pdu_timeout_ms),
     .help = "a connection whose host stops sending in the middle of a PDU is closed after this "
	     "long, whatever its keep-alive"},
    {OPT_NUMBER, "setup-timeout", 0, "MS", 100, 3600000, .def = "60000",
     FIELD(transport.setup_timeout_ms),
     .help = "a connection that has sent its ICReq and has no usable queue after this long "
	     "(Connect and DH-HMAC-CHAP not done) is closed; a host must send its ICReq within "
	     "10 s"},

    {OPT_SECTION, .help = "Runtime"},
    {OPT_NUMBER, "reactors", 0, "N", 1, 256, .def = "number of CPUs", .flags = OPT_DEFAULT_SHOWN,
     FIELD(reactors), .help = "reactor threads; connections are spread over them round-robin"},
    {OPT_FLAG, "poll", FIELD(busy_poll),
     .help = "reactors spin instead of sleeping: lowest latency, one busy core each"},
    {OPT_NUMBER, "zerocopy-min", 0, "BYTES", 0, 1u << 30, .def = "0",
     FIELD(transport.zerocopy_min),
     .help = "send read data of this size or more with MSG_ZEROCOPY (0: never); it pays only "
	     "across a real NIC: the kernel copies such sends to a local host anyway, at more "
	     "CPU than a plain send (docs/benchmarks.md)"},
    {OPT_TEXT, "tcp-congestion", 0, "NAME", .def = "cubic", FIELD(transport.congestion),
     .help = "TCP congestion control of the connections; system: the kernel's default. BBR "
	     "(a common default) paces sends by its bandwidth estimate, which on a local link "
	     "held 128 KiB reads to two thirds of their unpaced rate (docs/benchmarks.md)"},
    {OPT_NUMBER, "timer-spin", 0, "NS", 0, 10000000, .def = "0", FIELD(timer_spin_ns),
     .help = "a sleeping reactor wakes this long before a modelled completion and spins to it: "
	     "wake-ups in a VM overshoot by tens of us (try 80000 there)"},
    {OPT_NUMBER, "idle-spin", 0, "NS", 0, 10000000, .def = "50000", FIELD(idle_spin_ns),
     .help = "a sleeping reactor goes on polling this long after its last event before it "
	     "sleeps: a host that sends again within it finds the reactor awake, with no wake-up "
	     "to pay (1.2-1.4x the IOPS at QD1); an idle reactor still sleeps (0: sleep at once)"},

    {OPT_SECTION, .help = "Faults (docs/faults.md; at run time: nvemu fault)"},
    {OPT_TEXT, "fault", 0, "SPEC", .flags = OPT_REPEATABLE, .apply = add_fault,
     .help = "set a fault from the start: 'TYPE KEY=VALUE...', e.g. 'read-error nsid=1 "
	     "lba=2048 count=8' (types and keys: docs/faults.md)"},

    {OPT_SECTION, .help = "Statistics (docs/stats.md; read them with nvemu stats)"},
    {OPT_TEXT, "control", 0, "PATH",
     .def = "$XDG_RUNTIME_DIR/nvemu/PORT.sock or /tmp/nvemu-PORT.sock", .flags = OPT_DEFAULT_SHOWN,
     FIELD(stats.control_path), .help = "the control socket; none: no socket"},
    {OPT_NUMBER, "http", 0, "PORT", 1, 65535, FIELD(stats.http_port),
     .help = "also serve /metrics (Prometheus) and /stats (JSON) over HTTP on 127.0.0.1:PORT"},
    {OPT_TEXT, "record", 0, "FILE", FIELD(stats.record_path),
     .help = "append a JSON-lines time series of all counters to FILE (nvemu plot FILE draws "
	     "it)"},
    {OPT_NUMBER, "record-interval", 0, "MS", 10, 3600000, .def = "1000",
     FIELD(stats.record_interval_ms), .help = "time between records"},

    {OPT_SECTION, .help = "Other"},
    {OPT_FLAG, "verbose", 'v', FIELD(verbose),
     .help = "log every connection and every refused command"},
    {OPT_HELP, "help", 'h', .flags = OPT_NOT_A_KEY, .help = "this text"},
};

static const struct opt_table daemon_table = {
    .command = "nvemu",
    .usage = "Usage: nvemu [options]            serve NVMe namespaces over NVMe/TCP\n"
	     "       nvemu COMMAND --help        (commands: " CLI_COMMAND_NAMES ")\n"
	     "\n",
    .opts = daemon_opts,
    .count = ARRAY_SIZE(daemon_opts),
};

/* Worked out once: every key of a config file is checked on fresh defaults. */
static const struct daemon_options *defaults(void)
{
	static struct daemon_options d;
	static bool ready;
	if (!ready) {
		d = (struct daemon_options){.reactors = (unsigned)sysconf(_SC_NPROCESSORS_ONLN)};
		d.default_ns.plp = -1;
		d.default_ns.kind = NS_KIND_SSD; /* a kept drive's kind wins unless one is given */
		opt_defaults(&daemon_table, &d);
		ssd_params_defaults(&d.ssd);
		zoned_params_defaults(&d.zoned);
		ready = true;
	}
	return &d;
}

static void set_defaults(struct daemon_options *o) { *o = *defaults(); }

/* A config file's key, checked as its command-line option would be. */
static int check_option(const struct opt *opt, const char *value, char *err, size_t errlen)
{
	/* One scratch for every key (options are parsed on one thread): a fresh 200 KiB
	 * allocation per key cost the fuzzer most of its time in page faults. */
	static struct daemon_options scratch_space;
	struct daemon_options *scratch = &scratch_space;
	/* Fresh defaults but for the namespaces past the first, which no check reaches (nns is 0
	 * or 1 here): they are most of the 250 KiB that were copied per key (fuzz_config: a
	 * fifth less CPU per input). */
	const struct daemon_options *d = defaults();
	size_t ns_end = offsetof(struct daemon_options, ns) + sizeof(d->ns);
	memcpy(scratch, d, offsetof(struct daemon_options, ns) + sizeof(d->ns[0]));
	memcpy((char *)scratch + ns_end, (const char *)d + ns_end, sizeof(*d) - ns_end);
	/* --ns-o and --ns-preset need a namespace to apply to. */
	int rc = 0;
	if (opt->apply == ns_key || opt->apply == ns_preset)
		rc = opt_set(opt_find(&daemon_table, "ns"), "ram", scratch, err, errlen);
	/* A secret belongs to a host; the controller's also needs the host's, checked already. */
	if (opt->apply == dhchap_key || opt->apply == dhchap_ctrl_key) {
		scratch->hosts[0] = (struct host_spec){
		    .nqn = "before it",
		    .subsys = -1,
		    .dhchap_key = opt->apply == dhchap_ctrl_key ? "(checked on its own)" : NULL};
		scratch->nhosts = 1;
	}
	if (rc == 0)
		rc = opt_set(opt, value, scratch, err, errlen);
	return rc;
}

int daemon_options_parse(struct daemon_options *o, int argc, char **argv, char *err, size_t errlen)
{
	set_defaults(o);
	for (int i = 0; i < argc; i++) {
		const char *file = NULL;
		if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) &&
		    i + 1 < argc)
			file = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			file = argv[i] + 9;
		if (file &&
		    config_file_to_args(file, &daemon_table, check_option, &o->args, err, errlen))
			return -1;
		if (!file && arg_list_push(&o->args, argv[i]))
			return errorf(err, errlen, "out of memory");
	}
	int operand = opt_parse(&daemon_table, o->args.argc, o->args.argv, o, false, err, errlen);
	if (o->verbose)
		log_threshold = LOG_DEBUG;
	if (operand >= 0 && operand < o->args.argc)
		return errorf(err, errlen, "unexpected argument '%s' (see nvemu --help)",
			      o->args.argv[operand]);
	return operand < 0 ? -1 : 0;
}

void daemon_options_free(struct daemon_options *o) { arg_list_free(&o->args); }

static int preset_assignment(const char *key, const char *value, void *ctx, char *err,
			     size_t errlen)
{
	char assignment[512];
	snprintf(assignment, sizeof(assignment), "%s=%s", key, value);
	return arg_list_push(ctx, assignment) ? errorf(err, errlen, "out of memory") : 0;
}

static int push_preset(struct arg_list *out, const char *name, char *err, size_t errlen)
{
	char path[4096];
	if (config_preset_path(name, path, sizeof(path)))
		return errorf(err, errlen, "preset '%s' not found", name);
	return config_parse_file(path, preset_assignment, out, err, errlen);
}

int daemon_ns_assignments(struct daemon_options *o, const struct ns_spec *spec,
			  struct arg_list *out, char *err, size_t errlen)
{
	/* The daemon-wide presets and -o keys in the order given, then the namespace's own
	 * preset and keys, then -o again: the order that made its model keys. */
	unsigned preset = 0;
	for (unsigned k = 0; k <= o->noverride_keys; k++) {
		for (; preset < o->npresets && o->preset_at[preset] == k; preset++)
			if (push_preset(out, o->presets[preset], err, errlen))
				return -1;
		if (k < o->noverride_keys && arg_list_push(out, o->override_keys[k]))
			return errorf(err, errlen, "out of memory");
	}
	if (!spec || (!spec->preset && !spec->nkeys))
		return 0;
	if (spec->preset && push_preset(out, spec->preset, err, errlen))
		return -1;
	for (unsigned k = 0; k < spec->nkeys; k++)
		if (arg_list_push(out, spec->keys[k]))
			return errorf(err, errlen, "out of memory");
	for (unsigned k = 0; k < o->noverride_keys; k++)
		if (arg_list_push(out, o->override_keys[k]))
			return errorf(err, errlen, "out of memory");
	return 0;
}

int daemon_ns_keys(struct daemon_options *o, struct ns_spec *spec, struct ns_params *params,
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
