/* Admin commands: Identify, features, log pages (discovery included) and held AERs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "target_harness.h"

#define ST_INVALID_OPCODE 0x4001
#define ST_INVALID_FIELD 0x4002
#define ST_INVALID_NS 0x400B
#define ST_SEQ_ERROR 0x400C
#define ST_ASYNC_LIMIT 0x4105
#define ST_INVALID_LOG_PAGE 0x4109

/* Little-endian field readers by specification byte offset, independent of the structs. */
static uint16_t le16(const uint8_t *p, size_t at) { return (uint16_t)(p[at] | p[at + 1] << 8); }
static uint32_t le32(const uint8_t *p, size_t at) { return le16(p, at) | (uint32_t)le16(p, at + 2) << 16; }
static uint64_t le64(const uint8_t *p, size_t at) { return le32(p, at) | (uint64_t)le32(p, at + 4) << 32; }

struct fixture {
	struct th_env *env;
	struct th_queue admin;
	uint16_t cntlid;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct th_env_params p = {.allow_any_host = true};
	f->env = th_env_create(&p);
	if (!f->env)
		return -1;
	th_queue_init(&f->admin, f->env);
	if (th_bring_up(&f->admin, NULL, &f->cntlid))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	th_queue_close(&f->admin);
	th_env_destroy(f->env);
	free(f);
	return 0;
}

static uint16_t identify(struct fixture *f, uint8_t cns, uint32_t nsid, uint32_t cdw11, uint8_t *out)
{
	struct nvme_sqe sqe = th_identify_sqe(cns, nsid);
	sqe.cdw11 = cdw11;
	return th_exec(&f->admin, &sqe, NULL, 0, out, 4096, NULL);
}

static void test_identify_controller(void **state)
{
	struct fixture *f = *state;
	uint8_t id[4096];
	assert_int_equal(identify(f, 1, 0, 0, id), 0);
	assert_memory_equal(id + 4, "HARNESS01           ", 20);  /* SN, space-padded */
	assert_memory_equal(id + 24, "harness ", 8);		   /* MN */
	assert_int_equal(id[76] & 0x2, 0x2);			   /* CMIC multi-controller */
	assert_int_equal(id[76] & 0x8, 0);			   /* no ANA */
	assert_int_equal(id[77], TH_MDTS);
	assert_int_equal(le16(id, 78), f->cntlid);		   /* Linux checks */
	assert_int_equal(le32(id, 80), 0x00020000);		   /* VER = VS */
	assert_int_equal(le32(id, 96) & 1, 1);			   /* CTRATT 128-bit host ID */
	assert_int_equal(id[111], 1);				   /* CNTRLTYPE I/O */
	assert_int_equal(id[261] & 0x6, 0x6);			   /* LPA effects + extended */
	assert_int_not_equal(le16(id, 320), 0);			   /* KAS */
	assert_int_equal(id[512], 0x66);
	assert_int_equal(id[513], 0x44);
	assert_true(le16(id, 514) >= TH_IO_DEPTH);		   /* MAXCMD */
	assert_int_equal(le32(id, 516), 2);			   /* NN */
	assert_int_equal(le16(id, 520) & 0x40, 0);		   /* ONCS: no timestamp */
	assert_int_equal(le16(id, 520) & 0x0D, 0x0D);		   /* compare, DSM, write zeroes */
	assert_int_equal(id[525] & 1, 1);			   /* VWC */
	assert_int_not_equal(le32(id, 536) & 0x3, 0);		   /* SGLS */
	assert_true(le32(id, 536) & (1u << 20));		   /* SGL offsets */
	assert_string_equal((const char *)id + 768, TH_SUBNQN);
	assert_int_equal(le32(id, 1792), (64 + TH_INCAPSULE) / 16); /* IOCCSZ */
	assert_int_equal(le32(id, 1796), 1);			   /* IORCSZ */
	assert_int_equal(le16(id, 1800), 0);			   /* ICDOFF: Linux checks */
	assert_int_equal(id[1803], 1);				   /* MSDBD */
	/* Fields with side effects on Linux stay clear. */
	assert_int_equal(le32(id, 92) & 0x200, 0);		   /* OAES firmware activation */
	assert_int_equal(le16(id, 128), 0);			   /* CRDT1 */
	assert_int_equal(le16(id, 256), 1u << 1);		   /* OACS: Format NVM only */
	assert_int_equal(id[265], 0);				   /* APSTA */
	assert_int_equal(le16(id, 522), 0);			   /* FUSES */
}

