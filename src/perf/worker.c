/* Worker threads: keep every queue `depth` deep, time each I/O, check verify reads. */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "perf/perf_internal.h"
#include "util/log.h"
#include "util/util.h"

#define DRAIN_TIMEOUT_NS (30ll * 1000 * 1000 * 1000)
#define MAX_ERROR_REPORTS 5

int64_t perf_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Each block starts with its LBA and the generation, so a misplaced block
 * is recognisable in a dump; the rest is a stream seeded by (seed, LBA, generation).
 */
static void fill_block(uint64_t *words, uint64_t lba, uint32_t lba_size, uint64_t seed,
		       uint32_t generation)
{
	uint64_t state = seed ^ (lba * 0xD6E8FEB86659FD93ull) ^ ((uint64_t)generation << 32);
	words[0] = lba;
	words[1] = seed ^ generation;
	for (uint32_t i = 2; i < lba_size / 8; i++)
		words[i] = splitmix64(&state);
}

void pattern_fill(uint8_t *buf, uint64_t slba, uint32_t blocks, uint32_t lba_size, uint64_t seed,
		  uint32_t generation)
{
	for (uint32_t b = 0; b < blocks; b++)
		fill_block((uint64_t *)(buf + (size_t)b * lba_size), slba + b, lba_size, seed,
			   generation);
}

int64_t pattern_check(const uint8_t *buf, uint64_t slba, uint32_t blocks, uint32_t lba_size,
		      uint64_t seed, uint32_t generation, uint32_t *bad_offset)
{
	uint64_t expect[4096 / 8 * 16]; /* up to 64 KiB blocks; LBADS <= 16 in practice */
	if (lba_size > sizeof(expect))
		return 0;
	for (uint32_t b = 0; b < blocks; b++) {
		const uint8_t *got = buf + (size_t)b * lba_size;
		fill_block(expect, slba + b, lba_size, seed, generation);
		if (memcmp(got, expect, lba_size) == 0)
			continue;
		const uint8_t *want = (const uint8_t *)expect;
		uint32_t off = 0;
		while (off < lba_size && got[off] == want[off])
			off++;
		*bad_offset = off;
		return b;
	}
	return -1;
}

static uint64_t rng_next(struct perf_worker *w)
{
	return splitmix64(&w->rng);
}

static bool is_random(enum workload wl)
{
	return wl == WL_RANDREAD || wl == WL_RANDWRITE || wl == WL_RANDRW;
}

static bool choose_write(struct perf_worker *w)
{
	const struct perf_config *cfg = w->job->cfg;
	switch (cfg->workload) {
	case WL_WRITE:
	case WL_RANDWRITE:
		return true;
	case WL_RW:
	case WL_RANDRW:
		return rng_next(w) % 100 >= cfg->read_pct;
	default:
		return false;
	}
}

static void io_done(void *arg, const struct host_cpl *cpl);

/*
 * A random read or write of a unit no other I/O has in flight: a write stamps the unit's next
 * generation, a read expects the one it holds.  False if no free unit turns up (tiny spans).
 */
static bool start_random_verified(struct perf_worker *w, struct perf_io *io)
{
	struct perf_job *job = w->job;
	uint64_t units = job->span_blocks / job->io_blocks;
	for (int tries = 0; tries < 64; tries++) {
		uint64_t unit = rng_next(w) % units;
		unsigned char idle = 0;
		if (!atomic_compare_exchange_strong(&job->unit_busy[unit], &idle, 1))
			continue;
		io->slba = job->first_block + unit * job->io_blocks;
		io->write = choose_write(w);
		uint32_t now = atomic_load(&job->unit_generation[unit]);
		/* After a failed write the unit's content is unknown until written again. */
		io->generation = io->write ? (now == VERIFY_UNKNOWN ? 1 : now + 1) : now;
		if (io->write)
			pattern_fill(io->buf, io->slba, job->io_blocks, job->lba_size,
				     job->cfg->seed, io->generation);
		return true;
	}
	return false;
}

/* The end of a random verified I/O: a write's generation becomes the unit's. */
static void finish_random_verified(struct perf_job *job, struct perf_io *io, bool ok)
{
	uint64_t unit = (io->slba - job->first_block) / job->io_blocks;
	if (io->write)
		atomic_store(&job->unit_generation[unit], ok ? io->generation : VERIFY_UNKNOWN);
	atomic_store(&job->unit_busy[unit], 0);
}

