/* nvemu perf: connect, run the workload or the verify passes, report. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perf/perf.h"
#include "perf/perf_internal.h"
#include "util/log.h"

#define VERIFY_DEFAULT_SPAN (256ull << 20)

const char *perf_workload_name(enum workload wl);

struct session {
	const struct perf_config *cfg;
	struct host_ctrl *ctrl;
	struct host_ns_info ns;
	struct perf_worker *workers;
	struct perf_queue *queues; /* threads * queues_per_thread, grouped by worker */
	unsigned nqueues;
	uint8_t *buffers;
	int keep_alive_error;
};

/* Totals of one pass. */
struct pass_result {
	const char *name;
	struct hist hist;
	uint64_t reads, writes, bytes;
	uint64_t nvme_errors, xport_errors, mismatches, success_violations;
	uint64_t other_pattern;
	int failure;
	double seconds;
};

static void session_free(struct session *s)
{
	/* Every queue's I/Os are slices of one array, which starts with queue 0's. */
	if (s->queues)
		free(s->queues[0].ios);
	free(s->queues);
	free(s->workers);
	free(s->buffers);
}

static int session_alloc(struct session *s, const struct perf_config *cfg)
{
	s->cfg = cfg;
	s->nqueues = cfg->threads * cfg->queues_per_thread;
	s->workers = calloc(cfg->threads, sizeof(*s->workers));
	s->queues = calloc(s->nqueues, sizeof(*s->queues));
	size_t nios = (size_t)s->nqueues * cfg->depth;
	struct perf_io *ios = calloc(nios, sizeof(*ios));
	/* Page-aligned so direct receives and sends touch whole pages. */
	if (s->queues && s->nqueues)
		s->queues[0].ios = ios;
	else
		free(ios);
	if (!s->workers || !s->queues || !ios ||
	    posix_memalign((void **)&s->buffers, 4096, nios * cfg->io_size))
		return -ENOMEM;
	memset(s->buffers, 0, nios * cfg->io_size);

	unsigned cpu = 0;
	for (unsigned t = 0; t < cfg->threads; t++) {
		struct perf_worker *w = &s->workers[t];
		w->index = t;
		w->cpu = -1;
		if (cfg->cpu_mask) {
			while (!(cfg->cpu_mask >> cpu & 1))
				cpu++;
			w->cpu = (int)cpu++;
		}
		w->queues = &s->queues[t * cfg->queues_per_thread];
		w->nqueues = cfg->queues_per_thread;
		w->rng = cfg->seed * 0x9E3779B97F4A7C15ull + t + 1;
	}
	for (unsigned i = 0; i < s->nqueues; i++) {
		struct perf_queue *q = &s->queues[i];
		q->pid = cfg->npids && cfg->pid_split <= 0 ? cfg->pids[i % cfg->npids] : -1;
		q->ios = &ios[(size_t)i * cfg->depth];
		for (unsigned d = 0; d < cfg->depth; d++) {
			struct perf_io *io = &q->ios[d];
			io->worker = &s->workers[i / cfg->queues_per_thread];
			io->queue = q;
			io->buf = s->buffers + ((size_t)i * cfg->depth + d) * cfg->io_size;
		}
	}
	return 0;
}

static void session_disconnect(struct session *s)
{
	/* I/O queues first, then the controller's orderly shutdown, as Linux does. */
	for (unsigned i = 0; i < s->nqueues; i++) {
		host_qpair_disconnect(s->queues[i].qp);
		s->queues[i].qp = NULL;
	}
	if (s->ctrl) {
		int rc = host_ctrl_disconnect(s->ctrl);
		if (rc)
			log_warn("controller shutdown: %s", strerror(-rc));
		s->ctrl = NULL;
	}
}

