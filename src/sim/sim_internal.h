/* Private pieces of the simulator: workload keys, I/O sources, latency histogram, runner. */
#ifndef NVEMU_SIM_SIM_INTERNAL_H
#define NVEMU_SIM_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "ftl/ftl.h"

enum workload_kind {
	WL_READ,
	WL_WRITE,
	WL_RANDREAD,
	WL_RANDWRITE,
	WL_RW,
	WL_RANDRW,
	WL_TRACE,
	WL_HOTCOLD, /* random overwrites of a hot region (handle 0) and a sequential log (handle 1) */
	WL_CACHE,   /* the same shape as a flash cache: small objects, and a log of big regions */
	WL_ENDURANCE, /* `pattern` until the drive turns read-only (endurance.c) */
};
enum endurance_pattern { PATTERN_RANDWRITE, PATTERN_WRITE, PATTERN_RANDRW, PATTERN_RW };
enum precondition_kind { PRE_AUTO, PRE_NONE, PRE_FILL, PRE_STEADY };
enum trace_format { TRACE_AUTO, TRACE_MSR, TRACE_BLKPARSE, TRACE_FIO };
enum trace_timing { TIMING_AUTO, TIMING_TIMESTAMPS, TIMING_QD };

struct sim_params {
	uint32_t workload;
	uint64_t block_size;
	uint32_t queue_depth;
	double read_pcent;
	double footprint_pcent;
	double duration_s;
	uint64_t io_size;
	uint32_t precondition;
	double warmup;
	double idle_s; /* idle time between preconditioning and the measured phase */
	char trace[512];
	uint32_t trace_format;
	uint32_t trace_timing;
	bool breakdown;
	double hot_pcent;       /* hotcold, cache: share of the footprint rewritten at random */
	double hot_write_pcent; /* of the bytes written, the share that goes there */
	uint64_t log_bs;        /* bytes per write of the sequential log; 0: bs (cache: 16 MiB) */
	/* workload=endurance */
	uint32_t pattern; /* enum endurance_pattern */
	double warranty_years;
	double life_step; /* drive writes between two points of the life curve */
};

extern const struct config_table sim_config_table;

enum io_op { IO_READ, IO_WRITE, IO_TRIM, IO_FLUSH };

struct io {
	uint8_t op;
	uint8_t handle; /* writes: the FDP reclaim unit handle (ignored without FDP) */
	uint32_t npages;
	uint64_t lpn;
	uint64_t at; /* open-loop issue time (ns from the start of the trace) */
};

/* A stream of I/Os; `next` returns false when exhausted. */
struct io_source {
	bool (*next)(struct io_source *src, struct io *io);
	bool open_loop; /* issue at io->at instead of when a queue slot frees */
};

struct synthetic_source {
	struct io_source base;
	bool random;
	double read_fraction; /* 0 = writes only, 1 = reads only */
	uint32_t npages;
	uint64_t slots; /* footprint / npages */
	uint64_t next_slot;
	uint64_t rng;
	uint64_t handle1_from; /* writes at or past this lpn go to FDP handle 1, the rest to 0 */
};

void synthetic_init(struct synthetic_source *src, bool random, double read_fraction,
		    uint32_t npages, uint64_t footprint_pages, uint64_t seed);

/*
 * hotcold and cache: uniform random overwrites of the first hot_pages pages in hot_npages
 * I/Os, on handle 0, and a sequential log over the rest of the footprint in log_npages I/Os,
 * on handle 1; hot_fraction of the bytes written go to the hot region.
 */
struct two_stream_source {
	struct io_source base;
	uint64_t hot_slots, log_first, log_end, log_next;
	uint32_t hot_npages, log_npages;
	double hot_io_fraction; /* of the I/Os (the byte share, weighted by I/O sizes) */
	uint64_t rng;
};

void two_stream_init(struct two_stream_source *src, uint64_t hot_pages, uint32_t hot_npages,
		     uint64_t footprint_pages, uint32_t log_npages, double hot_fraction,
		     uint64_t seed);

struct trace_source;
struct trace_source *trace_open(const struct sim_params *p, uint32_t page_bytes,
				uint64_t logical_pages, char *err, size_t errlen);
struct io_source *trace_as_source(struct trace_source *t);
/* Lines skipped as unparsable or unknown actions. */
uint64_t trace_skipped(const struct trace_source *t);
void trace_close(struct trace_source *t);