static void test_identify_namespace(void **state)
{
	struct fixture *f = *state;
	uint8_t id[4096];
	assert_int_equal(identify(f, 0, 1, 0, id), 0);
	assert_int_equal(le64(id, 0), TH_NS1_BYTES / 4096); /* NSZE */
	assert_int_equal(le64(id, 8), TH_NS1_BYTES / 4096); /* NCAP: 0 hides it */
	assert_int_equal(id[26] & 0xF, 0);		    /* FLBAS */
	assert_int_equal(le16(id, 128), 0);		    /* LBAF0 MS */
	assert_int_equal(id[130], 12);			    /* LBAF0 LBADS */
	assert_int_equal(id[30] & 1, 1);		    /* NMIC shared */
	uint8_t nguid1[16];
	memcpy(nguid1, id + 104, 16);
	assert_int_equal(identify(f, 0, 2, 0, id), 0);
	assert_int_equal(le64(id, 0), TH_NS2_BYTES / 512);
	assert_int_equal(id[130], 9);
	assert_memory_not_equal(id + 104, nguid1, 16);
	/* Unknown NSIDs. */
	assert_int_equal(identify(f, 0, 3, 0, id), ST_INVALID_NS);
	assert_int_equal(identify(f, 0, 0, 0, id), ST_INVALID_NS);
}

static void test_identify_active_namespace_list(void **state)
{
	struct fixture *f = *state;
	uint8_t list[4096];
	assert_int_equal(identify(f, 2, 0, 0, list), 0);
	assert_int_equal(le32(list, 0), 1);
	assert_int_equal(le32(list, 4), 2);
	for (size_t i = 8; i < 4096; i++)
		assert_int_equal(list[i], 0);
	assert_int_equal(identify(f, 2, 1, 0, list), 0);
	assert_int_equal(le32(list, 0), 2);
	assert_int_equal(le32(list, 4), 0);
	assert_int_equal(identify(f, 2, 2, 0, list), 0);
	assert_int_equal(le32(list, 0), 0);
	assert_int_equal(identify(f, 2, 0xFFFFFFFE, 0, list), ST_INVALID_NS);
	assert_int_equal(identify(f, 2, 0xFFFFFFFF, 0, list), ST_INVALID_NS);
}

static void test_identify_descriptors_carry_csi(void **state)
{
	struct fixture *f = *state;
	uint8_t desc[4096], id[4096];
	assert_int_equal(identify(f, 3, 1, 0, desc), 0);
	assert_int_equal(identify(f, 0, 1, 0, id), 0);
	bool seen_nguid = false, seen_uuid = false, seen_csi = false;
	size_t at = 0;
	while (at + 4 <= sizeof(desc) && desc[at] != 0) {
		uint8_t type = desc[at], len = desc[at + 1];
		assert_int_equal(le16(desc, at + 2), 0);
		switch (type) {
		case 2:
			assert_int_equal(len, 16);
			/* The same NGUID as Identify Namespace, or Linux drops the namespace. */
			assert_memory_equal(desc + at + 4, id + 104, 16);
			seen_nguid = true;
			break;
		case 3:
			assert_int_equal(len, 16);
			seen_uuid = true;
			break;
		case 4:
			assert_int_equal(len, 1);
			assert_int_equal(desc[at + 4], 0); /* NVM */
			seen_csi = true;
			break;
		default:
			fail_msg("unexpected descriptor type %u", type);
		}
		at += 4 + len;
	}
	assert_true(seen_nguid && seen_uuid && seen_csi);
	for (; at < sizeof(desc); at++)
		assert_int_equal(desc[at], 0);
	assert_int_equal(identify(f, 3, 9, 0, desc), ST_INVALID_NS);
}