/* Start the next I/O in this slot; false when the job issues no more. */
static bool start_io(struct perf_worker *w, struct perf_io *io)
{
	struct perf_job *job = w->job;
	const struct perf_config *cfg = job->cfg;
	if (atomic_load_explicit(&job->stop, memory_order_relaxed))
		return false;
	if (cfg->io_limit && w->issued >= cfg->io_limit)
		return false;
	w->issued++;

	if (job->sequential_pass) {
		uint64_t blk = atomic_fetch_add(&job->cursor, job->io_blocks);
		if (blk >= job->span_blocks)
			return false;
		blk += job->first_block;
		io->slba = blk;
		io->write = job->pass_writes;
		io->generation = job->unit_generation && !io->write
				     ? atomic_load(&job->unit_generation[(blk - job->first_block) /
									 job->io_blocks])
				     : job->generation;
		if (io->write)
			pattern_fill(io->buf, blk, job->io_blocks, job->lba_size, cfg->seed,
				     job->generation);
	} else if (job->unit_generation) {
		if (!start_random_verified(w, io))
			return false;
	} else {
		struct perf_queue *q = io->queue;
		io->write = choose_write(w);
		if (is_random(cfg->workload)) {
			io->slba = rng_next(w) % (job->span_blocks / job->io_blocks) * job->io_blocks;
		} else {
			if (q->seq_next + job->io_blocks > q->seq_end)
				q->seq_next = q->seq_start;
			io->slba = q->seq_next;
			q->seq_next += job->io_blocks;
		}
		io->slba += job->first_block;
	}
	int pid = io->queue->pid;
	if (cfg->pid_split > 0)
		pid = cfg->pids[io->slba - job->first_block >= job->split_block];
	bool placed = io->write && pid >= 0;
	io->start_ns = (uint64_t)perf_now_ns();
	int rc =
	    host_qpair_rw_directed(io->queue->qp, io->write, cfg->nsid, io->slba, job->io_blocks,
				   placed ? NVME_DIRECTIVE_DATA_PLACEMENT : 0,
				   placed ? (uint16_t)pid : 0, io->buf, cfg->io_size, io_done, io);
	if (rc) {
		if (!w->failure)
			w->failure = rc;
		return false;
	}
	return true;
}

static void report_error(struct perf_worker *w, struct perf_io *io, const struct host_cpl *cpl)
{
	uint64_t n = w->nvme_errors + w->xport_errors + w->mismatches;
	if (n > MAX_ERROR_REPORTS)
		return;
	if (cpl->xport_error)
		log_error("%s LBA %llu: transport error %s", io->write ? "write" : "read",
			  (unsigned long long)io->slba,
			  cpl->xport_error == HOST_ERR_DATA_DIGEST ? "(data digest mismatch)"
								 : strerror(-cpl->xport_error));
	else
		log_error("%s LBA %llu: NVMe status %#x (SCT %u SC %#x%s)",
			  io->write ? "write" : "read", (unsigned long long)io->slba, cpl->status,
			  (cpl->status >> 8) & 7, cpl->status & 0xFF,
			  cpl->status & NVME_STATUS_DNR ? ", DNR" : "");
}

/* A verify read: each block holds the pattern (or, with --or-seed, the other one). */
static void check_blocks(struct perf_worker *w, struct perf_io *io)
{
	struct perf_job *job = w->job;
	const struct perf_config *cfg = job->cfg;
	for (uint32_t b = 0; b < job->io_blocks; b++) {
		const uint8_t *block = io->buf + (size_t)b * job->lba_size;
		uint32_t off;
		if (pattern_check(block, io->slba + b, 1, job->lba_size, cfg->seed, io->generation,
				  &off) < 0)
			continue;
		uint32_t other_off;
		if (cfg->or_seed && pattern_check(block, io->slba + b, 1, job->lba_size, cfg->or_seed,
						  job->or_generation, &other_off) < 0) {
			w->other_pattern++;
			continue;
		}
		if (w->nvme_errors + w->xport_errors + w->mismatches < MAX_ERROR_REPORTS)
			log_error("verify: LBA %llu differs at byte %u",
				  (unsigned long long)(io->slba + b), off);
		w->mismatches++;
	}
}

static void io_done(void *arg, const struct host_cpl *cpl)
{
	struct perf_io *io = arg;
	struct perf_worker *w = io->worker;
	struct perf_job *job = w->job;
	int64_t now = perf_now_ns();

	if (host_cpl_ok(cpl)) {
		hist_add(&w->hist, (uint64_t)now - io->start_ns);
		if (io->write)
			w->writes++;
		else
			w->reads++;
		w->bytes += job->cfg->io_size;
		if ((job->sequential_pass || job->unit_generation) && !io->write &&
		    io->generation != VERIFY_UNKNOWN)
			check_blocks(w, io);
	} else {
		report_error(w, io, cpl);
		if (cpl->xport_error)
			w->xport_errors++;
		else
			w->nvme_errors++;
	}
	if (job->unit_generation && !job->sequential_pass)
		finish_random_verified(job, io, host_cpl_ok(cpl));
	w->last_ns = now;
	if (job->end_ns && now >= job->end_ns)
		atomic_store(&job->stop, true);
	start_io(w, io);
}

