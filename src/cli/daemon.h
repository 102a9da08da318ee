/* The daemon's options (daemon_options.c) as the daemon (daemon.c) uses them. */
#ifndef NVEMU_CLI_DAEMON_H
#define NVEMU_CLI_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/config_file.h"
#include "config/config.h"
#include "ns/ns.h"
#include "ns/zoned.h"
#include "nvme/nvme.h"
#include "stats/stats.h"
#include "transport/tcp.h"

#define MAX_SUBSYSTEMS 64
#define MAX_ALLOWED_HOSTS 64
#define MAX_NS_SPECS 256
#define MAX_NS_KEYS 64
#define MAX_FAULTS 256
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

/* An --allow-host and the secrets after it. */
struct host_spec {
	const char *nqn;
	int subsys; /* the -n it follows, -1 (before any): every subsystem */
	const char *dhchap_key, *dhchap_ctrl_key;
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
	struct host_spec hosts[MAX_ALLOWED_HOSTS];
	unsigned nhosts;
	bool allow_any_host;
	struct nvme_target_params target;
	struct tcp_transport_params transport; /* its limits and zero-copy sends */
	unsigned reactors;
	bool busy_poll;
	uint64_t timer_spin_ns;
	uint64_t idle_spin_ns;
	struct ssd_params ssd;
	struct zoned_params zoned;
	/* The -o assignments, which also override a namespace's own keys. */
	const char *override_keys[MAX_NS_KEYS];
	unsigned noverride_keys;
	/* --preset NAME, each before preset_at[i] of the -o assignments. */
	const char *presets[MAX_NS_KEYS];
	unsigned preset_at[MAX_NS_KEYS];
	unsigned npresets;
	struct stats_params stats;
	/* --fault: specifications (fault/fault.h), added once the namespaces exist */
	const char *faults[MAX_FAULTS];
	unsigned nfaults;
	bool check_only;
	bool verbose;
	/* What the options point into: the command line with each --config expanded. */
	struct arg_list args;
};

/*
 * Fills `o` from the command line, each --config FILE replaced in place by the options the file
 * stands for (so that options after it override the file's). Returns 0, or -1 with err; either
 * way daemon_options_free releases what it holds.
 */
int daemon_options_parse(struct daemon_options *o, int argc, char **argv, char *err, size_t errlen);
void daemon_options_free(struct daemon_options *o);

/*
 * The model and zone keys of namespace spec: the daemon-wide ones, then its preset and keys, then
 * -o again (a key given with -o overrides every other setting of it). Points params at them.
 */
int daemon_ns_keys(struct daemon_options *o, struct ns_spec *spec, struct ns_params *params,
		   char *err, size_t errlen);

/*
 * The model and zone keys given for namespace spec (NULL: a default namespace), as key=value
 * in the order they apply, presets expanded: what a kept drive applies over its own.
 */
int daemon_ns_assignments(struct daemon_options *o, const struct ns_spec *spec,
			  struct arg_list *out, char *err, size_t errlen);

#endif