static void test_identify_command_set_structures(void **state)
{
	struct fixture *f = *state;
	uint8_t out[4096];
	assert_int_equal(identify(f, 6, 0, 0u << 24, out), 0); /* CSI 0: NVM */
	assert_int_equal(identify(f, 6, 0, 2u << 24, out), 0); /* CSI 2: Zoned Namespace */
	assert_int_equal(identify(f, 6, 0, 1u << 24, out), 0x402C); /* CSI 1: Key Value */
	/* Namespace 1 is NVM: its Zoned Namespace structure does not exist. */
	assert_int_equal(identify(f, 5, 1, 2u << 24, out), 0x402C);
	assert_int_equal(identify(f, 5, 1, 0u << 24, out), 0);
	assert_int_equal(identify(f, 0x1C, 0, 0, out), 0);
	assert_int_equal(le64(out, 0) & 1, 1); /* NVM command set in vector 0 */
	assert_int_equal(identify(f, 0x55, 0, 0, out), ST_INVALID_FIELD);
	/* Identify moves exactly 4096 bytes. */
	struct nvme_sqe sqe = th_identify_sqe(1, 0);
	sqe.dptr.length = 2048;
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, NULL), 0x400F);
}

static uint16_t features(struct fixture *f, uint8_t opcode, uint32_t cdw10, uint32_t cdw11,
			 uint64_t *result)
{
	struct nvme_sqe sqe = th_sqe(opcode, 0);
	sqe.cdw10 = cdw10;
	sqe.cdw11 = cdw11;
	return th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, result);
}

static void test_set_features_number_of_queues(void **state)
{
	struct fixture *f = *state;
	uint64_t result;
	/* Already granted TH_MAX_IO_QUEUES by the fixture; a second ask keeps the grant. */
	assert_int_equal(features(f, nvme_admin_get_features, 7, 0, &result), 0);
	assert_int_equal(result, (TH_MAX_IO_QUEUES - 1) * 0x10001u);
	assert_int_equal(th_set_num_queues(&f->admin, 0, 0, &result), 0);
	assert_int_equal(result, (TH_MAX_IO_QUEUES - 1) * 0x10001u);
	assert_int_equal(th_set_num_queues(&f->admin, 0xFFFF, 0, &result), ST_INVALID_FIELD);

	/* A fresh controller asking for more than the maximum gets the maximum. */
	struct th_queue q;
	th_queue_init(&q, f->env);
	assert_int_equal(th_connect_admin(&q, TH_SUBNQN, TH_HOSTNQN, NULL), 0);
	assert_int_equal(th_enable(&q), 0);
	assert_int_equal(th_set_num_queues(&q, 100, 200, &result), 0);
	assert_int_equal(result, (TH_MAX_IO_QUEUES - 1) * 0x10001u);
	th_queue_close(&q);
	/* Fewer than the maximum: min(NSQR, NCQR) + 1. */
	th_queue_init(&q, f->env);
	assert_int_equal(th_connect_admin(&q, TH_SUBNQN, TH_HOSTNQN, NULL), 0);
	assert_int_equal(th_enable(&q), 0);
	assert_int_equal(th_set_num_queues(&q, 2, 1, &result), 0);
	assert_int_equal(result, 0x00010001);
	th_queue_close(&q);
}

