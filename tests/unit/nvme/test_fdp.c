/*
 * Flexible Data Placement as the host sees it: Identify, the FDP logs (20h-23h) and the
 * Endurance Group log (09h), Features 1Dh/1Eh, I/O Management Receive/Send, writes with DTYPE 2
 * and DSPEC, and nvemu's vendor log, against namespace 3 of the harness (TH_FDP_NSID).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "target_harness.h"

#define ST_INVALID_FIELD 0x4002
#define ST_INVALID_NS 0x400B
#define ST_SEQ_ERROR 0x400C
#define ST_FDP_DISABLED 0x4029

#define NSID TH_FDP_NSID
#define RU_BLOCKS (TH_FDP_RU_BYTES / 4096)
/* Two reclaim groups: RGIF is 1 bit, the top one of a PID. */
#define PID(rg, ph) ((uint16_t)((rg) << 15 | (ph)))

static uint16_t le16(const uint8_t *p, size_t at) { return (uint16_t)(p[at] | p[at + 1] << 8); }
static uint32_t le32(const uint8_t *p, size_t at)
{
	return le16(p, at) | (uint32_t)le16(p, at + 2) << 16;
}
static uint64_t le64(const uint8_t *p, size_t at)
{
	return le32(p, at) | (uint64_t)le32(p, at + 4) << 32;
}

struct fixture {
	struct th_env *env;
	struct th_queue admin, io;
	uint8_t buf[65536];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct th_env_params p = {.allow_any_host = true, .fdp_ns = true};
	f->env = th_env_create(&p);
	if (!f->env)
		return -1;
	th_queue_init(&f->admin, f->env);
	th_queue_init(&f->io, f->env);
	if (th_bring_up(&f->admin, &f->io, NULL))
		return -1;
	*state = f;
	return 0;
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

static uint16_t get_log(struct fixture *f, uint8_t lid, uint16_t lsi, uint8_t lsp, uint32_t nsid,
			uint32_t len)
{
	struct nvme_sqe sqe = th_get_log_sqe(lid, nsid, len, 0);
	sqe.get_log_page.lsi = lsi;
	sqe.get_log_page.lsp = lsp;
	return th_exec(&f->admin, &sqe, NULL, 0, f->buf, len, NULL);
}

/* A write of `blocks` 4 KiB blocks at slba, DTYPE dtype with DSPEC pid. */
static uint16_t write_placed(struct fixture *f, uint32_t nsid, uint64_t slba, uint32_t blocks,
			     uint8_t dtype, uint16_t pid)
{
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_write, nsid, slba, blocks, 4096);
	sqe.rw.control |= (uint16_t)(dtype << NVME_RW_CONTROL_DTYPE_SHIFT);
	sqe.rw.dspec = pid;
	memset(f->buf, 0x5A, blocks * 4096);
	return th_exec(&f->io, &sqe, f->buf, blocks * 4096, NULL, 0, NULL);
}

static uint16_t ruh_status(struct fixture *f, uint32_t nsid, uint32_t len)
{
	struct nvme_sqe sqe = th_sqe(nvme_cmd_io_mgmt_recv, nsid);
	sqe.io_mgmt.mo = NVME_IO_MGMT_RECV_RUH_STATUS;
	sqe.io_mgmt.numd = len / 4 - 1;
	th_sgl_transport(&sqe, len);
	return th_exec(&f->io, &sqe, NULL, 0, f->buf, len, NULL);
}

/* RUAMW of placement handle ph in group rg, from a RUH Status (descriptors ph-major). */
static uint64_t ruamw(struct fixture *f, uint32_t ph, uint32_t rg)
{
	assert_int_equal(ruh_status(f, NSID, 16 + 6 * 32), 0);
	const uint8_t *d = f->buf + 16 + (ph * 2 + rg) * 32;
	assert_int_equal(le16(d, 0), PID(rg, ph));
	return le64(d, 8);
}

static uint16_t ruh_update(struct fixture *f, uint32_t nsid, const uint16_t *pids, uint32_t n)
{
	struct nvme_sqe sqe = th_sqe(nvme_cmd_io_mgmt_send, nsid);
	sqe.io_mgmt.mo = NVME_IO_MGMT_SEND_RUH_UPDATE;
	sqe.io_mgmt.mos = (uint16_t)(n - 1);
	th_sgl_transport(&sqe, n * 2);
	return th_exec(&f->io, &sqe, pids, n * 2, NULL, 0, NULL);
}