static int session_connect(struct session *s)
{
	const struct perf_config *cfg = s->cfg;
	int rc = host_ctrl_connect(&s->ctrl, &cfg->target, &cfg->host, (uint16_t)s->nqueues);
	if (rc)
		return rc;
	const struct host_ctrl_info *info = host_ctrl_get_info(s->ctrl);
	if (info->io_queues < s->nqueues) {
		log_error("need %u I/O queues, controller grants %u", s->nqueues, info->io_queues);
		return -ENOSPC;
	}
	rc = host_ctrl_identify_ns(s->ctrl, cfg->nsid, &s->ns);
	if (rc)
		return rc;
	if (cfg->io_size % s->ns.lba_size) {
		log_error("I/O size %u is not a multiple of the %u-byte LBA size", cfg->io_size,
			  s->ns.lba_size);
		return -EINVAL;
	}
	if (info->max_transfer && cfg->io_size > info->max_transfer) {
		log_error("I/O size %u exceeds the controller's MDTS limit of %u bytes", cfg->io_size,
			  info->max_transfer);
		return -EINVAL;
	}
	for (unsigned i = 0; i < s->nqueues; i++) {
		rc = host_qpair_connect(s->ctrl, (uint16_t)(i + 1), (uint16_t)cfg->depth,
					&s->queues[i].qp);
		if (rc)
			return rc;
	}
	return 0;
}

static void keep_alive(void *arg)
{
	struct session *s = arg;
	if (s->keep_alive_error)
		return;
	int rc = host_ctrl_keep_alive_tick(s->ctrl);
	if (rc) {
		s->keep_alive_error = rc;
		log_error("keep-alive failed: %s", strerror(-rc));
	}
}

static uint64_t span_blocks(const struct session *s, uint32_t io_blocks)
{
	uint64_t first = s->cfg->offset_bytes / s->ns.lba_size;
	uint64_t blocks = s->ns.nsze > first ? s->ns.nsze - first : 0;
	uint64_t span = s->cfg->span_bytes;
	if (!span && s->cfg->verify)
		span = VERIFY_DEFAULT_SPAN;
	if (span && span / s->ns.lba_size < blocks)
		blocks = span / s->ns.lba_size;
	return blocks / io_blocks * io_blocks;
}

static int run_pass(struct session *s, struct perf_job *job, struct pass_result *res)
{
	const struct perf_config *cfg = s->cfg;
	job->cfg = cfg;
	job->lba_size = s->ns.lba_size;
	job->io_blocks = cfg->io_size / s->ns.lba_size;
	job->span_blocks = span_blocks(s, job->io_blocks);
	job->split_block = (uint64_t)((double)job->span_blocks * cfg->pid_split / 100);
	job->first_block = cfg->offset_bytes / s->ns.lba_size;
	if (job->span_blocks < job->io_blocks) {
		log_error("namespace span is smaller than one I/O");
		return -EINVAL;
	}
	/* Sequential timed workloads: each queue walks its own slice of the span. */
	uint64_t slice = job->span_blocks / s->nqueues / job->io_blocks * job->io_blocks;
	for (unsigned i = 0; i < s->nqueues; i++) {
		struct perf_queue *q = &s->queues[i];
		q->seq_start = slice ? slice * i : 0;
		q->seq_end = slice ? q->seq_start + slice : job->span_blocks;
		q->seq_next = q->seq_start;
	}
	int64_t start = perf_now_ns();
	job->end_ns = !job->sequential_pass && cfg->seconds > 0
			      ? start + (int64_t)(cfg->seconds * 1e9)
			      : 0;
	int rc = perf_run_workers(s->workers, cfg->threads, job, keep_alive, s);

	memset(res, 0, sizeof(*res));
	hist_init(&res->hist);
	int64_t first = INT64_MAX, last = 0;
	for (unsigned t = 0; t < cfg->threads; t++) {
		struct perf_worker *w = &s->workers[t];
		hist_merge(&res->hist, &w->hist);
		res->reads += w->reads;
		res->writes += w->writes;
		res->bytes += w->bytes;
		res->nvme_errors += w->nvme_errors;
		res->xport_errors += w->xport_errors;
		res->mismatches += w->mismatches;
		res->other_pattern += w->other_pattern;
		res->success_violations += w->success_violations;
		if (w->failure && !res->failure)
			res->failure = w->failure;
		if (w->first_ns < first)
			first = w->first_ns;
		if (w->last_ns > last)
			last = w->last_ns;
	}
	res->seconds = last > first ? (double)(last - first) / 1e9 : 0;
	if (s->keep_alive_error && !res->failure)
		res->failure = s->keep_alive_error;
	return rc ? rc : res->failure;
}