/* Log-linear latency histogram: ~0.8 % resolution, constant-time record. */
#define HIST_SUB_BITS 7
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) << HIST_SUB_BITS)
struct histogram {
	uint64_t count;
	double sum;
	uint64_t max;
	uint64_t buckets[HIST_BUCKETS];
};

static inline unsigned histogram_index(uint64_t v)
{
	if (v < (1u << HIST_SUB_BITS))
		return (unsigned)v;
	unsigned top = 63 - (unsigned)__builtin_clzll(v);
	unsigned shift = top - HIST_SUB_BITS;
	return ((shift + 1) << HIST_SUB_BITS) + (unsigned)((v >> shift) & ((1u << HIST_SUB_BITS) - 1));
}

static inline void histogram_record(struct histogram *h, uint64_t v)
{
	h->count++;
	h->sum += (double)v;
	if (v > h->max)
		h->max = v;
	h->buckets[histogram_index(v)]++;
}

/* Value at quantile q (0..1), at bucket resolution. */
uint64_t histogram_quantile(const struct histogram *h, double q);

/*
 * Where the measured commands' time went (flash/flash.h, enum lat_part): each part's own
 * distribution, and per bucket of the latency histogram the sums of each part over the
 * commands that landed there, so the parts of any latency band (the slowest 1 %, ...) can be
 * read off afterwards.
 */
struct breakdown {
	struct histogram part[LAT_PARTS];
	uint64_t band_sum[HIST_BUCKETS][LAT_PARTS];
};

/* Mean of each part over the commands with latency in [quantile lo, quantile hi). */
void breakdown_band(const struct breakdown *b, const struct histogram *latency, double lo,
		    double hi, double mean_ns[LAT_PARTS]);

/* What the simulator drives (target.c): the ssd model, or zones on the flash model. */
struct zone_flash;
struct zoned_params;
struct ns_model_drive;
struct sim_target {
	struct ssd *ssd;              /* the ssd kind, or NULL */
	struct ns_model_drive *drive; /* the drive directory it is from (--load), or NULL */
	struct zone_flash *zones;     /* the zoned kind, or NULL */
	uint64_t zone_pages;          /* zoned: pages in a zone's capacity */
	uint64_t logical_pages;
	uint32_t page_bytes;
	bool until_read_only; /* run_phase stops when the ssd turns read-only */
};

/* Opens the ssd model, or zones when `zp` is given. 0, or -1 with a message. */
int target_open(struct sim_target *t, const struct ssd_params *sp, const struct zoned_params *zp,
		char *err, size_t errlen);
/* The ssd model of a drive directory (--load); target_close closes the drive. */
void target_load(struct sim_target *t, struct ns_model_drive *drive);
void target_close(struct sim_target *t);
/* An I/O on zones (op: enum io_op); writes must follow each zone's write pointer. */
uint64_t target_zoned_io(struct sim_target *t, uint8_t op, uint64_t lpn, uint32_t npages,
			 uint64_t now, struct lat_parts *parts);
void target_counters(struct sim_target *t, struct ssd_counters *out);

struct phase_result {
	uint64_t ios, reads, writes, bytes;
	uint64_t sim_start_ns, sim_end_ns;
	double wall_seconds;
	struct histogram *latency;
	struct breakdown *breakdown; /* NULL: not wanted */
	struct ssd_counters before, after;
	/* FDP: the counters of each handle, then of each group, before and after the phase. */
	uint32_t handles, groups;
	uint64_t logical; /* the device's logical pages (writes go to group lpn * groups / it) */
	struct ssd_fdp_counters *fdp_before, *fdp_after;
};

/*
 * Drives `src` against the model from virtual time *now, at most `queue_depth` in flight,
 * until the source ends, `max_bytes` (0 = no limit) have been issued or `max_ns` (0 = none) of
 * virtual time has passed. Advances *now to the last completion.
 */
void run_phase(struct sim_target *target, struct io_source *src, uint32_t queue_depth,
	       uint64_t max_bytes, uint64_t max_ns, uint64_t *now, const char *label, bool progress,
	       struct phase_result *out);

/* workload=endurance: writes until the drive wears out and reports its life. 0, or 2 with a
 * message on stderr. */
int endurance_run(struct sim_target *t, const struct ssd_params *sp, const struct sim_params *p,
		  bool json, bool quiet);

#endif
