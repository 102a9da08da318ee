/*
 * The transport floor comes off once, in the controller core: a namespace kind
 * returns pure model time, and the completion timer is armed at the latest of
 * a command's operations less the floor of its namespace, never before the
 * command started.  A scripted kind says when each operation completes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "target_harness.h"

#define SECOND 1000000000ull
#define FLOOR (2 * SECOND)

/* A kind whose k-th operation completes delays[k] after it starts; reads return zeroes. */
struct scripted {
	uint64_t delays[8];
	unsigned next;
	uint64_t first_now; /* the "now" the command's first operation was given */
};

static struct scripted script;

static uint16_t scripted_op(struct ns *ns, struct ns_io *io)
{
	(void)ns;
	if (script.next == 0)
		script.first_now = io->now_ns;
	io->done_ns = io->now_ns + script.delays[script.next++ % 8];
	return NVME_SC_SUCCESS;
}

static uint16_t scripted_read(struct ns *ns, struct ns_io *io)
{
	if (io->buf) {
		memset(io->buf, 0, (size_t)io->nlb << ns->lba_shift);
		io->data = io->buf;
	}
	return scripted_op(ns, io);
}

static uint64_t scripted_blocks_in_use(struct ns *ns)
{
	(void)ns;
	return 0;
}

static void scripted_destroy(struct ns *ns) { (void)ns; }

static const struct ns_ops scripted_ops = {
    .kind = "scripted",
    .read = scripted_read,
    .write = scripted_op,
    .write_zeroes = scripted_op,
    .deallocate = scripted_op,
    .flush = scripted_op,
    .blocks_in_use = scripted_blocks_in_use,
    .destroy = scripted_destroy,
};

struct fixture {
	struct th_env *env;
	struct th_queue admin, io;
	uint32_t nsid;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct th_env_params p = {.allow_any_host = true};
	f->env = th_env_create(&p);
	struct ns *ns = calloc(1, sizeof(*ns));
	if (!f->env || !ns)
		return -1;
	*ns = (struct ns){.ops = &scripted_ops,
			  .csi = NVME_CSI_NVM,
			  .lba_shift = 12,
			  .nlbas = 1024,
			  .transport_floor_ns = FLOOR};
	char err[128];
	f->nsid = nvme_subsys_add_ns(f->env->subsys, ns, err, sizeof(err)); /* owns ns now */
	th_queue_init(&f->admin, f->env);
	th_queue_init(&f->io, f->env);
	memset(&script, 0, sizeof(script));
	*state = f;
	return f->nsid && !th_bring_up(&f->admin, &f->io, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	th_queue_close(&f->io);
	th_queue_close(&f->admin);
	th_env_destroy(f->env);
	free(f);
	return 0;
}

/* Submits; the command must wait for its timer, which is returned (and then cancelled). */
static uint64_t due_of(struct fixture *f, const struct nvme_sqe *sqe, const void *h2c, uint32_t len)
{
	struct th_req *req = th_submit(&f->io, sqe, h2c, len);
	assert_int_equal(req->completions, 0);
	assert_true(reactor_timer_armed(&req->nvme.due));
	uint64_t due = req->nvme.due.due_ns;
	nvme_req_cancel(&req->nvme);
	th_req_free(&f->io, req);
	return due;
}

static void test_dsm_loses_the_floor_once_from_its_latest_range(void **state)
{
	struct fixture *f = *state;
	struct nvme_dsm_range ranges[3] = {
	    {.slba = 0, .nlb = 1}, {.slba = 10, .nlb = 2}, {.slba = 20, .nlb = 1}};
	script = (struct scripted){.delays = {5 * SECOND, 9 * SECOND, 7 * SECOND}};
	struct nvme_sqe sqe = th_sqe(nvme_cmd_dsm, f->nsid);
	sqe.dsm.nr = 2;
	sqe.dsm.attributes = NVME_DSM_ATTR_AD;
	th_sgl_transport(&sqe, sizeof(ranges));
	uint64_t due = due_of(f, &sqe, ranges, sizeof(ranges));
	assert_int_equal(due, script.first_now + 9 * SECOND - FLOOR);
	assert_int_equal(script.next, 3);
}

static void test_compare_loses_the_floor_once_from_its_latest_read(void **state)
{
	struct fixture *f = *state;
	uint8_t zeroes[3 * 4096] = {0};
	/* 4 KiB blocks: one read per block. */
	script = (struct scripted){.delays = {3 * SECOND, 8 * SECOND, 4 * SECOND}};
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_compare, f->nsid, 0, 3, 4096);
	uint64_t due = due_of(f, &sqe, zeroes, sizeof(zeroes));
	assert_int_equal(due, script.first_now + 8 * SECOND - FLOOR);
	assert_int_equal(script.next, 3);
}

static void test_reads_and_flushes(void **state)
{
	struct fixture *f = *state;
	script = (struct scripted){.delays = {5 * SECOND}};
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_read, f->nsid, 0, 1, 4096);
	uint64_t due = due_of(f, &sqe, NULL, 0);
	assert_int_equal(due, script.first_now + 5 * SECOND - FLOOR);

	/* Model time below the floor: answered at once, not before it started. */
	script = (struct scripted){.delays = {SECOND}};
	uint8_t out[4096];
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, out, sizeof(out), NULL), 0);
	assert_int_equal(script.next, 1);

	/* Flush of every namespace: the scripted one (the ram ones take no time) less its floor. */
	script = (struct scripted){.delays = {6 * SECOND}};
	sqe = th_sqe(nvme_cmd_flush, 0xFFFFFFFF);
	th_sgl_transport(&sqe, 0);
	due = due_of(f, &sqe, NULL, 0);
	assert_int_equal(due, script.first_now + 6 * SECOND - FLOOR);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_dsm_loses_the_floor_once_from_its_latest_range),
	    T(test_compare_loses_the_floor_once_from_its_latest_read),
	    T(test_reads_and_flushes),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