static uint16_t features(struct fixture *f, bool set, uint8_t fid, uint32_t nsid, uint32_t cdw11,
			 uint32_t cdw12, const void *data, uint32_t len, uint64_t *result)
{
	struct nvme_sqe sqe = th_sqe(set ? nvme_admin_set_features : nvme_admin_get_features, nsid);
	sqe.features.fid = fid;
	sqe.features.dword11 = cdw11;
	sqe.features.dword12[0] = cdw12;
	th_sgl_transport(&sqe, len);
	return th_exec(&f->admin, &sqe, data, set ? len : 0, set ? NULL : f->buf, len, result);
}

static void test_identify(void **state)
{
	struct fixture *f = *state;
	struct nvme_sqe sqe = th_identify_sqe(NVME_ID_CNS_CTRL, 0);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, f->buf, 4096, NULL), 0);
	assert_int_equal(le32(f->buf, 96) & (1u << 19 | 1u << 4),
			 1u << 19 | 1u << 4);   /* FDPS, EGS */
	assert_int_equal(le16(f->buf, 340), 3); /* ENDGIDMAX: one group per namespace */
	sqe = th_identify_sqe(NVME_ID_CNS_NS, NSID);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, f->buf, 4096, NULL), 0);
	assert_int_equal(le16(f->buf, 102), NSID); /* ENDGID */
	sqe = th_identify_sqe(NVME_ID_CNS_NS_CS_INDEP, 1);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, f->buf, 4096, NULL), 0);
	assert_int_equal(le16(f->buf, 12), 1); /* ENDGID */
	assert_int_equal(f->buf[14], 1);       /* NSTAT: ready */
	assert_int_equal(get_log(f, NVME_LOG_CMD_EFFECTS, 0, 0, 0, 4096), 0);
	assert_int_equal(le32(f->buf, 1024 + 4 * 0x12), 1); /* I/O Management Receive: CSUPP */
	assert_int_equal(le32(f->buf, 1024 + 4 * 0x1D), 1); /* I/O Management Send */
}

static void test_configurations_and_usage(void **state)
{
	struct fixture *f = *state;
	/* 16 header + 64 descriptor header + 4 handles x 4 = 96, a multiple of 8 already. */
	assert_int_equal(get_log(f, NVME_LOG_FDP_CONFIGS, NSID, 0, 0, 512), 0);
	assert_int_equal(le16(f->buf, 0), 0);  /* N: one configuration */
	assert_int_equal(le32(f->buf, 4), 96); /* size */
	const uint8_t *d = f->buf + 16;
	assert_int_equal(le16(d, 0), 80);
	assert_int_equal(d[2], 0x80 | 0x10 | 1); /* valid, volatile write cache, RGIF 1 */
	assert_int_equal(le32(d, 4), 2);         /* NRG */
	assert_int_equal(le16(d, 8), 4);         /* NRUH */
	assert_int_equal(le16(d, 10), 3);        /* MAXPIDS, 0's based */
	assert_int_equal(le32(d, 12), 1);        /* NNSS */
	assert_int_equal(le64(d, 16), TH_FDP_RU_BYTES);
	assert_int_equal(le32(d, 24), 0); /* ERUTL: none */
	uint8_t types[] = {2, 2, 1, 1};   /* 2 and 3 initially isolated */
	for (int h = 0; h < 4; h++)
		assert_int_equal(d[64 + 4 * h], types[h]);
	/* The list names handles 3, 1 and 0: handle 2 is unused. */
	assert_int_equal(get_log(f, NVME_LOG_FDP_RUH_USAGE, NSID, 0, 0, 40), 0);
	assert_int_equal(le16(f->buf, 0), 4);
	uint8_t ruha[] = {1, 1, 0, 1};
	for (int h = 0; h < 4; h++)
		assert_int_equal(f->buf[8 + 8 * h], ruha[h]);
	/* A group without FDP, and none at all. */
	assert_int_equal(get_log(f, NVME_LOG_FDP_CONFIGS, 1, 0, 0, 512), ST_INVALID_FIELD);
	assert_int_equal(get_log(f, NVME_LOG_FDP_RUH_USAGE, 1, 0, 0, 40), ST_FDP_DISABLED);
	assert_int_equal(get_log(f, NVME_LOG_FDP_STATS, 0, 0, 0, 64), ST_INVALID_FIELD);
	assert_int_equal(get_log(f, NVME_LOG_FDP_STATS, 4, 0, 0, 64), ST_INVALID_FIELD);
	assert_int_equal(get_log(f, NVME_LOG_ENDURANCE_GROUP, 1, 0, 0, 512), 0);
}

