/*
 * A drive that wears out, seen through NVMe: an ssd namespace with a tiny endurance is written
 * until SMART's available spare falls below its threshold (critical warning bit 0) and then
 * until the media turn read-only (bit 3): writes, Write Zeroes and Deallocate then fail with
 * Attempted Write to Read Only Range, reads still return the data, the vendor log says so.
 * Each warning is announced once with an Asynchronous Event when it is raised.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ftl/ftl.h"
#include "target_harness.h"

#define ST_READ_ONLY 0x4182 /* DNR | Attempted Write to Read Only Range */
#define BLOCK 4096u

struct fixture {
	struct th_env *env;
	struct th_queue admin, io;
	struct ssd_params params;
	uint32_t nsid;
	uint64_t blocks;
	uint32_t *generation; /* per block: what it was last written with */
	struct th_req *event; /* an Asynchronous Event Request still held at the end */
	uint8_t buf[BLOCK], out[BLOCK];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct th_env_params p = {.allow_any_host = true};
	f->env = th_env_create(&p);
	if (!f->env)
		return -1;
	struct ssd_params *sp = &f->params;
	ssd_params_defaults(sp);
	sp->channels = 2;
	sp->luns_per_channel = 1;
	sp->blocks_per_plane = 32;
	sp->pages_per_block = 16;
	/* Retirements spread out (the blocks' endurance varies) over a spare of 2 x 9 units, so
	 * the warning comes well before read-only; commands are timed by the wall clock, so
	 * idle-time GC makes each run a little different. */
	sp->op_pcent = 60;
	sp->endurance = 8;
	sp->endurance_spread_pcent = 30;
	sp->spare_threshold_pcent = 40;
	/* Every completion is due before it is asked for: answered at once. */
	struct ns_params np = {.kind = NS_KIND_SSD,
			       .lba_size = BLOCK,
			       .ssd = sp,
			       .transport_floor_ns = 1000000000000000ull};
	char err[256];
	struct ns *ns = ns_create(&np, err, sizeof(err));
	if (!ns)
		return -1;
	f->blocks = ns->nlbas;
	f->nsid = nvme_subsys_add_ns(f->env->subsys, ns, err, sizeof(err));
	f->generation = calloc(f->blocks, sizeof(*f->generation));
	th_queue_init(&f->admin, f->env);
	th_queue_init(&f->io, f->env);
	*state = f;
	return f->nsid && !th_bring_up(&f->admin, &f->io, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	th_queue_close(&f->io);
	th_queue_close(&f->admin);
	if (f->event)
		th_req_free(&f->admin, f->event); /* cancelled by the close */
	th_env_destroy(f->env);
	free(f->generation);
	free(f);
	return 0;
}

static void get_log(struct fixture *f, uint8_t lid, uint32_t nsid, uint8_t log[512])
{
	struct nvme_sqe sqe = th_get_log_sqe(lid, nsid, 512, 0);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, log, 512, NULL), 0);
}

static void fill(uint8_t *buf, uint64_t lba, uint32_t generation)
{
	for (size_t i = 0; i < BLOCK; i += 8) {
		uint64_t v = lba << 32 | generation;
		memcpy(buf + i, &v, 8);
	}
}

static uint16_t write_block(struct fixture *f, uint64_t lba)
{
	fill(f->buf, lba, f->generation[lba] + 1);
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_write, f->nsid, lba, 1, BLOCK);
	uint16_t status = th_exec(&f->io, &sqe, f->buf, BLOCK, NULL, 0, NULL);
	if (status == 0)
		f->generation[lba]++;
	return status;
}

static void assert_block(struct fixture *f, uint64_t lba)
{
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_read, f->nsid, lba, 1, BLOCK);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, f->out, BLOCK, NULL), 0);
	if (f->generation[lba])
		fill(f->buf, lba, f->generation[lba]);
	else
		memset(f->buf, 0, BLOCK);
	assert_memory_equal(f->out, f->buf, BLOCK);
}

/* Random single-block writes until `stop` is in the critical warning or a write fails. */
static uint16_t write_until(struct fixture *f, uint8_t stop, uint64_t *rng, uint8_t smart[512])
{
	for (int i = 0;; i++) {
		*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
		uint16_t status = write_block(f, (*rng >> 33) % f->blocks);
		if (status)
			return status;
		if (i % 8 == 0) {
			get_log(f, NVME_LOG_SMART, f->nsid, smart);
			if (smart[0] & stop)
				return 0;
		}
	}
}

static struct th_req *async_event_request(struct fixture *f)
{
	struct nvme_sqe sqe = th_sqe(nvme_admin_async_event, 0);
	return th_submit(&f->admin, &sqe, NULL, 0);
}