static void test_other_features(void **state)
{
	struct fixture *f = *state;
	uint64_t result;
	assert_int_equal(features(f, nvme_admin_set_features, 0x0B, 0x900, NULL), 0);
	assert_int_equal(features(f, nvme_admin_get_features, 0x0B, 0, &result), 0);
	assert_int_equal(result, 0x900);
	assert_int_equal(features(f, nvme_admin_set_features, 0x0F, 15000, NULL), 0);
	assert_int_equal(features(f, nvme_admin_get_features, 0x0F, 0, &result), 0);
	assert_int_equal(result, 15000);
	assert_int_equal(features(f, nvme_admin_set_features, 0x0F, 0, NULL), 0);
	assert_int_equal(features(f, nvme_admin_set_features, 0x81, 0, NULL), ST_SEQ_ERROR);
	assert_int_equal(features(f, nvme_admin_set_features, 0x42, 0, NULL), ST_INVALID_FIELD);
	assert_int_equal(features(f, nvme_admin_get_features, 0x42, 0, NULL), ST_INVALID_FIELD);

	/* Host ID: 16 bytes, and only with EXHID. */
	struct nvme_sqe sqe = th_sqe(nvme_admin_get_features, 0);
	sqe.cdw10 = 0x81;
	sqe.cdw11 = 1;
	th_sgl_transport(&sqe, 16);
	uint8_t hostid[16];
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, hostid, 16, NULL), 0);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(hostid[i], 0xA0 + i);
	sqe.cdw11 = 0;
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	/* Its capabilities (SEL 011b) in Dword 0, and the 16 bytes parsing promised (fuzz_command
	 * found a success that sent none: the harness copies them from the data pointer). */
	sqe.cdw10 = 0x81 | 3u << 8;
	sqe.cdw11 = 1;
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, hostid, 16, &result), 0);
	assert_int_equal(result, 1u << 2);
	/* Admin opcode the controller lacks. */
	sqe = th_sqe(nvme_admin_ns_mgmt, 0);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_OPCODE);
	/* Keep Alive and Abort succeed; Abort says "not aborted". */
	sqe = th_sqe(nvme_admin_keep_alive, 0);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, NULL), 0);
	sqe = th_sqe(nvme_admin_abort_cmd, 0);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, &result), 0);
	assert_int_equal(result & 1, 1);
}

static uint16_t get_log(struct th_queue *q, uint8_t lid, uint32_t nsid, uint32_t len,
			uint64_t offset, uint8_t *out)
{
	struct nvme_sqe sqe = th_get_log_sqe(lid, nsid, len, offset);
	return th_exec(q, &sqe, NULL, 0, out, len, NULL);
}

static void test_error_log_records_failures_newest_first(void **state)
{
	struct fixture *f = *state;
	uint8_t log[4096];
	assert_int_equal(get_log(&f->admin, 1, 0, 4096, 0, log), 0);
	uint64_t before = le64(log, 0);

	struct nvme_sqe bad = th_identify_sqe(0, 77); /* unknown NSID */
	bad.command_id = 0x0BAD;
	assert_int_equal(th_exec(&f->admin, &bad, NULL, 0, NULL, 0, NULL), ST_INVALID_NS);
	struct nvme_sqe bad2 = th_sqe(0x55, 0);
	bad2.command_id = 0x0BAE;
	assert_int_equal(th_exec(&f->admin, &bad2, NULL, 0, NULL, 0, NULL), ST_INVALID_OPCODE);

	assert_int_equal(get_log(&f->admin, 1, 0, 4096, 0, log), 0);
	assert_int_equal(le64(log, 0), before + 2);
	assert_int_equal(le16(log, 8), 0);	    /* SQID */
	assert_int_equal(le16(log, 10), 0x0BAE);    /* CID */
	assert_int_equal(le16(log, 12), ST_INVALID_OPCODE << 1);
	assert_int_equal(le64(log, 64), before + 1);
	assert_int_equal(le16(log, 64 + 10), 0x0BAD);
	assert_int_equal(le16(log, 64 + 12), ST_INVALID_NS << 1);
	assert_int_equal(le32(log, 64 + 24), 77);    /* NSID */
	assert_int_equal(log[64 + 29], 3);	    /* TRTYPE TCP */

	/* Reading 64 bytes at offset 64 gives the second-newest entry. */
	assert_int_equal(get_log(&f->admin, 1, 0, 64, 64, log), 0);
	assert_int_equal(le16(log, 10), 0x0BAD);
	/* Unaligned or past-the-end offsets, unknown pages. */
	assert_int_equal(get_log(&f->admin, 1, 0, 64, 2, log), ST_INVALID_FIELD);
	assert_int_equal(get_log(&f->admin, 1, 0, 64, 4096, log), ST_INVALID_FIELD);
	assert_int_equal(get_log(&f->admin, 0x33, 0, 64, 0, log), ST_INVALID_LOG_PAGE);
	/* The length in NUMD must match the SGL. */
	struct nvme_sqe sqe = th_get_log_sqe(2, 0xFFFFFFFF, 512, 0);
	sqe.dptr.length = 4096;
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, NULL), 0x400F);
}