/* Watch for POLLOUT only while a queue has unsent bytes. */
static void update_interest(int epfd, struct perf_queue *q)
{
	bool want = host_qpair_send_pending(q->qp);
	if (want == q->want_out)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = q };
	epoll_ctl(epfd, EPOLL_CTL_MOD, host_qpair_fd(q->qp), &ev);
	q->want_out = want;
}

static void *worker_main(void *arg)
{
	struct perf_worker *w = arg;
	struct perf_job *job = w->job;
	if (w->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
			log_warn("worker %u: cannot pin to CPU %d", w->index, w->cpu);
	}
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	for (unsigned i = 0; i < w->nqueues; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->queues[i] };
		epoll_ctl(epfd, EPOLL_CTL_ADD, host_qpair_fd(w->queues[i].qp), &ev);
		w->queues[i].want_out = false;
	}

	w->first_ns = w->last_ns = perf_now_ns();
	for (unsigned i = 0; i < w->nqueues; i++) {
		for (unsigned d = 0; d < job->cfg->depth; d++) {
			if (!start_io(w, &w->queues[i].ios[d]))
				break;
		}
	}

	int64_t stop_seen = 0;
	bool ready = true; /* the first pass sends what was just submitted */
	for (;;) {
		int progress = 0;
		unsigned outstanding = 0;
		/*
		 * Busy polling spins on epoll rather than on recv: a recv takes the socket's
		 * lock, so spinning on it makes the kernel queue arriving data to the socket's
		 * backlog and process it on this CPU instead of the sender's.
		 */
		struct epoll_event evs[16];
		if (!ready) {
			ready = epoll_wait(epfd, evs, 16, 0) > 0;
			if (!ready && !atomic_load_explicit(&job->stop, memory_order_relaxed))
				continue;
		}
		ready = !job->cfg->busy_poll;
		for (unsigned i = 0; i < w->nqueues; i++) {
			struct perf_queue *q = &w->queues[i];
			int rc = host_qpair_process(q->qp);
			if (rc < 0) {
				if (!w->failure) {
					w->failure = rc;
					log_error("worker %u: queue failed: %s", w->index, strerror(-rc));
				}
				atomic_store(&job->stop, true);
				continue;
			}
			progress += rc;
			outstanding += host_qpair_outstanding(q->qp);
			update_interest(epfd, q);
		}
		if (!outstanding)
			break;
		if (atomic_load_explicit(&job->stop, memory_order_relaxed)) {
			int64_t now = perf_now_ns();
			if (!stop_seen)
				stop_seen = now;
			else if (now - stop_seen > DRAIN_TIMEOUT_NS) {
				log_error("worker %u: %u I/Os still outstanding 30 s after the end",
					  w->index, outstanding);
				w->failure = -ETIMEDOUT;
				break;
			}
		}
		if (!progress && !job->cfg->busy_poll)
			epoll_wait(epfd, evs, 16, 10);
	}
	for (unsigned i = 0; i < w->nqueues; i++)
		w->success_violations += host_qpair_success_flag_violations(w->queues[i].qp);
	close(epfd);
	atomic_fetch_sub(&job->running, 1);
	return NULL;
}

int perf_run_workers(struct perf_worker *workers, unsigned nworkers, struct perf_job *job,
		     void (*tick)(void *), void *tick_arg)
{
	unsigned started = 0;
	int rc = 0;
	for (; started < nworkers; started++) {
		struct perf_worker *w = &workers[started];
		hist_init(&w->hist);
		w->job = job;
		w->reads = w->writes = w->bytes = 0;
		w->nvme_errors = w->xport_errors = w->mismatches = w->other_pattern = 0;
		w->success_violations = 0;
		w->failure = 0;
		w->issued = 0;
		atomic_fetch_add(&job->running, 1);
		rc = -pthread_create(&w->thread, NULL, worker_main, w);
		if (rc) {
			atomic_fetch_sub(&job->running, 1);
			log_error("cannot start worker thread: %s", strerror(-rc));
			atomic_store(&job->stop, true);
			break;
		}
	}
	/* The caller's admin work (keep-alive) runs here while the workers drive I/O. */
	while (atomic_load(&job->running)) {
		usleep(20000);
		if (tick)
			tick(tick_arg);
		if (job->end_ns && perf_now_ns() >= job->end_ns)
			atomic_store(&job->stop, true);
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	return rc;
}
