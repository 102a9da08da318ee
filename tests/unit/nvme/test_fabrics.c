/* Fabrics commands: Connect (admin and I/O), Property Get/Set, and the order rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "target_harness.h"

/* Status values in the kernel's encoding (SCT << 8 | SC, DNR = 0x4000). */
#define ST_INVALID_OPCODE 0x4001
#define ST_INVALID_FIELD 0x4002
#define ST_SEQ_ERROR 0x400C
#define ST_CONNECT_FORMAT 0x4180
#define ST_CONNECT_INVALID_PARAM 0x4182
#define ST_CONNECT_INVALID_HOST 0x4184

/* Connect Invalid Parameters: DW0 = IPO | IATTR << 16 (NVMe-oF 1.1, Connect response). */
#define IPO_DATA(offset) ((uint64_t)(offset) | 1ull << 16)
#define IPO_CMD(offset) ((uint64_t)(offset))
#define IPO_CNTLID 16
#define IPO_SUBNQN 256
#define IPO_HOSTNQN 512
#define IPO_HOSTID 0
#define IPO_QID 42
#define IPO_SQSIZE 44

static int setup_open(void **state)
{
	struct th_env_params p = {.allow_any_host = true};
	*state = th_env_create(&p);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	th_env_destroy(*state);
	return 0;
}

static uint16_t connect_raw(struct th_queue *q, struct nvme_sqe *sqe, struct nvmf_connect_data *data,
			    uint64_t *result)
{
	return th_exec(q, sqe, data, sizeof(*data), NULL, 0, result);
}

static void test_admin_connect_succeeds_with_dynamic_cntlid(void **state)
{
	struct th_queue q;
	th_queue_init(&q, *state);
	struct nvme_sqe sqe = th_connect_sqe(0, 31, 5000);
	sqe.command_id = 0x3007;
	struct nvmf_connect_data data;
	th_connect_data(&data, 0xFFFF, TH_SUBNQN, TH_HOSTNQN);
	struct th_req *req = th_submit(&q, &sqe, &data, sizeof(data));
	assert_int_equal(req->completions, 1);
	assert_int_equal(th_status(req), 0);
	uint16_t cntlid = (uint16_t)req->cqe.result;
	assert_true(cntlid >= 1 && cntlid <= 0xFFEF);
	/* Bits 16 and 17 would ask the host to authenticate. */
	assert_int_equal(req->cqe.result >> 16, 0);
	assert_int_equal(req->cqe.command_id, 0x3007);
	assert_int_equal(req->cqe.sq_id, 0);
	assert_int_equal(req->cqe.sq_head, 1);
	assert_int_equal(req->cqe.status & 1, 0);
	th_req_free(&q, req);

	/* A second association gets another controller ID. */
	struct th_queue q2;
	th_queue_init(&q2, *state);
	uint16_t cntlid2 = 0;
	assert_int_equal(th_connect_admin(&q2, TH_SUBNQN, TH_HOSTNQN, &cntlid2), 0);
	assert_int_not_equal(cntlid2, cntlid);
	th_queue_close(&q2);
	th_queue_close(&q);
}

