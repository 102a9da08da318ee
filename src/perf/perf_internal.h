/* nvemu perf internals: configuration, workers and the verification pattern. */
#ifndef NVEMU_PERF_INTERNAL_H
#define NVEMU_PERF_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/host.h"
#include "util/hist.h"

enum workload { WL_READ, WL_WRITE, WL_RANDREAD, WL_RANDWRITE, WL_RW, WL_RANDRW };

struct perf_config {
	struct host_target target;
	struct host_opts host;
	enum workload workload;
	unsigned read_pct;    /* -M, for rw/randrw */
	unsigned depth;       /* -q, per queue */
	uint32_t io_size;     /* -o, bytes */
	double seconds;       /* -t; 0 = until the I/O count is reached */
	uint64_t io_limit;    /* -d, per thread; 0 = no limit */
	unsigned queues_per_thread; /* -P */
	unsigned threads;
	uint64_t cpu_mask;    /* -c: pin one thread per set bit; 0 = no pinning */
	uint32_t nsid;
	uint64_t seed;
	uint64_t or_seed;     /* --verify-read: a block may hold this seed's pattern instead; 0: none */
	uint64_t span_bytes;  /* 0 = the whole namespace */
	/* FDP placement of writes (DTYPE 2): a placement identifier per queue in turn, or with
	 * pid_split the first PID for the first pid_split % of the span and the second after. */
	uint16_t pids[64];
	unsigned npids;
	double pid_split;
	uint64_t offset_bytes; /* where the span starts */
	bool json;
	bool verify;
	bool verify_read_only; /* --verify-read: only check what an earlier --verify wrote */
	bool busy_poll;
	bool verbose;
};

int perf_parse_args(struct perf_config *cfg, int argc, char **argv);

/* What one pass over the namespace does, shared by all workers. */
struct perf_job {
	const struct perf_config *cfg;
	uint32_t lba_size;
	uint32_t io_blocks;
	uint64_t span_blocks;   /* blocks of the region used, a multiple of io_blocks */
	uint64_t split_block;   /* --pid-split: writes below it take pids[0], the others pids[1] */
	bool sequential_pass;   /* verify: each I/O once over the region, from a shared cursor */
	bool pass_writes;       /* verify pass: write the pattern (else read and check) */
	uint32_t generation;    /* folded into the pattern */
	uint32_t or_generation; /* of or_seed's pattern */
	uint64_t first_block;   /* of the span */
	/*
	 * --verify with a random workload: the generation each I/O-sized unit of the span holds
	 * now (VERIFY_UNKNOWN after a failed write), and which units have an I/O in flight (none
	 * is chosen twice at once, so a read knows what it must find).  NULL otherwise.
	 */
	_Atomic uint32_t *unit_generation;
	atomic_uchar *unit_busy;
	_Atomic uint64_t cursor;  /* next block of a sequential pass */
	atomic_bool stop;
	_Atomic unsigned running; /* workers still going */
	int64_t end_ns;           /* stop issuing at this time; 0 = no limit */
};

struct perf_worker;

#define VERIFY_UNKNOWN UINT32_MAX

struct perf_io {
	struct perf_worker *worker;
	struct perf_queue *queue;
	uint8_t *buf;
	uint64_t start_ns;
	uint64_t slba;
	bool write;
	uint32_t generation; /* verified I/Os: what the write stamped or the read expects */
};

struct perf_queue {
	struct host_qpair *qp;
	struct perf_io *ios;
	int pid; /* the placement identifier of this queue's writes; -1: none (or by LBA) */
	uint64_t seq_next;  /* block cursor for sequential timed workloads */
	uint64_t seq_start, seq_end;
	bool want_out;      /* EPOLLOUT currently registered */
};

struct perf_worker {
	pthread_t thread;
	unsigned index;
	int cpu; /* -1: not pinned */
	struct perf_job *job;
	struct perf_queue *queues;
	unsigned nqueues;
	uint64_t rng;
	uint64_t issued; /* I/Os started in this job, against io_limit */
	struct hist hist;
	uint64_t reads, writes, bytes;
	uint64_t nvme_errors, xport_errors, mismatches;
	uint64_t other_pattern; /* verify blocks that hold the --or-seed pattern */
	uint64_t success_violations;
	int failure; /* a queue failed (-errno) */
	int64_t first_ns, last_ns;
};

int64_t perf_now_ns(void);

/*
 * Run the job on every worker's queues until it is done.  The calling thread
 * calls tick (if any) every 20 ms meanwhile, and returns once all workers joined.
 */
int perf_run_workers(struct perf_worker *workers, unsigned nworkers, struct perf_job *job,
		     void (*tick)(void *), void *tick_arg);

/* Fill / check one I/O's worth of blocks starting at slba with the verification pattern. */
void pattern_fill(uint8_t *buf, uint64_t slba, uint32_t blocks, uint32_t lba_size, uint64_t seed,
		  uint32_t generation);
/* Returns the index of the first bad block, or -1 if all match; *bad_offset = byte in that block. */
int64_t pattern_check(const uint8_t *buf, uint64_t slba, uint32_t blocks, uint32_t lba_size,
		      uint64_t seed, uint32_t generation, uint32_t *bad_offset);

#endif