static void test_error_log_names_the_field(void **state)
{
	struct fixture *f = *state;
	uint8_t out[4096];
	/* Identify: unknown CNS (CDW10 byte 40), a namespace that does not exist (NSID, byte 4),
	 * a command set the namespace does not have (CSI, CDW11 bits 31:24, byte 47). */
	assert_int_equal(identify(f, 0x42, 0, 0, out), ST_INVALID_FIELD);
	assert_int_equal(th_newest_error_location(&f->admin), 40);
	assert_int_equal(identify(f, 0, 77, 0, out), ST_INVALID_NS);
	assert_int_equal(th_newest_error_location(&f->admin), 4);
	assert_int_equal(identify(f, 5, 1, 2u << 24, out), 0x402C);
	assert_int_equal(th_newest_error_location(&f->admin), 47);
	/* Get Log Page: an unknown page (LID, byte 40), an offset not on a dword (LPO, byte 48). */
	assert_int_equal(get_log(&f->admin, 0x33, 0, 64, 0, out), ST_INVALID_LOG_PAGE);
	assert_int_equal(th_newest_error_location(&f->admin), 40);
	assert_int_equal(get_log(&f->admin, 1, 0, 64, 2, out), ST_INVALID_FIELD);
	assert_int_equal(th_newest_error_location(&f->admin), 48);
	/* Features: an unknown feature (FID, byte 40), a bad value (CDW11, byte 44). */
	assert_int_equal(features(f, nvme_admin_set_features, 0x7E, 0, NULL), ST_INVALID_FIELD);
	assert_int_equal(th_newest_error_location(&f->admin), 40);
	uint8_t set = nvme_admin_set_features;
	assert_int_equal(features(f, set, NVME_FEAT_NUM_QUEUES, 0xFFFFFFFF, NULL), ST_INVALID_FIELD);
	assert_int_equal(th_newest_error_location(&f->admin), 44);
	/* An unknown opcode (byte 0); an SGL length that is not NUMD's (DPTR length, byte 32). */
	struct nvme_sqe sqe = th_sqe(0x55, 0);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_OPCODE);
	assert_int_equal(th_newest_error_location(&f->admin), 0);
	sqe = th_get_log_sqe(2, 0xFFFFFFFF, 512, 0);
	sqe.dptr.length = 4096;
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, NULL), 0x400F);
	assert_int_equal(th_newest_error_location(&f->admin), 32);
	/* A property that does not exist (OFST, byte 44). */
	sqe = th_property_get_sqe(0x40, false);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	assert_int_equal(th_newest_error_location(&f->admin), 44);
	/* PRPs: fabrics carry SGLs only (PSDT, byte 1). */
	sqe = th_sqe(nvme_admin_keep_alive, 0);
	th_sgl_transport(&sqe, 0);
	sqe.flags = 0;
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	assert_int_equal(th_newest_error_location(&f->admin), 1);
}

static void test_effects_log(void **state)
{
	struct fixture *f = *state;
	uint8_t log[4096];
	assert_int_equal(get_log(&f->admin, 5, 0, 4096, 0, log), 0);
	static const uint8_t admin_ops[] = {0x02, 0x06, 0x09, 0x0A, 0x0C, 0x18};
	for (size_t i = 0; i < sizeof(admin_ops); i++)
		assert_int_equal(le32(log, 4u * admin_ops[i]) & 1, 1);
	assert_int_equal(le32(log, 4u * 0x0D), 0); /* no namespace management */
	static const uint8_t io_ops[] = {0x00, 0x01, 0x02, 0x05, 0x08, 0x09, 0x0C};
	for (size_t i = 0; i < sizeof(io_ops); i++)
		assert_int_equal(le32(log, 1024 + 4u * io_ops[i]) & 1, 1);
	/* Writes change logical block content (LBCC), reads do not. */
	assert_int_equal(le32(log, 1024 + 4u * 0x01) & 2, 2);
	assert_int_equal(le32(log, 1024 + 4u * 0x02) & 2, 0);
	assert_int_equal(le32(log, 1024 + 4u * 0x7D), 0); /* no zone append on NVM */
}

