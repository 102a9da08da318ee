/*
 * Live statistics of a running daemon: per-namespace counters, latency
 * histograms, flash-model and zone state, served on a control socket (and
 * optionally loopback HTTP), traced per command, recorded as a time series.
 *
 * The data path only fills the recorders of nvme/nvme.h (per-reactor shards,
 * no lock, no malloc); everything here runs on one thread of its own that
 * reads them, answers clients and writes files, so a slow client or disk
 * never stalls a reactor.  Trace events reach that thread through one
 * bounded ring per reactor: when a ring is full the event is dropped and
 * counted.
 */
#ifndef NVEMU_STATS_STATS_H
#define NVEMU_STATS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ns/ns.h"
#include "nvme/nvme.h"
#include "util/hist.h"

struct stats;

struct stats_params {
	uint16_t port;		     /* the NVMe/TCP port, names the default socket */
	const char *control_path;    /* NULL: stats_default_control_path(port); "" or "none": off */
	uint16_t http_port;	     /* 0: no HTTP */
	const char *record_path;     /* NULL: no time series */
	uint64_t record_interval_ms; /* 0: 1000 */
	/*
	 * The control socket's `power-cut [DOWN_MS]` (nvemu power-cut): runs on the statistics
	 * thread and returns the reply, malloc'd. NULL: the command is refused.
	 */
	char *(*power_cut)(void *ctx, uint64_t down_ms);
	void *power_cut_ctx;
};

struct stats *stats_create(const struct stats_params *params);
/* Watches a namespace (the controller core records its I/O); call before the reactors run. */
int stats_add_ns(struct stats *st, struct nvme_subsys *subsys, uint32_t nsid, struct ns *ns,
		 char *err, size_t errlen);
/* The target whose faults the control socket sets and whose health snapshots report. */
void stats_set_target(struct stats *st, struct nvme_target *target);
/* Opens the endpoints and the record file, starts the thread. */
int stats_start(struct stats *st, char *err, size_t errlen);
/* Where the control socket is (empty when off). */
const char *stats_control_path(const struct stats *st);
/* Stops the thread, closes traces and endpoints; call before the target is destroyed. */
void stats_destroy(struct stats *st);

/* $XDG_RUNTIME_DIR/nvemu/PORT.sock when that directory is usable, else /tmp/nvemu-PORT.sock. */
void stats_default_control_path(uint16_t port, char *out, size_t outlen);

/* ---- Snapshots and their formats (also used by tests) ---- */

enum stats_zone_state {
	STATS_ZONE_EMPTY,
	STATS_ZONE_IMP_OPEN,
	STATS_ZONE_EXP_OPEN,
	STATS_ZONE_CLOSED,
	STATS_ZONE_FULL,
	STATS_ZONE_READ_ONLY,
	STATS_ZONE_OFFLINE,
	STATS_ZONE_STATES
};
extern const char *const stats_zone_state_names[STATS_ZONE_STATES];

struct stats_ns_snapshot {
	const char *subsys_nqn;
	uint32_t nsid;
	const char *kind;
	uint32_t lba_size;
	uint64_t capacity_bytes;
	uint64_t read_ios, write_ios, read_bytes, write_bytes;
	uint64_t outstanding;
	/* Over the last whole sampling second; false until two samples exist. */
	bool has_rates;
	double read_iops, write_iops, read_bytes_per_s, write_bytes_per_s, gc_runs_per_s;
	bool has_model; /* the kind has a flash model: the next fields mean something */
	struct ns_model_counters model;
	bool has_zones;
	uint64_t zones[STATS_ZONE_STATES];
	/* FDP enabled: what went through each reclaim unit handle and each reclaim group since
	 * the daemon started (malloc'd with the snapshot). */
	bool has_fdp;
	uint64_t fdp_ru_bytes;
	uint32_t fdp_nruh, fdp_nrg;
	struct ssd_fdp_counters *fdp_handles, *fdp_groups;
	uint64_t power_cuts, lbas_lost; /* power cuts suffered, LBAs they took back */
	bool attached;		/* false while a fault has detached it */
	uint64_t media_errors; /* SMART's, this namespace's share */
	bool tracing;
	const char *trace_path;
	uint64_t trace_events, trace_dropped;
	struct hist latency; /* ns, since the daemon started */
	/* The model's latency breakdown since the daemon started: each part's distribution over
	 * the commands that had one (parts_cmds; zeros included), in ns. */
	uint64_t parts_cmds;
	struct hist parts[LAT_PARTS];
};

/* What SMART reports of one subsystem (nvme_subsys_health). */
struct stats_health_snapshot {
	const char *subsys_nqn;
	struct nvme_health health;
};

struct stats_snapshot {
	uint64_t unix_ms;
	double uptime_s;
	unsigned nns;
	struct stats_ns_snapshot *ns;
	unsigned nhealth;
	struct stats_health_snapshot *health;
	size_t nfaults;
	struct nvme_fault_status *faults; /* oldest first */
};

/* Rendered texts are malloc'd, NUL-terminated; NULL when out of memory. */
char *stats_render_json(const struct stats_snapshot *snap, bool pretty);
char *stats_render_prometheus(const struct stats_snapshot *snap);

/* Why a field has no value for a namespace, or NULL when it has one. */
const char *stats_model_na_reason(const struct stats_ns_snapshot *ns);
const char *stats_zones_na_reason(const struct stats_ns_snapshot *ns);
const char *stats_fdp_na_reason(const struct stats_ns_snapshot *ns);
const char *stats_write_buffer_na_reason(const struct stats_ns_snapshot *ns);
const char *stats_breakdown_na_reason(const struct stats_ns_snapshot *ns);

#endif