static void test_placed_writes_and_status(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(ruamw(f, 1, 1), RU_BLOCKS);
	/* Placement handle 1 (reclaim unit handle 1) in group 1. */
	assert_int_equal(write_placed(f, NSID, 0, 3, NVME_DIRECTIVE_DATA_PLACEMENT, PID(1, 1)), 0);
	assert_int_equal(ruamw(f, 1, 1), RU_BLOCKS - 3);
	assert_int_equal(le16(f->buf, 14), 6);              /* NRUHSD: 3 handles x 2 groups */
	assert_int_equal(le16(f->buf, 16 + 3 * 32 + 2), 1); /* (ph 1, rg 1) is RUH 1 */
	assert_int_equal(ruamw(f, 1, 0), RU_BLOCKS);
	/* No directive: placement handle 0 (RUH 3) in group 0. */
	assert_int_equal(write_placed(f, NSID, 8, 2, 0, 0), 0);
	assert_int_equal(ruamw(f, 0, 0), RU_BLOCKS - 2);
	/* nvme-cli 2.3 reads NRUHSD x 32 bytes, header included: what fits is sent. */
	assert_int_equal(ruh_status(f, NSID, 6 * 32), 0);
	assert_int_equal(le16(f->buf, 14), 6);

	/* The model counted the pages per handle (vendor log, version 2 on: 3 adds wear). */
	assert_int_equal(get_log(f, NVME_LOG_VENDOR_NVEMU, 0, 0, NSID, 512 + 6 * 64), 0);
	assert_int_equal(le64(f->buf, 0), 3);
	assert_int_equal(le64(f->buf, 64), 4);               /* handle records */
	assert_int_equal(le64(f->buf, 72), 2);               /* group records after them */
	assert_int_equal(le64(f->buf, 512 + 4 * 64 + 8), 2); /* group 0: host pages (ph 0) */
	assert_int_equal(le64(f->buf, 512 + 5 * 64), 1);     /* group 1's id */
	assert_int_equal(le64(f->buf, 512 + 5 * 64 + 8), 3); /* its host pages (ph 1, rg 1) */
	assert_int_equal(le64(f->buf, 512 + 64 + 8), 3);     /* handle 1: host pages */
	assert_int_equal(le64(f->buf, 512 + 3 * 64 + 8), 2);
	assert_int_equal(le64(f->buf, 512 + 3 * 64 + 56), 1000); /* its WAF */

	/* Statistics: host and media bytes. */
	assert_int_equal(get_log(f, NVME_LOG_FDP_STATS, NSID, 0, 0, 64), 0);
	assert_int_equal(le64(f->buf, 0), 5 * 4096);
	assert_int_equal(le64(f->buf, 16), 5 * 4096);
	assert_int_equal(le64(f->buf, 32), 0);
	/* The Endurance Group log counts the same. */
	assert_int_equal(get_log(f, NVME_LOG_ENDURANCE_GROUP, NSID, 0, 0, 512), 0);
	assert_int_equal(le64(f->buf, 64), 1);               /* data units written, rounded up */
	assert_int_equal(le64(f->buf, 80), 1);               /* media units written */
	assert_int_equal(le64(f->buf, 112), 2);              /* host write commands */
	assert_int_equal(le64(f->buf, 160), 3276ull * 4096); /* 4096 flash pages / 1.25 */
}