static void test_admin_connect_refusals(void **state)
{
	struct th_queue q;
	th_queue_init(&q, *state);
	struct nvmf_connect_data data;
	uint64_t result = 0;

	struct nvme_sqe sqe = th_connect_sqe(0, 31, 0);
	th_connect_data(&data, 0xFFFF, "nqn.2024-01.io.nvemu:nobody", TH_HOSTNQN);
	assert_int_equal(connect_raw(&q, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_DATA(IPO_SUBNQN));

	th_connect_data(&data, 1, TH_SUBNQN, TH_HOSTNQN);
	assert_int_equal(connect_raw(&q, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_DATA(IPO_CNTLID));

	/* NQNs must be NUL-terminated inside their 256-byte fields. */
	th_connect_data(&data, 0xFFFF, TH_SUBNQN, TH_HOSTNQN);
	memset(data.subsysnqn, 'n', sizeof(data.subsysnqn));
	assert_int_equal(connect_raw(&q, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_DATA(IPO_SUBNQN));
	th_connect_data(&data, 0xFFFF, TH_SUBNQN, TH_HOSTNQN);
	memset(data.hostnqn, 'h', sizeof(data.hostnqn));
	assert_int_equal(connect_raw(&q, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_DATA(IPO_HOSTNQN));

	/* The admin queue holds 32 entries: SQSIZE 31 is the most. */
	th_connect_data(&data, 0xFFFF, TH_SUBNQN, TH_HOSTNQN);
	sqe = th_connect_sqe(0, 32, 0);
	assert_int_equal(connect_raw(&q, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_CMD(IPO_SQSIZE));

	sqe = th_connect_sqe(0, 31, 0);
	((struct nvmf_connect_command *)&sqe)->recfmt = 1;
	assert_int_equal(connect_raw(&q, &sqe, &data, NULL), ST_CONNECT_FORMAT);

	/* Connect data must be exactly 1024 bytes. */
	sqe = th_connect_sqe(0, 31, 0);
	th_sgl_incapsule(&sqe, 512);
	assert_int_equal(th_exec(&q, &sqe, &data, 512, NULL, 0, NULL), 0x400F);

	/* None of that connected the queue. */
	assert_null(q.sq.ctrl);
	uint16_t cntlid;
	assert_int_equal(th_connect_admin(&q, TH_SUBNQN, TH_HOSTNQN, &cntlid), 0);
	/* A connected queue takes no second Connect. */
	assert_int_equal(th_connect_admin(&q, TH_SUBNQN, TH_HOSTNQN, NULL), ST_SEQ_ERROR);
	th_queue_close(&q);
}

static void test_host_allow_list(void **state)
{
	(void)state;
	struct th_env_params p = {.allow_any_host = false, .allowed_host = "nqn.2024-01.io.nvemu:allowed"};
	struct th_env *env = th_env_create(&p);
	assert_non_null(env);
	struct th_queue q;
	th_queue_init(&q, env);
	assert_int_equal(th_connect_admin(&q, TH_SUBNQN, TH_HOSTNQN, NULL), ST_CONNECT_INVALID_HOST);
	assert_null(q.sq.ctrl);
	/* Discovery stays open to every host. */
	assert_int_equal(th_connect_admin(&q, NVME_NQN_DISC, TH_HOSTNQN, NULL), 0);
	th_queue_close(&q);
	th_queue_init(&q, env);
	assert_int_equal(th_connect_admin(&q, TH_SUBNQN, "nqn.2024-01.io.nvemu:allowed", NULL), 0);
	th_queue_close(&q);
	th_env_destroy(env);
}

static void test_commands_before_connect_are_sequence_errors(void **state)
{
	struct th_queue q;
	th_queue_init(&q, *state);
	struct nvme_sqe identify = th_identify_sqe(NVME_ID_CNS_CTRL, 0);
	assert_int_equal(th_exec(&q, &identify, NULL, 0, NULL, 0, NULL), ST_SEQ_ERROR);
	struct nvme_sqe get = th_property_get_sqe(NVME_REG_CAP, true);
	assert_int_equal(th_exec(&q, &get, NULL, 0, NULL, 0, NULL), ST_SEQ_ERROR);
	struct nvme_sqe set = th_property_set_sqe(NVME_REG_CC, th_cc_enable(0));
	assert_int_equal(th_exec(&q, &set, NULL, 0, NULL, 0, NULL), ST_SEQ_ERROR);
	struct nvme_sqe read = th_rw_sqe(nvme_cmd_read, 1, 0, 1, 4096);
	assert_int_equal(th_exec(&q, &read, NULL, 0, NULL, 0, NULL), ST_SEQ_ERROR);
	struct nvme_sqe ka = th_sqe(nvme_admin_keep_alive, 0);
	assert_int_equal(th_exec(&q, &ka, NULL, 0, NULL, 0, NULL), ST_SEQ_ERROR);

	/* Connected but not enabled: admin commands wait for CC.EN and CSTS.RDY. */
	assert_int_equal(th_connect_admin(&q, TH_SUBNQN, TH_HOSTNQN, NULL), 0);
	assert_int_equal(th_exec(&q, &identify, NULL, 0, NULL, 0, NULL), ST_SEQ_ERROR);
	assert_int_equal(th_exec(&q, &get, NULL, 0, NULL, 0, NULL), 0);
	th_queue_close(&q);
}

static uint64_t property(struct th_queue *q, uint32_t offset, bool eight)
{
	struct nvme_sqe sqe = th_property_get_sqe(offset, eight);
	uint64_t value = 0xDEADBEEF;
	assert_int_equal(th_exec(q, &sqe, NULL, 0, NULL, 0, &value), 0);
	return value;
}

static uint16_t set_cc(struct th_queue *q, uint32_t cc)
{
	struct nvme_sqe sqe = th_property_set_sqe(NVME_REG_CC, cc);
	return th_exec(q, &sqe, NULL, 0, NULL, 0, NULL);
}

static void test_property_handshake(void **state)
{
	struct th_queue q;
	th_queue_init(&q, *state);
	assert_int_equal(th_connect_admin(&q, TH_SUBNQN, TH_HOSTNQN, NULL), 0);

	uint64_t cap = property(&q, 0x00, true);
	assert_int_equal(cap & 0xFFFF, TH_IO_DEPTH - 1);   /* MQES, 0's based */
	assert_true(cap & (1ull << 16));		     /* CQR */
	assert_int_not_equal((cap >> 24) & 0xFF, 0);	     /* TO */
	assert_true(cap & (1ull << 37));		     /* CSS: NVM */
	assert_int_equal((cap >> 48) & 0xF, 0);		     /* MPSMIN: 4 KiB */
	assert_int_equal(property(&q, 0x08, false), 0x00020000); /* VS 2.0 */
	assert_int_equal(property(&q, 0x14, false), 0);
	assert_int_equal(property(&q, 0x1C, false), 0);

	/* Width must match the register; unknown registers are refused. */
	struct nvme_sqe sqe = th_property_get_sqe(0x00, false);
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	sqe = th_property_get_sqe(0x14, true);
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	sqe = th_property_get_sqe(0x20, false);
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	sqe = th_property_set_sqe(0x1C, 1);
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	sqe = th_property_set_sqe(0x14, 1);
	((struct nvmf_property_set_command *)&sqe)->attrib = 1;
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	/* Unknown fabrics command type. */
	sqe = th_property_get_sqe(0x14, false);
	((struct nvmf_property_get_command *)&sqe)->fctype = 0x7E;
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_OPCODE);

	/* CC.EN with IOSQES 6 / IOCQES 4 (0x460001): ready. */
	assert_int_equal(set_cc(&q, 0x460001), 0);
	assert_int_equal(property(&q, 0x14, false), 0x460001);
	assert_int_equal(property(&q, 0x1C, false), 1);
	/* CSS 110b (all I/O command sets) is accepted too after a disable. */
	assert_int_equal(set_cc(&q, 0x460000), 0);
	assert_int_equal(property(&q, 0x1C, false), 0);
	assert_int_equal(set_cc(&q, 0x460061), 0);
	assert_int_equal(property(&q, 0x1C, false), 1);
	/* Shutdown: SHN 01b completes at once with SHST 10b. */
	assert_int_equal(set_cc(&q, 0x464061), 0);
	assert_int_equal(property(&q, 0x1C, false), 1 | 2u << 2);
	assert_int_equal(set_cc(&q, 0x460000), 0);
	assert_int_equal(property(&q, 0x1C, false), 0);

	/* Enabling with an SQE size other than 64 bytes: fatal status, not ready. */
	assert_int_equal(set_cc(&q, 0x470001), 0);
	assert_int_equal(property(&q, 0x1C, false), 2);
	struct nvme_sqe identify = th_identify_sqe(NVME_ID_CNS_CTRL, 0);
	assert_int_equal(th_exec(&q, &identify, NULL, 0, NULL, 0, NULL), ST_SEQ_ERROR);
	/* A reset (EN 0) clears CFS; a good enable then works. */
	assert_int_equal(set_cc(&q, 0), 0);
	assert_int_equal(property(&q, 0x1C, false), 0);
	assert_int_equal(set_cc(&q, 0x460001), 0);
	assert_int_equal(property(&q, 0x1C, false), 1);
	assert_int_equal(th_exec(&q, &identify, NULL, 0, NULL, 0, NULL), 0);
	th_queue_close(&q);
}

static void test_io_connect_rules(void **state)
{
	struct th_env *env = *state;
	struct th_queue admin, io1, io2;
	th_queue_init(&admin, env);
	th_queue_init(&io1, env);
	th_queue_init(&io2, env);
	uint16_t cntlid = 0;
	assert_int_equal(th_connect_admin(&admin, TH_SUBNQN, TH_HOSTNQN, &cntlid), 0);

	struct nvmf_connect_data data;
	uint64_t result = 0;
	struct nvme_sqe sqe = th_connect_sqe(1, TH_IO_DEPTH - 1, 0);
	/* Not enabled yet. */
	th_connect_data(&data, cntlid, TH_SUBNQN, TH_HOSTNQN);
	assert_int_equal(connect_raw(&io1, &sqe, &data, NULL), ST_SEQ_ERROR);
	assert_int_equal(th_enable(&admin), 0);
	/* No queues granted yet: every QID is too big. */
	assert_int_equal(connect_raw(&io1, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_CMD(IPO_QID));

	uint64_t granted = 0;
	assert_int_equal(th_set_num_queues(&admin, 1, 1, &granted), 0);
	assert_int_equal(granted, 0x00010001); /* two SQs and CQs, 0's based */

	sqe = th_connect_sqe(3, TH_IO_DEPTH - 1, 0);
	assert_int_equal(connect_raw(&io1, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_CMD(IPO_QID));

	sqe = th_connect_sqe(1, TH_IO_DEPTH, 0); /* one more than MQES + 1 allows */
	assert_int_equal(connect_raw(&io1, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_CMD(IPO_SQSIZE));
	sqe = th_connect_sqe(1, 0, 0);
	assert_int_equal(connect_raw(&io1, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_CMD(IPO_SQSIZE));

	sqe = th_connect_sqe(1, TH_IO_DEPTH - 1, 0);
	th_connect_data(&data, cntlid, TH_SUBNQN, "nqn.2024-01.io.nvemu:intruder");
	assert_int_equal(connect_raw(&io1, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_DATA(IPO_HOSTNQN));
	th_connect_data(&data, cntlid, TH_SUBNQN, TH_HOSTNQN);
	data.hostid[0] ^= 1;
	assert_int_equal(connect_raw(&io1, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_DATA(IPO_HOSTID));
	th_connect_data(&data, (uint16_t)(cntlid + 1), TH_SUBNQN, TH_HOSTNQN);
	assert_int_equal(connect_raw(&io1, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_DATA(IPO_CNTLID));
	/* The controller belongs to one subsystem. */
	th_connect_data(&data, cntlid, TH_SUBNQN2, TH_HOSTNQN);
	assert_int_equal(connect_raw(&io1, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_DATA(IPO_CNTLID));
	assert_null(io1.sq.ctrl);

	/* Good, with SQ flow control disabled: SQHD is FFFFh from now on. */
	th_connect_data(&data, cntlid, TH_SUBNQN, TH_HOSTNQN);
	((struct nvmf_connect_command *)&sqe)->cattr = 1u << 2;
	struct th_req *req = th_submit(&io1, &sqe, &data, sizeof(data));
	assert_int_equal(th_status(req), 0);
	assert_int_equal(req->cqe.result, cntlid);
	assert_int_equal(req->cqe.sq_id, 1);
	assert_int_equal(req->cqe.sq_head, 0xFFFF);
	th_req_free(&io1, req);

	/* The same QID twice. */
	sqe = th_connect_sqe(1, TH_IO_DEPTH - 1, 0);
	assert_int_equal(connect_raw(&io2, &sqe, &data, NULL), ST_SEQ_ERROR);
	assert_int_equal(th_connect_io(&io2, 2, cntlid, TH_HOSTNQN), 0);

	/* Properties live on the admin queue only. */
	struct nvme_sqe get = th_property_get_sqe(0x1C, false);
	assert_int_equal(th_exec(&io2, &get, NULL, 0, NULL, 0, NULL), ST_INVALID_OPCODE);

	/* SQHD on a flow-controlled I/O queue advances modulo SQSIZE + 1. */
	struct nvme_sqe flush = th_sqe(nvme_cmd_flush, 1);
	for (unsigned i = 0; i < TH_IO_DEPTH; i++) {
		req = th_submit(&io2, &flush, NULL, 0);
		assert_int_equal(th_status(req), 0);
		/* Three commands came before on this queue (refused Connect, Connect, Property Get). */
		assert_int_equal(req->cqe.sq_head, (i + 4) % TH_IO_DEPTH);
		th_req_free(&io2, req);
	}

	/* Closing the admin queue ends the association: I/O queues are orphaned. */
	assert_false(nvme_sq_orphaned(&io1.sq));
	th_queue_close(&admin);
	assert_true(nvme_sq_orphaned(&io1.sq));
	assert_true(nvme_sq_orphaned(&io2.sq));
	struct th_queue late;
	th_queue_init(&late, env);
	th_connect_data(&data, cntlid, TH_SUBNQN, TH_HOSTNQN);
	sqe = th_connect_sqe(2, TH_IO_DEPTH - 1, 0);
	assert_int_equal(connect_raw(&late, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_DATA(IPO_CNTLID));
	th_queue_close(&late);
	th_queue_close(&io1);
	th_queue_close(&io2);
}

static void test_io_connect_to_discovery_is_refused(void **state)
{
	struct th_queue admin, io;
	th_queue_init(&admin, *state);
	th_queue_init(&io, *state);
	uint16_t cntlid;
	assert_int_equal(th_connect_admin(&admin, NVME_NQN_DISC, TH_HOSTNQN, &cntlid), 0);
	assert_int_equal(th_enable(&admin), 0);
	struct nvme_sqe sqe = th_connect_sqe(1, 31, 0);
	struct nvmf_connect_data data;
	th_connect_data(&data, cntlid, NVME_NQN_DISC, TH_HOSTNQN);
	uint64_t result = 0;
	assert_int_equal(connect_raw(&io, &sqe, &data, &result), ST_CONNECT_INVALID_PARAM);
	assert_int_equal(result, IPO_CMD(IPO_QID));
	th_queue_close(&io);
	th_queue_close(&admin);
}

static void test_psdt_and_fused_bits_are_refused(void **state)
{
	struct th_queue q;
	th_queue_init(&q, *state);
	assert_int_equal(th_bring_up(&q, NULL, NULL), 0);
	struct nvme_sqe sqe = th_identify_sqe(NVME_ID_CNS_CTRL, 0);
	sqe.flags = 0; /* PRP: fabrics carry SGLs only */
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	sqe.flags = 0xC0; /* PSDT 11b is reserved */
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	sqe.flags = 0x41; /* fused first */
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	sqe.flags = 0x40;
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), 0);
	th_queue_close(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_admin_connect_succeeds_with_dynamic_cntlid),
	    cmocka_unit_test(test_admin_connect_refusals),
	    cmocka_unit_test(test_host_allow_list),
	    cmocka_unit_test(test_commands_before_connect_are_sequence_errors),
	    cmocka_unit_test(test_property_handshake),
	    cmocka_unit_test(test_io_connect_rules),
	    cmocka_unit_test(test_io_connect_to_discovery_is_refused),
	    cmocka_unit_test(test_psdt_and_fused_bits_are_refused),
	};
	return cmocka_run_group_tests(tests, setup_open, teardown);
}
