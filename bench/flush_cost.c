/*
 * nvemu-flush-cost: what an NVMe Flush costs after a given amount of written data
 * (docs/benchmarks.md). For each size: writes that many bytes of random BS-byte blocks at
 * QD (over the whole namespace, or --span), then times one Flush; ROUNDS times, medians.
 *
 * Usage: nvemu-flush-cost -r TRID [--nsid N] [--dirty MIB,...] [--bs BYTES] [--qd N]
 *                         [--rounds N] [--span BYTES]
 * Prints one JSON object: per size, the write rate and the Flush latency (median, max).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/host.h"
#include "util/log.h"
#include "util/util.h"

#define MAX_SIZES 16
#define MAX_ROUNDS 64

struct writer {
	struct host_qpair *qp;
	uint32_t nsid, lba_size, blocks_per_io;
	uint64_t span_ios, rng;
	uint64_t issued, done, wanted;
	int failed;
	uint8_t *buf;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void write_done(void *arg, const struct host_cpl *cpl);

static int submit_write(struct writer *w)
{
	uint64_t slba = next_rand(&w->rng) % w->span_ios * w->blocks_per_io;
	w->issued++;
	return host_qpair_rw(w->qp, true, w->nsid, slba, w->blocks_per_io, w->buf,
			     w->blocks_per_io * w->lba_size, write_done, w);
}

static void write_done(void *arg, const struct host_cpl *cpl)
{
	struct writer *w = arg;
	w->done++;
	if (!host_cpl_ok(cpl))
		w->failed = -EIO;
	else if (w->issued < w->wanted && !w->failed)
		w->failed = submit_write(w);
}

static int drive_queue(struct host_qpair *qp, bool (*finished)(void *), void *arg)
{
	while (!finished(arg)) {
		int rc = host_qpair_process(qp);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			struct pollfd p = {.fd = host_qpair_fd(qp),
					   .events = POLLIN | (host_qpair_send_pending(qp) ? POLLOUT : 0)};
			poll(&p, 1, 10);
		}
	}
	return 0;
}

static bool writes_finished(void *arg)
{
	struct writer *w = arg;
	return w->done == w->issued && (w->issued == w->wanted || w->failed);
}

struct flush_wait {
	bool done;
	struct host_cpl cpl;
};

static void flush_done(void *arg, const struct host_cpl *cpl)
{
	struct flush_wait *f = arg;
	f->cpl = *cpl;
	f->done = true;
}

static bool flush_finished(void *arg) { return ((struct flush_wait *)arg)->done; }

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *trid = NULL, *dirty_list = "0,4,64,256";
	uint32_t nsid = 1, bs = 4096, qd = 32, rounds = 5;
	uint64_t span = 0;
	static const struct option longopts[] = {
	    {"transport", required_argument, NULL, 'r'}, {"nsid", required_argument, NULL, 'n'},
	    {"dirty", required_argument, NULL, 'D'},     {"bs", required_argument, NULL, 'b'},
	    {"qd", required_argument, NULL, 'q'},	 {"rounds", required_argument, NULL, 'R'},
	    {"span", required_argument, NULL, 's'},	 {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "r:", longopts, NULL)) != -1) {
		uint64_t v = 0;
		char err[128];
		if (c != 'r' && c != 'D' && parse_u64(optarg, 1, UINT64_MAX, &v, err, sizeof(err))) {
			fprintf(stderr, "nvemu-flush-cost: %s\n", err);
			return 2;
		}
		switch (c) {
		case 'r': trid = optarg; break;
		case 'n': nsid = (uint32_t)v; break;
		case 'D': dirty_list = optarg; break;
		case 'b': bs = (uint32_t)v; break;
		case 'q': qd = (uint32_t)v; break;
		case 'R': rounds = v > MAX_ROUNDS ? MAX_ROUNDS : (uint32_t)v; break;
		case 's': span = v; break;
		default: return 2;
		}
	}
	if (!trid || !qd || !rounds || !bs) {
		fprintf(stderr, "usage: nvemu-flush-cost -r TRID [--nsid N] [--dirty MIB,...] "
				"[--bs BYTES] [--qd N] [--rounds N] [--span BYTES]\n");
		return 2;
	}
	uint64_t sizes[MAX_SIZES];
	unsigned nsizes = 0;
	for (char *list = strdup(dirty_list), *tok = strtok(list, ","); tok && nsizes < MAX_SIZES;
	     tok = strtok(NULL, ","))
		sizes[nsizes++] = strtoull(tok, NULL, 10) << 20;

	struct host_target target;
	char err[256];
	if (host_target_parse(&target, trid, err, sizeof(err))) {
		fprintf(stderr, "nvemu-flush-cost: %s\n", err);
		return 2;
	}
	struct host_opts opts;
	host_opts_init(&opts);
	struct host_ctrl *ctrl;
	struct host_ns_info ns;
	struct host_qpair *qp;
	if (host_ctrl_connect(&ctrl, &target, &opts, 1) || host_ctrl_identify_ns(ctrl, nsid, &ns) ||
	    host_qpair_connect(ctrl, 1, (uint16_t)qd, &qp)) {
		fprintf(stderr, "nvemu-flush-cost: cannot connect to %s\n", trid);
		return 1;
	}
	struct writer w = {.qp = qp, .nsid = nsid, .lba_size = ns.lba_size,
			   .blocks_per_io = bs / ns.lba_size, .rng = 13, .buf = malloc(bs)};
	uint64_t span_blocks = span && span / ns.lba_size < ns.nsze ? span / ns.lba_size : ns.nsze;
	w.span_ios = span_blocks / w.blocks_per_io;
	memset(w.buf, 0xA5, bs);
	printf("{\"bs\":%u,\"qd\":%u,\"rounds\":%u,\"sizes\":[", bs, qd, rounds);
	int rc = 0;
	for (unsigned i = 0; i < nsizes && !rc; i++) {
		double flush_s[MAX_ROUNDS], write_s = 0;
		for (uint32_t r = 0; r < rounds && !rc; r++) {
			w.issued = w.done = 0;
			w.wanted = sizes[i] / bs;
			double t0 = now_s();
			for (uint32_t d = 0; d < qd && w.issued < w.wanted && !w.failed; d++)
				w.failed = submit_write(&w);
			rc = drive_queue(qp, writes_finished, &w);
			if (!rc)
				rc = w.failed;
			write_s += now_s() - t0;
			struct nvme_sqe sqe;
			memset(&sqe, 0, sizeof(sqe));
			sqe.opcode = nvme_cmd_flush;
			sqe.nsid = nsid;
			struct flush_wait f = {0};
			t0 = now_s();
			if (!rc && !(rc = host_qpair_submit(qp, &sqe, NULL, 0, HOST_XFER_NONE, flush_done, &f)))
				rc = drive_queue(qp, flush_finished, &f);
			if (!rc && !host_cpl_ok(&f.cpl))
				rc = -EIO;
			flush_s[r] = now_s() - t0;
			host_ctrl_keep_alive_tick(ctrl);
		}
		if (rc)
			break;
		qsort(flush_s, rounds, sizeof(flush_s[0]), cmp_double);
		printf("%s{\"dirty_mib\":%llu,\"write_mibps\":%.1f,\"flush_ms_median\":%.3f,"
		       "\"flush_ms_max\":%.3f}",
		       i ? "," : "", (unsigned long long)(sizes[i] >> 20),
		       write_s > 0 ? (double)sizes[i] * rounds / write_s / 1048576.0 : 0.0,
		       flush_s[rounds / 2] * 1e3, flush_s[rounds - 1] * 1e3);
		fflush(stdout);
	}
	printf("]}\n");
	host_qpair_disconnect(qp);
	host_ctrl_disconnect(ctrl);
	free(w.buf);
	if (rc)
		fprintf(stderr, "nvemu-flush-cost: failed: %s\n", strerror(-rc));
	return rc ? 1 : 0;
}