static void test_update_and_events(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(write_placed(f, NSID, 0, 4, NVME_DIRECTIVE_DATA_PLACEMENT, PID(0, 1)), 0);
	uint16_t pids[] = {PID(0, 1), PID(1, 2)};
	assert_int_equal(ruh_update(f, NSID, pids, 2), 0);
	assert_int_equal(ruamw(f, 1, 0), RU_BLOCKS);
	/* Only the handle that was written in part owes the host an event. */
	assert_int_equal(get_log(f, NVME_LOG_FDP_EVENTS, NSID, 1, 0, 4096), 0);
	assert_int_equal(le32(f->buf, 0), 1);
	const uint8_t *e = f->buf + 64;
	assert_int_equal(e[0], NVME_FDP_EVENT_RUNFW);
	assert_int_equal(e[1], 0x7); /* PID, NSID and location valid */
	assert_int_equal(le16(e, 2), PID(0, 1));
	assert_int_equal(le32(e, 12), NSID);
	assert_int_equal(le16(e, 32), 0);
	assert_int_equal(e[34], 1);
	assert_true(le64(e, 4) > 1600000000000ull); /* a wall-clock time in ms */

	/* An invalid PID: placement handle 3 does not exist. The write goes to handle 0. */
	uint64_t before = ruamw(f, 0, 0);
	assert_int_equal(write_placed(f, NSID, 40, 1, NVME_DIRECTIVE_DATA_PLACEMENT, PID(0, 3)), 0);
	assert_int_equal(ruamw(f, 0, 0), before - 1);
	assert_int_equal(get_log(f, NVME_LOG_FDP_EVENTS, NSID, 1, 0, 4096), 0);
	assert_int_equal(le32(f->buf, 0), 2);
	e = f->buf + 128;
	assert_int_equal(e[0], NVME_FDP_EVENT_PID);
	assert_int_equal(e[1], 0x3);
	assert_int_equal(le16(e, 2), PID(0, 3));
	/* Controller events: none yet. */
	assert_int_equal(get_log(f, NVME_LOG_FDP_EVENTS, NSID, 0, 0, 4096), 0);
	assert_int_equal(le32(f->buf, 0), 0);

	/* Updates are all or nothing; the PIDs must fit the buffer. */
	uint16_t bad[] = {PID(0, 0), PID(0, 3)};
	assert_int_equal(write_placed(f, NSID, 50, 1, NVME_DIRECTIVE_DATA_PLACEMENT, PID(0, 0)), 0);
	assert_int_equal(ruh_update(f, NSID, bad, 2), ST_INVALID_FIELD);
	assert_int_not_equal(ruamw(f, 0, 0), RU_BLOCKS);
	struct nvme_sqe sqe = th_sqe(nvme_cmd_io_mgmt_send, NSID);
	sqe.io_mgmt.mo = NVME_IO_MGMT_SEND_RUH_UPDATE;
	sqe.io_mgmt.mos = 3;
	th_sgl_transport(&sqe, 4);
	assert_int_not_equal(th_exec(&f->io, &sqe, pids, 4, NULL, 0, NULL), 0);
	sqe.io_mgmt.mo = 7;
	assert_int_equal(th_exec(&f->io, &sqe, pids, 4, NULL, 0, NULL), ST_INVALID_FIELD);
}

