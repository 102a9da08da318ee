/* Shared by the files of the statistics layer; not part of its contract. */
#ifndef NVEMU_STATS_INTERNAL_H
#define NVEMU_STATS_INTERNAL_H

#include <pthread.h>
#include <stdio.h>

#include "stats/stats.h"

#define STATS_SAMPLE_PERIOD_NS 1000000000ull

/* The counters that rates are computed from, as sampled once a second. */
struct stats_rate_sample {
	uint64_t t_ns;
	uint64_t read_ios, write_ios, read_bytes, write_bytes, gc_runs;
};

struct stats_trace;

struct stats_ns {
	struct stats *owner;
	struct nvme_subsys *subsys;
	const char *subsys_nqn;
	uint32_t nsid;
	struct ns *ns;
	struct nvme_ns_recorder *recorder; /* the controller core's, lives with the target */
	struct stats_trace *trace; /* NULL until first traced; kept until destroy */
	struct stats_rate_sample samples[2]; /* [1] the newest */
	unsigned nsamples;
};

struct stats {
	struct stats_params params;
	struct nvme_target *target; /* for faults and health; NULL in tests without one */
	char control_path[108]; /* sun_path */
	uint64_t start_ns;
	struct stats_ns **ns;
	unsigned nns, ns_cap;

	/* The statistics thread's, once started. */
	pthread_t thread;
	bool started;
	int wake_fd; /* an eventfd: stop */
	int control_fd, http_fd;
	FILE *record;
	uint64_t next_sample_ns, next_record_ns;
};

/* collect.c */
int stats_snapshot_take(struct stats *st, struct stats_snapshot *snap);
void stats_snapshot_free(struct stats_snapshot *snap);
void stats_sample_rates(struct stats *st, uint64_t now_ns);
struct stats_ns *stats_find_ns(struct stats *st, uint32_t nsid, const char *nqn);

/* trace.c */
int stats_trace_start(struct stats_ns *sns, const char *path, bool json, char *err, size_t errlen);
/* Turns tracing off, writes what is left and closes the file. */
void stats_trace_stop(struct stats_ns *sns);
/* Moves what the reactors recorded into the file; true while the trace is on. */
bool stats_trace_flush(struct stats_ns *sns);
bool stats_trace_active(const struct stats_ns *sns, const char **path, uint64_t *events,
			uint64_t *dropped);
void stats_trace_destroy(struct stats_trace *trace);

/* faults.c */
/* The control socket's `fault add|list|clear ...` (args: what follows "fault "). */
char *stats_fault_command(struct stats *st, char *args);
/* The faults and each subsystem's health into the snapshot. */
int stats_snapshot_faults(struct stats *st, struct stats_snapshot *snap);

/* server.c */
/* printf into a malloc'd text (NULL when out of memory). */
char *stats_printed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Answers one request line of the control protocol into a malloc'd text. */
char *stats_control_command(struct stats *st, const char *line);
/* The whole HTTP response to a request (its head, as received), malloc'd. */
char *stats_http_answer(struct stats *st, const char *request);

#endif