static void test_firmware_and_changed_ns_logs(void **state)
{
	struct fixture *f = *state;
	uint8_t log[4096];
	assert_int_equal(get_log(&f->admin, 3, 0, 512, 0, log), 0);
	assert_int_equal(log[0] & 7, 1); /* AFI: slot 1 active */
	assert_memory_equal(log + 8, "0.1.0   ", 8);
	memset(log, 0xAA, sizeof(log));
	assert_int_equal(get_log(&f->admin, 4, 0xFFFFFFFF, 4096, 0, log), 0);
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(log[i], 0);
}

static void test_aer_is_held_until_the_queue_closes(void **state)
{
	struct fixture *f = *state;
	struct th_queue q;
	th_queue_init(&q, f->env);
	assert_int_equal(th_bring_up(&q, NULL, NULL), 0);
	uint8_t id[4096];
	struct nvme_sqe idsqe = th_identify_sqe(1, 0);
	assert_int_equal(th_exec(&q, &idsqe, NULL, 0, id, sizeof(id), NULL), 0);
	unsigned aerl = id[259] + 1u; /* AERL is 0's based */

	struct th_req *held[8];
	for (unsigned i = 0; i < aerl; i++) {
		struct nvme_sqe sqe = th_sqe(nvme_admin_async_event, 0);
		held[i] = th_submit(&q, &sqe, NULL, 0);
		assert_int_equal(held[i]->completions, 0);
	}
	/* Other commands still complete while AERs are held. */
	struct nvme_sqe ka = th_sqe(nvme_admin_keep_alive, 0);
	assert_int_equal(th_exec(&q, &ka, NULL, 0, NULL, 0, NULL), 0);
	/* One more than AERL + 1: Asynchronous Event Request Limit Exceeded. */
	struct nvme_sqe sqe = th_sqe(nvme_admin_async_event, 0);
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_ASYNC_LIMIT);
	for (unsigned i = 0; i < aerl; i++)
		assert_int_equal(held[i]->completions, 0);
	/* Closing cancels them without completions. */
	th_queue_close(&q);
	for (unsigned i = 0; i < aerl; i++) {
		assert_int_equal(held[i]->completions, 0);
		th_req_free(&q, held[i]);
	}
}

/* ---- discovery ---- */