static void test_wear_out_through_nvme(void **state)
{
	struct fixture *f = *state;
	uint8_t smart[512], raw[512];
	struct nvme_sqe aec = th_sqe(nvme_admin_set_features, 0);
	aec.cdw10 = NVME_FEAT_ASYNC_EVENT;
	aec.cdw11 = NVME_SMART_CRIT_SPARE | NVME_SMART_CRIT_MEDIA;
	assert_int_equal(th_exec(&f->admin, &aec, NULL, 0, NULL, 0, NULL), 0);
	struct th_req *event = async_event_request(f);
	get_log(f, NVME_LOG_SMART, f->nsid, smart);
	assert_int_equal(smart[0], 0);   /* critical warning */
	assert_int_equal(smart[3], 100); /* available spare */
	assert_int_equal(smart[4], 40);  /* its threshold */
	assert_int_equal(smart[5], 0);   /* percentage used */

	uint64_t rng = 1;
	assert_int_equal(write_until(f, NVME_SMART_CRIT_SPARE, &rng, smart), 0);
	assert_true(smart[3] < 40 && smart[3] > 0);
	assert_int_equal(smart[0], NVME_SMART_CRIT_SPARE); /* not read-only yet */
	assert_true(smart[5] > 0);
	reactor_poll(f->env->reactor, 0); /* the announcement is posted to the admin queue */
	assert_int_equal(event->completions, 1);
	assert_int_equal(event->cqe.result, NVME_AER_RESULT(NVME_AER_TYPE_SMART,
							    NVME_AER_SMART_SPARE_BELOW, NVME_LOG_SMART));
	th_req_free(&f->admin, event);
	event = async_event_request(f);

	/* Until a write is refused (the drive may turn read-only on the last one accepted). */
	assert_int_equal(write_until(f, 0, &rng, smart), ST_READ_ONLY);
	get_log(f, NVME_LOG_SMART, f->nsid, smart);
	assert_int_equal(smart[0], NVME_SMART_CRIT_SPARE | NVME_SMART_CRIT_MEDIA);
	assert_int_equal(smart[3], 0);
	assert_true(smart[5] >= 50);
	/* Read-only is announced; the spare already was (and the log was read since). */
	reactor_poll(f->env->reactor, 0);
	assert_int_equal(event->completions, 1);
	assert_int_equal(event->cqe.result, NVME_AER_RESULT(NVME_AER_TYPE_SMART,
							    NVME_AER_SMART_RELIABILITY, NVME_LOG_SMART));
	th_req_free(&f->admin, event);
	event = async_event_request(f);

	/* Every data-changing command is refused; nothing changed. */
	assert_int_equal(write_block(f, 0), ST_READ_ONLY);
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_write_zeroes, f->nsid, 1, 1, BLOCK);
	th_sgl_transport(&sqe, 0);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_READ_ONLY);
	struct nvme_dsm_range range = {.slba = 2, .nlb = 1};
	sqe = th_sqe(nvme_cmd_dsm, f->nsid);
	sqe.dsm.attributes = NVME_DSM_ATTR_AD;
	th_sgl_transport(&sqe, sizeof(range));
	assert_int_equal(th_exec(&f->io, &sqe, &range, sizeof(range), NULL, 0, NULL), ST_READ_ONLY);
	sqe = th_sqe(nvme_cmd_flush, f->nsid);
	th_sgl_transport(&sqe, 0);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), 0);
	/* Reads are served, with the data last written. */
	for (uint64_t lba = 0; lba < f->blocks; lba++)
		assert_block(f, lba);

	get_log(f, NVME_LOG_VENDOR_NVEMU, f->nsid, raw);
	struct nvemu_model_log vendor; /* little-endian, as the host running the test */
	memcpy(&vendor, raw, sizeof(vendor));
	assert_int_equal(vendor.version, NVEMU_MODEL_LOG_VERSION);
	assert_true(vendor.retired_blocks > 0);
	assert_int_equal(vendor.avail_spare_pcent, 0);
	assert_true(vendor.percent_used_milli >= 50000);
	assert_int_equal(vendor.read_only, 1);

	/* The ram namespace does not wear; the whole subsystem shows the worn one. */
	get_log(f, NVME_LOG_SMART, 1, smart);
	assert_int_equal(smart[0], 0);
	assert_int_equal(smart[3], 100);
	get_log(f, NVME_LOG_SMART, 0xFFFFFFFF, smart);
	assert_int_equal(smart[0], NVME_SMART_CRIT_SPARE | NVME_SMART_CRIT_MEDIA);
	/* Refused writes since announced nothing more. */
	reactor_poll(f->env->reactor, 0);
	assert_int_equal(event->completions, 0);
	f->event = event;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_wear_out_through_nvme, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