static bool pass_clean(const struct pass_result *r)
{
	return !r->failure && !r->nvme_errors && !r->xport_errors && !r->mismatches;
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void print_text(const struct session *s, const struct pass_result *r)
{
	const struct perf_config *cfg = s->cfg;
	uint64_t ios = r->reads + r->writes;
	double iops = r->seconds > 0 ? (double)ios / r->seconds : 0;
	double mibs = r->seconds > 0 ? (double)r->bytes / 1048576.0 / r->seconds : 0;
	printf("%s: %s %u B, depth %u, %u thread(s) x %u queue(s), %.2f s\n", r->name,
	       cfg->verify ? "verify" : perf_workload_name(cfg->workload), cfg->io_size,
	       cfg->depth, cfg->threads, cfg->queues_per_thread, r->seconds);
	printf("  IOPS %.1f  MiB/s %.2f  ios %llu (reads %llu, writes %llu)\n", iops, mibs,
	       (unsigned long long)ios, (unsigned long long)r->reads,
	       (unsigned long long)r->writes);
	printf("  latency us: mean %.2f  p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
	       hist_mean(&r->hist) / 1000.0, us(hist_quantile(&r->hist, 0.50)),
	       us(hist_quantile(&r->hist, 0.99)), us(hist_quantile(&r->hist, 0.999)),
	       us(r->hist.max));
	if (r->other_pattern)
		printf("  verify: %llu blocks hold the --or-seed pattern\n",
		       (unsigned long long)r->other_pattern);
	if (!pass_clean(r))
		printf("  ERRORS: nvme %llu, transport %llu, verify mismatches %llu%s%s\n",
		       (unsigned long long)r->nvme_errors, (unsigned long long)r->xport_errors,
		       (unsigned long long)r->mismatches, r->failure ? ", queue failed: " : "",
		       r->failure ? strerror(-r->failure) : "");
}

static json_object *pass_json(const struct pass_result *r, const struct perf_config *cfg)
{
	uint64_t ios = r->reads + r->writes;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "pass", json_object_new_string(r->name));
	json_object_object_add(o, "workload",
			       json_object_new_string(cfg->verify ? "verify"
								  : perf_workload_name(cfg->workload)));
	json_object_object_add(o, "io_size", json_object_new_int64(cfg->io_size));
	json_object_object_add(o, "queue_depth", json_object_new_int64(cfg->depth));
	json_object_object_add(o, "threads", json_object_new_int64(cfg->threads));
	json_object_object_add(o, "queues", json_object_new_int64((int64_t)cfg->threads *
								  cfg->queues_per_thread));
	json_object_object_add(o, "seconds", json_object_new_double(r->seconds));
	json_object_object_add(o, "ios", json_object_new_int64((int64_t)ios));
	json_object_object_add(o, "reads", json_object_new_int64((int64_t)r->reads));
	json_object_object_add(o, "writes", json_object_new_int64((int64_t)r->writes));
	json_object_object_add(o, "iops",
			       json_object_new_double(r->seconds > 0 ? (double)ios / r->seconds : 0));
	json_object_object_add(o, "mbps", json_object_new_double(
		r->seconds > 0 ? (double)r->bytes / 1048576.0 / r->seconds : 0));
	json_object *lat = json_object_new_object();
	json_object_object_add(lat, "mean", json_object_new_double(hist_mean(&r->hist) / 1000.0));
	json_object_object_add(lat, "p50", json_object_new_double(us(hist_quantile(&r->hist, 0.5))));
	json_object_object_add(lat, "p99", json_object_new_double(us(hist_quantile(&r->hist, 0.99))));
	json_object_object_add(lat, "p999",
			       json_object_new_double(us(hist_quantile(&r->hist, 0.999))));
	json_object_object_add(lat, "max", json_object_new_double(us(r->hist.max)));
	json_object_object_add(o, "lat_us", lat);
	json_object_object_add(o, "errors", json_object_new_int64(
		(int64_t)(r->nvme_errors + r->xport_errors + (r->failure ? 1 : 0))));
	json_object_object_add(o, "mismatches", json_object_new_int64((int64_t)r->mismatches));
	json_object_object_add(o, "blocks_or_seed", json_object_new_int64((int64_t)r->other_pattern));
	return o;
}

static void note_success_flag(const struct pass_result *r)
{
	if (r->success_violations)
		log_warn("controller set C2HData SUCCESS %llu times although SQ flow control was on "
			 "(NVMe/TCP allows it only with SQ flow control disabled)",
			 (unsigned long long)r->success_violations);
}

/*
 * Write the pattern, read it back, reconnect from scratch, read it back again.
 * --verify-read runs only the middle pass, to check data an earlier run wrote.
 */