static void test_discovery_controller(void **state)
{
	struct fixture *f = *state;
	struct th_queue q;
	th_queue_init(&q, f->env);
	uint16_t cntlid;
	assert_int_equal(th_connect_admin(&q, NVME_NQN_DISC, TH_HOSTNQN, &cntlid), 0);
	assert_int_equal(th_enable(&q), 0);
	uint8_t id[4096];
	struct nvme_sqe sqe = th_identify_sqe(1, 0);
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, id, sizeof(id), NULL), 0);
	assert_int_equal(id[111], 2); /* CNTRLTYPE discovery */
	assert_string_equal((const char *)id + 768, NVME_NQN_DISC);
	assert_int_equal(le16(id, 78), cntlid);
	assert_int_equal(id[261] & 0x2, 0); /* LPA: no effects log, or Linux asks for it */
	assert_int_not_equal(le32(id, 536) & 3, 0);
	assert_int_equal(le16(id, 1800), 0);
	/* Only Identify Controller and the discovery log. */
	sqe = th_identify_sqe(0, 1);
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	uint8_t log[512];
	assert_int_equal(get_log(&q, 2, 0xFFFFFFFF, 512, 0, log), ST_INVALID_LOG_PAGE);

	/* Header: GENCTR, NUMREC = two subsystems + this discovery controller, RECFMT 0. */
	size_t total = 1024 + 3 * 1024;
	uint8_t *whole = malloc(total + 4096);
	memset(whole, 0xAA, total + 4096);
	assert_int_equal(get_log(&q, 0x70, 0, (uint32_t)total + 4096, 0, whole), 0);
	uint64_t genctr = le64(whole, 0);
	assert_int_equal(le64(whole, 8), 3);
	assert_int_equal(le16(whole, 16), 0);
	const char *nqns[3] = {TH_SUBNQN, TH_SUBNQN2, NVME_NQN_DISC};
	const uint8_t subtypes[3] = {2, 2, 3};
	for (size_t i = 0; i < 3; i++) {
		const uint8_t *e = whole + 1024 + i * 1024;
		assert_int_equal(e[0], 3);		  /* TRTYPE TCP */
		assert_int_equal(e[1], 1);		  /* ADRFAM IPv4 */
		assert_int_equal(e[2], subtypes[i]);
		assert_int_equal(e[3] & 3, 0);		  /* TREQ: no TLS */
		assert_int_equal(le16(e, 6), 0xFFFF);	  /* CNTLID dynamic */
		assert_int_equal(le16(e, 8), 32);	  /* ASQSZ */
		assert_memory_equal(e + 32, "4420", 4);
		assert_true(e[36] == ' ' || e[36] == 0);
		assert_string_equal((const char *)e + 256, nqns[i]);
		assert_memory_equal(e + 512, "127.0.0.1", 9);
		assert_true(e[521] == ' ' || e[521] == 0);
		assert_int_equal(e[768], 0);		  /* SECTYPE none */
	}
	/* Past the last record: zeroes, however far the host reads. */
	for (size_t i = total; i < total + 4096; i++)
		assert_int_equal(whole[i], 0);

	/* libnvme's way: the header with RAE, then chunks by LPO; same bytes, same GENCTR. */
	uint8_t hdr[1024];
	sqe = th_get_log_sqe(0x70, 0, sizeof(hdr), 0);
	sqe.cdw10 |= 1u << 15;
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, hdr, sizeof(hdr), NULL), 0);
	assert_memory_equal(hdr, whole, sizeof(hdr));
	for (size_t at = 0; at < total + 1024; at += 1536) {
		uint8_t chunk[1536];
		assert_int_equal(get_log(&q, 0x70, 0, sizeof(chunk), at, chunk), 0);
		size_t n = total + 4096 - at < sizeof(chunk) ? total + 4096 - at : sizeof(chunk);
		assert_memory_equal(chunk, whole + at, n);
	}
	assert_int_equal(get_log(&q, 0x70, 0, 1024, 0, hdr), 0);
	assert_int_equal(le64(hdr, 0), genctr);
	/* Far past the end is zero-filled, not an error. */
	assert_int_equal(get_log(&q, 0x70, 0, 1024, 1ull << 20, hdr), 0);
	for (size_t i = 0; i < sizeof(hdr); i++)
		assert_int_equal(hdr[i], 0);
	free(whole);
	th_queue_close(&q);
}

static void test_discovery_hides_subsystems_from_unknown_hosts(void **state)
{
	(void)state;
	struct th_env_params p = {.allow_any_host = false, .allowed_host = "nqn.2024-01.io.nvemu:allowed"};
	struct th_env *env = th_env_create(&p);
	struct th_queue q;
	th_queue_init(&q, env);
	assert_int_equal(th_connect_admin(&q, NVME_NQN_DISC, TH_HOSTNQN, NULL), 0);
	assert_int_equal(th_enable(&q), 0);
	uint8_t log[2048];
	assert_int_equal(get_log(&q, 0x70, 0, sizeof(log), 0, log), 0);
	assert_int_equal(le64(log, 8), 1);
	assert_int_equal(log[1024 + 2], 3);
	th_queue_close(&q);
	th_env_destroy(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identify_controller, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_identify_namespace, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_identify_active_namespace_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_identify_descriptors_carry_csi, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_identify_command_set_structures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_features_number_of_queues, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_features, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_log_records_failures_newest_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_log_names_the_field, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_effects_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_firmware_and_changed_ns_logs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_aer_is_held_until_the_queue_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discovery_controller, setup, teardown),
	    cmocka_unit_test(test_discovery_hides_subsystems_from_unknown_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