static void test_features(void **state)
{
	struct fixture *f = *state;
	uint64_t result = 0;
	assert_int_equal(features(f, false, NVME_FEAT_FDP, 0, NSID, 0, NULL, 0, &result), 0);
	assert_int_equal(result & 0xFFFF, 1); /* enabled, configuration 0 */
	assert_int_equal(features(f, false, NVME_FEAT_FDP, 0, 1, 0, NULL, 0, &result), 0);
	assert_int_equal(result & 0xFFFF, 0);
	assert_int_equal(features(f, false, NVME_FEAT_FDP, 0, 9, 0, NULL, 0, NULL),
			 ST_INVALID_FIELD);
	/* Setting what is set works; changing it cannot while the group has a namespace. */
	assert_int_equal(features(f, true, NVME_FEAT_FDP, 0, NSID, 1, NULL, 0, NULL), 0);
	assert_int_equal(features(f, true, NVME_FEAT_FDP, 0, NSID, 0, NULL, 0, NULL), ST_SEQ_ERROR);
	assert_int_equal(features(f, true, NVME_FEAT_FDP, 0, 1, 1, NULL, 0, NULL), ST_SEQ_ERROR);
	assert_int_equal(features(f, true, NVME_FEAT_FDP, 0, NSID, 1 | 1 << 8, NULL, 0, NULL),
			 ST_INVALID_FIELD);

	/* FDP Events of placement handle 0: every type enabled; turn Invalid PID off. */
	assert_int_equal(
	    features(f, false, NVME_FEAT_FDP_EVENTS, NSID, 0 | 6 << 16, 0, NULL, 12, &result), 0);
	assert_int_equal(result & 0xFF, 6);
	assert_int_equal(f->buf[6], NVME_FDP_EVENT_PID);
	assert_int_equal(f->buf[7], 1);
	uint8_t types[255] = {NVME_FDP_EVENT_PID};
	assert_int_equal(
	    features(f, true, NVME_FEAT_FDP_EVENTS, NSID, 0 | 1 << 16, 0, types, 255, NULL), 0);
	assert_int_equal(
	    features(f, false, NVME_FEAT_FDP_EVENTS, NSID, 0 | 6 << 16, 0, NULL, 12, NULL), 0);
	assert_int_equal(f->buf[7], 0);
	assert_int_equal(f->buf[1], 1); /* the others stay on */
	assert_int_equal(write_placed(f, NSID, 60, 1, NVME_DIRECTIVE_DATA_PLACEMENT, PID(1, 5)), 0);
	assert_int_equal(get_log(f, NVME_LOG_FDP_EVENTS, NSID, 1, 0, 4096), 0);
	assert_int_equal(le32(f->buf, 0), 0);
	assert_int_equal(
	    features(f, true, NVME_FEAT_FDP_EVENTS, NSID, 0 | 1 << 16, 1, types, 255, NULL), 0);
	assert_int_equal(write_placed(f, NSID, 60, 1, NVME_DIRECTIVE_DATA_PLACEMENT, PID(1, 5)), 0);
	assert_int_equal(get_log(f, NVME_LOG_FDP_EVENTS, NSID, 1, 0, 4096), 0);
	assert_int_equal(le32(f->buf, 0), 1);

	/* Unknown event type, placement handle out of the list, namespace without FDP. */
	types[0] = 0x42;
	assert_int_equal(
	    features(f, true, NVME_FEAT_FDP_EVENTS, NSID, 1 << 16, 1, types, 255, NULL),
	    ST_INVALID_FIELD);
	assert_int_equal(
	    features(f, true, NVME_FEAT_FDP_EVENTS, NSID, 3 | 1 << 16, 1, types, 255, NULL),
	    ST_INVALID_FIELD);
	assert_int_equal(features(f, true, NVME_FEAT_FDP_EVENTS, 1, 1 << 16, 1, types, 255, NULL),
			 ST_FDP_DISABLED);
	assert_int_equal(features(f, true, NVME_FEAT_FDP_EVENTS, 7, 1 << 16, 1, types, 255, NULL),
			 ST_INVALID_NS);
}

static uint16_t format(struct fixture *f, uint32_t nsid)
{
	struct nvme_sqe sqe = th_sqe(nvme_admin_format_nvm, nsid);
	return th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, NULL);
}

/* Two host events (not fully written, invalid PID) and Invalid PID turned off for handle 0. */
static void make_events(struct fixture *f)
{
	assert_int_equal(write_placed(f, NSID, 0, 4, NVME_DIRECTIVE_DATA_PLACEMENT, PID(0, 1)), 0);
	uint16_t pid = PID(0, 1);
	assert_int_equal(ruh_update(f, NSID, &pid, 1), 0);
	assert_int_equal(write_placed(f, NSID, 40, 1, NVME_DIRECTIVE_DATA_PLACEMENT, PID(0, 3)), 0);
	uint8_t types[255] = {NVME_FDP_EVENT_PID};
	assert_int_equal(
	    features(f, true, NVME_FEAT_FDP_EVENTS, NSID, 0 | 1 << 16, 0, types, 255, NULL), 0);
	assert_int_equal(get_log(f, NVME_LOG_FDP_EVENTS, NSID, 1, 0, 4096), 0);
	assert_int_equal(le32(f->buf, 0), 2);
}