static bool random_workload(const struct perf_config *cfg)
{
	return cfg->workload == WL_RANDREAD || cfg->workload == WL_RANDWRITE ||
	       cfg->workload == WL_RANDRW;
}

static int run_verify(struct session *s, struct pass_result *res, unsigned *npasses)
{
	static const char *names[] = {"write pattern", "random read/write verify", "read verify",
				      "read verify after reconnect"};
	const struct perf_config *cfg = s->cfg;
	int rc = 0;
	*npasses = 0;
	/* With a random timed workload, random verified I/O between the write and the reads. */
	bool random = !cfg->verify_read_only && random_workload(cfg) && cfg->seconds > 0;
	uint32_t base = (uint32_t)(cfg->seed >> 32) + 1;
	uint32_t io_blocks = cfg->io_size / s->ns.lba_size;
	uint64_t units = io_blocks ? span_blocks(s, io_blocks) / io_blocks : 0;
	_Atomic uint32_t *generation = NULL;
	atomic_uchar *busy = NULL;
	if (random) {
		generation = calloc(units ? units : 1, sizeof(*generation));
		busy = calloc(units ? units : 1, sizeof(*busy));
		if (!generation || !busy) {
			rc = -ENOMEM;
			goto out;
		}
		for (uint64_t u = 0; u < units; u++)
			atomic_init(&generation[u], base);
	}
	unsigned first = cfg->verify_read_only ? 2 : 0, end = cfg->verify_read_only ? 3 : 4;
	for (unsigned p = first; p < end && !rc; p++) {
		if (p == 1 && !random)
			continue;
		if (p == 3) {
			session_disconnect(s);
			rc = session_connect(s);
			if (rc) {
				log_error("reconnect failed: %s", strerror(-rc));
				break;
			}
		}
		struct perf_job job = {.sequential_pass = p != 1,
				       .pass_writes = p == 0,
				       .generation = base,
				       .or_generation = (uint32_t)(s->cfg->or_seed >> 32) + 1,
				       .unit_generation = generation,
				       .unit_busy = busy};
		struct pass_result *r = &res[(*npasses)++];
		rc = run_pass(s, &job, r);
		r->name = names[p];
		if (!rc && !pass_clean(r))
			rc = -EIO;
	}
out:
	free(generation);
	free(busy);
	return rc;
}

int perf_main(int argc, char **argv)
{
	struct perf_config cfg;
	int rc = perf_parse_args(&cfg, argc, argv);
	if (rc)
		return rc > 0 ? 0 : 2;

	struct session s = { 0 };
	struct pass_result res[4];
	unsigned npasses = 0;
	if (session_alloc(&s, &cfg)) {
		log_error("out of memory");
		session_free(&s);
		return 1;
	}
	rc = session_connect(&s);
	if (rc) {
		log_error("connecting to %s:%s failed: %s", cfg.target.traddr, cfg.target.trsvcid,
			  strerror(-rc));
	} else if (cfg.verify) {
		rc = run_verify(&s, res, &npasses);
	} else {
		struct perf_job job = { 0 };
		rc = run_pass(&s, &job, &res[0]);
		res[0].name = "perf";
		npasses = 1;
	}
	session_disconnect(&s);

	bool clean = rc == 0;
	for (unsigned p = 0; p < npasses; p++) {
		clean = clean && pass_clean(&res[p]);
		note_success_flag(&res[p]);
	}
	if (cfg.json && npasses) {
		/* The last pass is the headline; verify runs list every pass. */
		json_object *top = pass_json(&res[npasses - 1], &cfg);
		if (cfg.verify) {
			json_object *arr = json_object_new_array();
			for (unsigned p = 0; p < npasses; p++)
				json_object_array_add(arr, pass_json(&res[p], &cfg));
			json_object_object_add(top, "passes", arr);
		}
		json_object_object_add(top, "ok", json_object_new_boolean(clean));
		printf("%s\n", json_object_to_json_string_ext(top, JSON_C_TO_STRING_PLAIN));
		json_object_put(top);
	} else {
		for (unsigned p = 0; p < npasses; p++)
			print_text(&s, &res[p]);
		if (cfg.verify && npasses)
			printf("verify %s\n", clean ? "passed" : "FAILED");
	}
	fflush(stdout);
	session_free(&s);
	return clean ? 0 : 1;
}