/* Format NVM starts FDP over: the events logs empty, the handles' event settings kept. */
static void test_format_clears_events(void **state)
{
	struct fixture *f = *state;
	make_events(f);
	assert_int_equal(format(f, NSID), 0);
	assert_int_equal(get_log(f, NVME_LOG_FDP_EVENTS, NSID, 1, 0, 4096), 0);
	assert_int_equal(le32(f->buf, 0), 0);
	assert_int_equal(ruamw(f, 1, 0), RU_BLOCKS);
	assert_int_equal(
	    features(f, false, NVME_FEAT_FDP_EVENTS, NSID, 0 | 6 << 16, 0, NULL, 12, NULL), 0);
	assert_int_equal(f->buf[7], 0); /* Invalid PID still off */
	assert_int_equal(write_placed(f, NSID, 40, 1, NVME_DIRECTIVE_DATA_PLACEMENT, PID(0, 3)), 0);
	assert_int_equal(get_log(f, NVME_LOG_FDP_EVENTS, NSID, 1, 0, 4096), 0);
	assert_int_equal(le32(f->buf, 0), 0);
}

/*
 * A drive directory keeps what the host sees of FDP: the events logs and settings, the
 * statistics (host bytes over the drive's life), the room left in each handle's reclaim unit;
 * and Format empties the logs of the reopened drive too.
 */
static void test_kept_by_the_drive(void **state)
{
	(void)state;
	char dir[] = "/tmp/nvemu-fdp-XXXXXX", path[64], cmd[96];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ns3", dir);
	struct th_env_params p = {.allow_any_host = true, .fdp_ns = true, .fdp_path = path};
	uint8_t events[4096], stats[64];
	uint64_t room = 0;
	for (int run = 0; run < 2; run++) {
		struct fixture *f = calloc(1, sizeof(*f));
		assert_non_null(f);
		assert_non_null(f->env = th_env_create(&p));
		th_queue_init(&f->admin, f->env);
		th_queue_init(&f->io, f->env);
		assert_int_equal(th_bring_up(&f->admin, &f->io, NULL), 0);
		if (run == 0) {
			make_events(f);
			memcpy(events, f->buf, sizeof(events));
			assert_int_equal(get_log(f, NVME_LOG_FDP_STATS, NSID, 0, 0, 64), 0);
			memcpy(stats, f->buf, sizeof(stats));
			assert_int_equal(le64(stats, 0), 5 * 4096); /* HBMW */
			room = ruamw(f, 0, 0);
			assert_true(room < RU_BLOCKS);
		} else {
			assert_int_equal(get_log(f, NVME_LOG_FDP_EVENTS, NSID, 1, 0, 4096), 0);
			assert_memory_equal(f->buf, events, sizeof(events));
			assert_int_equal(get_log(f, NVME_LOG_FDP_STATS, NSID, 0, 0, 64), 0);
			assert_memory_equal(f->buf, stats, sizeof(stats));
			assert_int_equal(ruamw(f, 0, 0), room);
			assert_int_equal(features(f, false, NVME_FEAT_FDP_EVENTS, NSID, 0 | 6 << 16,
						  0, NULL, 12, NULL),
					 0);
			assert_int_equal(f->buf[7], 0); /* Invalid PID still off */
			assert_int_equal(format(f, NSID), 0);
			assert_int_equal(get_log(f, NVME_LOG_FDP_EVENTS, NSID, 1, 0, 4096), 0);
			assert_int_equal(le32(f->buf, 0), 0);
		}
		teardown((void **)&f);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_refused_without_fdp(void **state)
{
	struct fixture *f = *state;
	/* Data Placement where FDP is off, and Streams anywhere, are invalid fields (CDW12). */
	assert_int_equal(write_placed(f, 1, 0, 1, NVME_DIRECTIVE_DATA_PLACEMENT, 0),
			 ST_INVALID_FIELD);
	assert_int_equal(th_newest_error_location(&f->admin), 50);
	assert_int_equal(write_placed(f, NSID, 0, 1, NVME_DIRECTIVE_STREAMS, 0), ST_INVALID_FIELD);
	assert_int_equal(ruh_status(f, 1, 64), ST_FDP_DISABLED);
	uint16_t pid = 0;
	assert_int_equal(ruh_update(f, 1, &pid, 1), ST_FDP_DISABLED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_configurations_and_usage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_placed_writes_and_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_and_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_features, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_without_fdp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_format_clears_events, setup, teardown),
	    cmocka_unit_test(test_kept_by_the_drive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
