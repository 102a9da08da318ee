/* NVM I/O commands on a connected I/O queue: data path, checks, SGL rules, SMART counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "target_harness.h"

#define ST_INVALID_OPCODE 0x4001
#define ST_INVALID_FIELD 0x4002
#define ST_INVALID_NS 0x400B
#define ST_SEQ_ERROR 0x400C
#define ST_SGL_INVALID_DATA 0x400F
#define ST_SGL_INVALID_TYPE 0x4011
#define ST_SGL_INVALID_OFFSET 0x4016
#define ST_LBA_RANGE 0x4080
#define ST_COMPARE_FAILED 0x4285

#define NS1_BLOCKS (TH_NS1_BYTES / 4096)
#define NS2_BLOCKS (TH_NS2_BYTES / 512)
#define MDTS_BYTES (4096u << TH_MDTS)

static uint64_t le64(const uint8_t *p, size_t at)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[at + (size_t)i];
	return v;
}

struct fixture {
	struct th_env *env;
	struct th_queue admin, io;
	uint8_t *wbuf, *rbuf;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct th_env_params p = {.allow_any_host = true};
	f->env = th_env_create(&p);
	if (!f->env)
		return -1;
	th_queue_init(&f->admin, f->env);
	th_queue_init(&f->io, f->env);
	if (th_bring_up(&f->admin, &f->io, NULL))
		return -1;
	f->wbuf = malloc(MDTS_BYTES);
	f->rbuf = malloc(MDTS_BYTES);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	th_queue_close(&f->io);
	th_queue_close(&f->admin);
	th_env_destroy(f->env);
	free(f->wbuf);
	free(f->rbuf);
	free(f);
	return 0;
}

static void pattern(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 8)) ^ (seed >> 3));
}

static unsigned lba_bytes(uint32_t nsid) { return nsid == 2 ? 512 : 4096; }

static uint16_t write_blocks(struct fixture *f, uint32_t nsid, uint64_t slba, uint32_t nlb,
			     const void *data, bool incapsule)
{
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_write, nsid, slba, nlb, lba_bytes(nsid));
	if (incapsule)
		th_sgl_incapsule(&sqe, nlb * lba_bytes(nsid));
	return th_exec(&f->io, &sqe, data, nlb * lba_bytes(nsid), NULL, 0, NULL);
}

static uint16_t read_blocks(struct fixture *f, uint32_t nsid, uint64_t slba, uint32_t nlb, void *out)
{
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_read, nsid, slba, nlb, lba_bytes(nsid));
	return th_exec(&f->io, &sqe, NULL, 0, out, nlb * lba_bytes(nsid), NULL);
}

static bool is_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void test_write_read_back(void **state)
{
	struct fixture *f = *state;
	pattern(f->wbuf, MDTS_BYTES, 1);
	/* R2T-style, the largest transfer MDTS allows, at the namespace's last blocks. */
	uint32_t nlb = MDTS_BYTES / 4096;
	assert_int_equal(write_blocks(f, 1, NS1_BLOCKS - nlb, nlb, f->wbuf, false), 0);
	assert_int_equal(read_blocks(f, 1, NS1_BLOCKS - nlb, nlb, f->rbuf), 0);
	assert_memory_equal(f->rbuf, f->wbuf, MDTS_BYTES);
	/* In-capsule, 512-byte blocks. */
	pattern(f->wbuf, 8192, 2);
	assert_int_equal(write_blocks(f, 2, 3, 16, f->wbuf, true), 0);
	assert_int_equal(read_blocks(f, 2, 3, 16, f->rbuf), 0);
	assert_memory_equal(f->rbuf, f->wbuf, 8192);
	/* Neighbours were not touched and never-written blocks read zero. */
	assert_int_equal(read_blocks(f, 2, 2, 1, f->rbuf), 0);
	assert_true(is_zero(f->rbuf, 512));
	assert_int_equal(read_blocks(f, 2, 19, 1, f->rbuf), 0);
	assert_true(is_zero(f->rbuf, 512));
	assert_int_equal(read_blocks(f, 1, 0, 8, f->rbuf), 0);
	assert_true(is_zero(f->rbuf, 8 * 4096));
}

/* Parameters of a target whose namespace 1 is a drive in a new directory dir (a mkdtemp
 * template; path receives the drive's own path). */
static void drive_params(char *dir, char *path, size_t pathlen, struct th_env_params *p)
{
	assert_non_null(mkdtemp(dir));
	snprintf(path, pathlen, "%s/ns1", dir);
	*p = (struct th_env_params){.allow_any_host = true, .ns1_path = path};
}

/* A target with its admin and I/O queues connected, in f; returns it. */
static struct th_env *fixture_up(struct fixture *f, const struct th_env_params *p)
{
	struct th_env *env = th_env_create(p);
	assert_non_null(env);
	*f = (struct fixture){.env = env};
	th_queue_init(&f->admin, env);
	th_queue_init(&f->io, env);
	assert_int_equal(th_bring_up(&f->admin, &f->io, NULL), 0);
	return env;
}

static void remove_tree(const char *dir)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* One in-capsule command through th_submit: its status, and whether its data was passed in place. */
static uint16_t submit_incapsule(struct th_queue *q, const struct nvme_sqe *sqe, const void *data,
				 uint32_t len, bool *in_place)
{
	struct th_req *req = th_submit(q, sqe, data, len);
	assert_int_equal(req->completions, 1);
	uint16_t status = th_status(req);
	*in_place = req->data_in_place;
	th_req_free(q, req);
	return status;
}

/* A Write to a namespace in memory takes its in-capsule data where it arrived (the harness
 * overwrites that once execute returns); every other command gets it in its buffer. */
static void test_incapsule_data_in_place(void **state)
{
	struct fixture *f = *state;
	bool in_place;
	pattern(f->wbuf, 8192, 11);
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_write, 1, 40, 2, 4096);
	th_sgl_incapsule(&sqe, 8192);
	assert_int_equal(submit_incapsule(&f->io, &sqe, f->wbuf, 8192, &in_place), 0);
	assert_true(in_place);
	assert_int_equal(read_blocks(f, 1, 40, 2, f->rbuf), 0);
	assert_memory_equal(f->rbuf, f->wbuf, 8192);
	/* 512-byte blocks, at the in-capsule limit. */
	pattern(f->wbuf, TH_INCAPSULE, 12);
	sqe = th_rw_sqe(nvme_cmd_write, 2, 7, TH_INCAPSULE / 512, 512);
	th_sgl_incapsule(&sqe, TH_INCAPSULE);
	assert_int_equal(submit_incapsule(&f->io, &sqe, f->wbuf, TH_INCAPSULE, &in_place), 0);
	assert_true(in_place);
	assert_int_equal(read_blocks(f, 2, 7, TH_INCAPSULE / 512, f->rbuf), 0);
	assert_memory_equal(f->rbuf, f->wbuf, TH_INCAPSULE);
	/* Compare reads the host's data block by block against the medium: copied. */
	sqe = th_rw_sqe(nvme_cmd_compare, 1, 40, 2, 4096);
	th_sgl_incapsule(&sqe, 8192);
	pattern(f->wbuf, 8192, 11);
	assert_int_equal(submit_incapsule(&f->io, &sqe, f->wbuf, 8192, &in_place), 0);
	assert_false(in_place);
	/* Dataset Management's ranges in the capsule: copied, and they act. */
	struct nvme_dsm_range range = {.nlb = 1, .slba = 41};
	uint8_t page[4096] = {0};
	memcpy(page, &range, sizeof(range));
	sqe = th_sqe(nvme_cmd_dsm, 1);
	sqe.dsm.attributes = NVME_DSM_ATTR_AD;
	th_sgl_incapsule(&sqe, sizeof(page));
	assert_int_equal(submit_incapsule(&f->io, &sqe, page, sizeof(page), &in_place), 0);
	assert_false(in_place);
	assert_int_equal(read_blocks(f, 1, 41, 1, f->rbuf), 0);
	assert_true(is_zero(f->rbuf, 4096));
	/* A refused command never executes. */
	sqe = th_rw_sqe(nvme_cmd_write, 1, NS1_BLOCKS, 1, 4096);
	th_sgl_incapsule(&sqe, 4096);
	assert_int_equal(submit_incapsule(&f->io, &sqe, f->wbuf, 4096, &in_place), ST_LBA_RANGE);
	assert_false(in_place);
}

/* A namespace in a drive directory may answer a write later, from its file: its data is copied. */
static void test_incapsule_data_copied_for_a_drive(void **state)
{
	(void)state;
	char dir[] = "/tmp/nvemu-inplace-XXXXXX", path[64];
	struct th_env_params p;
	drive_params(dir, path, sizeof(path), &p);
	struct fixture f;
	struct th_env *env = fixture_up(&f, &p);
	uint8_t data[8192], back[8192];
	pattern(data, sizeof(data), 13);
	bool in_place;
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_write, 1, 9, 2, 4096);
	th_sgl_incapsule(&sqe, sizeof(data));
	assert_int_equal(submit_incapsule(&f.io, &sqe, data, sizeof(data), &in_place), 0);
	assert_false(in_place);
	assert_int_equal(read_blocks(&f, 1, 9, 2, back), 0);
	assert_memory_equal(back, data, sizeof(data));
	/* Namespace 2 of the same target is in memory: in place. */
	sqe = th_rw_sqe(nvme_cmd_write, 2, 0, 16, 512);
	th_sgl_incapsule(&sqe, sizeof(data));
	assert_int_equal(submit_incapsule(&f.io, &sqe, data, sizeof(data), &in_place), 0);
	assert_true(in_place);
	th_queue_close(&f.io);
	th_queue_close(&f.admin);
	th_env_destroy(env);
	remove_tree(dir);
}

static void test_completion_fields_and_dnr(void **state)
{
	struct fixture *f = *state;
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_read, 1, 0, 1, 4096);
	sqe.command_id = 0xBEEF;
	struct th_req *req = th_submit(&f->io, &sqe, NULL, 0);
	assert_int_equal(req->completions, 1);
	assert_int_equal(req->cqe.status, 0);
	assert_int_equal(req->cqe.command_id, 0xBEEF);
	assert_int_equal(req->cqe.sq_id, 1);
	assert_int_equal(req->c2h_len, 4096);
	th_req_free(&f->io, req);
	/* A deterministic failure: DNR (bit 15 of the status word) and no data. */
	sqe = th_rw_sqe(nvme_cmd_read, 1, NS1_BLOCKS, 1, 4096);
	req = th_submit(&f->io, &sqe, NULL, 0);
	assert_int_equal(req->completions, 1);
	assert_int_equal(req->cqe.status, 0x4080 << 1);
	assert_int_equal(req->cqe.status & 0x8000, 0x8000);
	assert_int_equal(req->c2h_len, 0);
	th_req_free(&f->io, req);
}

static void test_lba_range(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(read_blocks(f, 1, NS1_BLOCKS - 1, 1, f->rbuf), 0);
	assert_int_equal(read_blocks(f, 1, NS1_BLOCKS, 1, f->rbuf), ST_LBA_RANGE);
	assert_int_equal(read_blocks(f, 1, NS1_BLOCKS - 1, 2, f->rbuf), ST_LBA_RANGE);
	assert_int_equal(read_blocks(f, 1, 1ull << 63, 1, f->rbuf), ST_LBA_RANGE);
	assert_int_equal(read_blocks(f, 1, UINT64_MAX, 2, f->rbuf), ST_LBA_RANGE);
	assert_int_equal(read_blocks(f, 2, NS2_BLOCKS, 1, f->rbuf), ST_LBA_RANGE);
	pattern(f->wbuf, 4096, 3);
	assert_int_equal(write_blocks(f, 1, NS1_BLOCKS, 1, f->wbuf, false), ST_LBA_RANGE);
	assert_int_equal(write_blocks(f, 1, NS1_BLOCKS, 1, f->wbuf, true), ST_LBA_RANGE);
}

static void test_bad_nsid_and_opcode(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(read_blocks(f, 0, 0, 1, f->rbuf), ST_INVALID_NS);
	assert_int_equal(read_blocks(f, 3, 0, 1, f->rbuf), ST_INVALID_NS);
	assert_int_equal(read_blocks(f, 0xFFFFFFFF, 0, 1, f->rbuf), ST_INVALID_NS);
	struct nvme_sqe sqe = th_sqe(0x7E, 1);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_OPCODE);
	sqe = th_sqe(nvme_cmd_write_uncor, 1);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_OPCODE);
	/* Admin opcodes mean nothing on an I/O queue. */
	sqe = th_identify_sqe(1, 1);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_OPCODE);
}

static void test_transfer_size_limits(void **state)
{
	struct fixture *f = *state;
	uint32_t max_blocks = MDTS_BYTES / 4096;
	assert_int_equal(read_blocks(f, 1, 0, max_blocks, f->rbuf), 0);
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_read, 1, 0, max_blocks + 1, 4096);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	sqe = th_rw_sqe(nvme_cmd_write, 2, 0, MDTS_BYTES / 512 + 1, 512);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
}

static void test_sgl_rules(void **state)
{
	struct fixture *f = *state;
	pattern(f->wbuf, 8192, 4);
	/* Length disagreeing with NLB. */
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_read, 1, 0, 1, 4096);
	sqe.dptr.length = 8192;
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_SGL_INVALID_DATA);
	sqe.dptr.length = 0;
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_SGL_INVALID_DATA);
	/* In-capsule data shorter than the SGL says. */
	sqe = th_rw_sqe(nvme_cmd_write, 1, 0, 1, 4096);
	th_sgl_incapsule(&sqe, 4096);
	assert_int_equal(th_exec(&f->io, &sqe, f->wbuf, 2048, NULL, 0, NULL), ST_SGL_INVALID_DATA);
	/* In-capsule at a non-zero offset (ICDOFF is 0). */
	sqe.dptr.addr = 16;
	assert_int_equal(th_exec(&f->io, &sqe, f->wbuf, 4096, NULL, 0, NULL), ST_SGL_INVALID_OFFSET);
	/* In-capsule descriptor on a read: data can only come from the host. */
	sqe = th_rw_sqe(nvme_cmd_read, 1, 0, 1, 4096);
	th_sgl_incapsule(&sqe, 4096);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	/* Descriptor types other than 01h and 5Ah. */
	static const uint8_t bad_types[] = {0x00, 0x02, 0x20, 0x30, 0x40, 0x5B, 0x60, 0xF0};
	for (size_t i = 0; i < sizeof(bad_types); i++) {
		sqe = th_rw_sqe(nvme_cmd_read, 1, 0, 1, 4096);
		sqe.dptr.type = bad_types[i];
		assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_SGL_INVALID_TYPE);
	}
	/* PRPs (PSDT 00b) are not for fabrics. */
	sqe = th_rw_sqe(nvme_cmd_read, 1, 0, 1, 4096);
	sqe.flags = 0;
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	/* No-data commands must not claim data. */
	sqe = th_sqe(nvme_cmd_flush, 1);
	th_sgl_transport(&sqe, 4096);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_SGL_INVALID_DATA);
	/* None of the refused writes reached the medium. */
	assert_int_equal(read_blocks(f, 1, 0, 1, f->rbuf), 0);
	assert_true(is_zero(f->rbuf, 4096));
}

static uint16_t dsm(struct fixture *f, uint32_t nsid, const struct nvme_dsm_range *ranges,
		    unsigned nr, bool deallocate, uint32_t send_len)
{
	uint8_t page[4096];
	memset(page, 0, sizeof(page));
	memcpy(page, ranges, nr * sizeof(*ranges));
	struct nvme_sqe sqe = th_sqe(nvme_cmd_dsm, nsid);
	sqe.dsm.nr = (uint8_t)(nr - 1);
	sqe.dsm.attributes = deallocate ? NVME_DSM_ATTR_AD : 0;
	th_sgl_transport(&sqe, send_len);
	return th_exec(&f->io, &sqe, page, send_len, NULL, 0, NULL);
}

static uint64_t nuse(struct fixture *f, uint32_t nsid)
{
	uint8_t id[4096];
	struct nvme_sqe sqe = th_identify_sqe(0, nsid);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, id, sizeof(id), NULL), 0);
	return le64(id, 16);
}

static void test_dsm_deallocate_reads_back_zero(void **state)
{
	struct fixture *f = *state;
	pattern(f->wbuf, 32 * 4096, 5);
	assert_int_equal(write_blocks(f, 1, 100, 32, f->wbuf, false), 0);
	assert_int_equal(nuse(f, 1), 32);
	/* Range NLB is 1's based: blocks 104..111 and 120..121. */
	struct nvme_dsm_range ranges[2] = {{.cattr = 0, .nlb = 8, .slba = 104},
					   {.cattr = 0, .nlb = 2, .slba = 120}};
	assert_int_equal(dsm(f, 1, ranges, 2, true, 4096), 0);
	assert_int_equal(read_blocks(f, 1, 100, 32, f->rbuf), 0);
	for (unsigned b = 0; b < 32; b++) {
		bool gone = (b >= 4 && b < 12) || (b >= 20 && b < 22);
		if (gone)
			assert_true(is_zero(f->rbuf + b * 4096, 4096));
		else
			assert_memory_equal(f->rbuf + b * 4096, f->wbuf + b * 4096, 4096);
	}
	assert_int_equal(nuse(f, 1), 32 - 10);
	/* Without AD the data stays. */
	struct nvme_dsm_range first = {.nlb = 4, .slba = 100};
	assert_int_equal(dsm(f, 1, &first, 1, false, 4096), 0);
	assert_int_equal(read_blocks(f, 1, 100, 4, f->rbuf), 0);
	assert_memory_equal(f->rbuf, f->wbuf, 4 * 4096);
	/* Any range out of bounds fails the whole command and changes nothing. */
	struct nvme_dsm_range bad[2] = {{.nlb = 1, .slba = 100}, {.nlb = 2, .slba = NS1_BLOCKS - 1}};
	assert_int_equal(dsm(f, 1, bad, 2, true, 4096), ST_LBA_RANGE);
	assert_int_equal(read_blocks(f, 1, 100, 1, f->rbuf), 0);
	assert_memory_equal(f->rbuf, f->wbuf, 4096);
	/* The buffer must hold NR ranges. */
	assert_int_equal(dsm(f, 1, ranges, 2, true, 16), ST_SGL_INVALID_DATA);
	assert_int_equal(dsm(f, 1, ranges, 2, true, 32), 0);
}

static void test_write_zeroes(void **state)
{
	struct fixture *f = *state;
	pattern(f->wbuf, 8 * 4096, 6);
	assert_int_equal(write_blocks(f, 1, 10, 8, f->wbuf, false), 0);
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_write_zeroes, 1, 12, 3, 4096);
	th_sgl_transport(&sqe, 0);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), 0);
	assert_int_equal(read_blocks(f, 1, 10, 8, f->rbuf), 0);
	assert_memory_equal(f->rbuf, f->wbuf, 2 * 4096);
	assert_true(is_zero(f->rbuf + 2 * 4096, 3 * 4096));
	assert_memory_equal(f->rbuf + 5 * 4096, f->wbuf + 5 * 4096, 3 * 4096);
	sqe = th_rw_sqe(nvme_cmd_write_zeroes, 1, NS1_BLOCKS - 2, 3, 4096);
	th_sgl_transport(&sqe, 0);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_LBA_RANGE);
}

/*
 * 512-byte blocks 7 and 8 sit on both sides of a 4 KiB page boundary.  Pages
 * are written out of order (1, 0, 5) so that an overrun of page 0 would not
 * land, by luck, on page 1.
 */
static void test_write_zeroes_across_a_page_boundary_512(void **state)
{
	struct fixture *f = *state;
	pattern(f->wbuf, 48 * 512, 7);
	assert_int_equal(write_blocks(f, 2, 8, 8, f->wbuf + 8 * 512, false), 0);
	assert_int_equal(write_blocks(f, 2, 0, 8, f->wbuf, false), 0);
	assert_int_equal(write_blocks(f, 2, 40, 8, f->wbuf + 40 * 512, false), 0);
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_write_zeroes, 2, 7, 2, 512);
	th_sgl_transport(&sqe, 0);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), 0);
	assert_int_equal(read_blocks(f, 2, 0, 16, f->rbuf), 0);
	assert_memory_equal(f->rbuf, f->wbuf, 7 * 512);
	assert_true(is_zero(f->rbuf + 7 * 512, 2 * 512));
	assert_memory_equal(f->rbuf + 9 * 512, f->wbuf + 9 * 512, 7 * 512);
	assert_int_equal(read_blocks(f, 2, 40, 8, f->rbuf), 0);
	assert_memory_equal(f->rbuf, f->wbuf + 40 * 512, 8 * 512);
}

static void test_compare(void **state)
{
	struct fixture *f = *state;
	pattern(f->wbuf, 4 * 4096, 8);
	assert_int_equal(write_blocks(f, 1, 50, 4, f->wbuf, false), 0);
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_compare, 1, 50, 4, 4096);
	assert_int_equal(th_exec(&f->io, &sqe, f->wbuf, 4 * 4096, NULL, 0, NULL), 0);
	/* One differing byte in the last block. */
	f->wbuf[4 * 4096 - 1] ^= 1;
	struct th_req *req = th_submit(&f->io, &sqe, f->wbuf, 4 * 4096);
	assert_int_equal(th_status(req), ST_COMPARE_FAILED); /* SCT 2h (media), SC 85h, DNR */
	assert_int_equal(req->cqe.status, 0x850A);
	th_req_free(&f->io, req);
	/* 512-byte blocks, in-capsule. */
	pattern(f->wbuf, 8 * 512, 9);
	assert_int_equal(write_blocks(f, 2, 5, 8, f->wbuf, false), 0);
	sqe = th_rw_sqe(nvme_cmd_compare, 2, 5, 8, 512);
	th_sgl_incapsule(&sqe, 8 * 512);
	assert_int_equal(th_exec(&f->io, &sqe, f->wbuf, 8 * 512, NULL, 0, NULL), 0);
	f->wbuf[0] ^= 0x80;
	assert_int_equal(th_exec(&f->io, &sqe, f->wbuf, 8 * 512, NULL, 0, NULL), ST_COMPARE_FAILED);
	/* Never-written blocks compare equal to zeroes. */
	memset(f->wbuf, 0, 4096);
	sqe = th_rw_sqe(nvme_cmd_compare, 1, 3000, 1, 4096);
	assert_int_equal(th_exec(&f->io, &sqe, f->wbuf, 4096, NULL, 0, NULL), 0);
}

static void test_flush_and_verify(void **state)
{
	struct fixture *f = *state;
	struct nvme_sqe sqe = th_sqe(nvme_cmd_flush, 1);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), 0);
	sqe = th_sqe(nvme_cmd_flush, 0xFFFFFFFF);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), 0);
	sqe = th_sqe(nvme_cmd_flush, 3);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_NS);
	sqe = th_rw_sqe(nvme_cmd_verify, 1, 0, 64, 4096);
	th_sgl_transport(&sqe, 0);
	struct th_req *req = th_submit(&f->io, &sqe, NULL, 0);
	assert_int_equal(th_status(req), 0);
	assert_int_equal(req->c2h_len, 0); /* Verify moves no data */
	th_req_free(&f->io, req);
	sqe = th_rw_sqe(nvme_cmd_verify, 2, NS2_BLOCKS - 1, 2, 512);
	th_sgl_transport(&sqe, 0);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_LBA_RANGE);
}

static void smart(struct fixture *f, uint32_t nsid, uint8_t log[512])
{
	struct nvme_sqe sqe = th_get_log_sqe(2, nsid, 512, 0);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, log, 512, NULL), 0);
}

static void test_smart_counters_move(void **state)
{
	struct fixture *f = *state;
	uint8_t log[512];
	smart(f, 0xFFFFFFFF, log);
	assert_true((log[1] | log[2] << 8) > 273); /* Kelvin, above freezing */
	assert_int_equal(le64(log, 32), 0);  /* data units read */
	assert_int_equal(le64(log, 48), 0);  /* data units written */
	assert_int_equal(le64(log, 64), 0);  /* host reads */
	assert_int_equal(le64(log, 80), 0);  /* host writes */

	/* 5 x 128 KiB written = 655360 bytes = 1280 units of 512 bytes = 2 (thousands, rounded up). */
	pattern(f->wbuf, MDTS_BYTES, 10);
	for (int i = 0; i < 5; i++)
		assert_int_equal(write_blocks(f, 1, (uint64_t)i * 32, 32, f->wbuf, false), 0);
	/* 3 reads of 512 bytes on namespace 2: 1536 bytes, 1 unit. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(read_blocks(f, 2, 0, 1, f->rbuf), 0);
	/* A failed read is not host activity. */
	assert_int_equal(read_blocks(f, 2, NS2_BLOCKS, 1, f->rbuf), ST_LBA_RANGE);

	smart(f, 0xFFFFFFFF, log);
	assert_int_equal(le64(log, 32), 1);
	assert_int_equal(le64(log, 48), 2);
	assert_int_equal(le64(log, 64), 3);
	assert_int_equal(le64(log, 80), 5);
	assert_int_equal(le64(log, 176), 1); /* error log entries: the failed read */
	smart(f, 1, log);
	assert_int_equal(le64(log, 64), 0);
	assert_int_equal(le64(log, 80), 5);
	smart(f, 2, log);
	assert_int_equal(le64(log, 64), 3);
	assert_int_equal(le64(log, 80), 0);

	/* The error log names the failed read's queue and LBA. */
	uint8_t err[64];
	struct nvme_sqe sqe = th_get_log_sqe(1, 0, 64, 0);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, err, sizeof(err), NULL), 0);
	assert_int_equal(err[8] | err[9] << 8, 1);	/* SQID */
	assert_int_equal(le64(err, 16), NS2_BLOCKS); /* LBA */
	assert_int_equal(err[24], 2);		/* NSID */

	sqe = th_get_log_sqe(2, 9, 512, 0);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_NS);
}

/* Each reactor counts its own commands in its own shard; SMART sums the shards. */
static void test_each_reactor_counts_in_its_own_shard(void **state)
{
	(void)state;
	struct th_env_params p = {.allow_any_host = true, .nreactors = 2};
	struct th_env *env = th_env_create(&p);
	assert_non_null(env);
	struct reactor *second = reactor_create(1, false);
	assert_non_null(second);
	struct fixture f = {.env = env, .wbuf = calloc(1, 4096), .rbuf = calloc(1, 4096)};
	struct th_queue other; /* I/O queue 2, on reactor 1 */
	uint16_t cntlid = 0;
	th_queue_init(&f.admin, env);
	th_queue_init(&f.io, env);
	th_queue_init(&other, env);
	other.sq.reactor = second;
	assert_int_equal(th_bring_up(&f.admin, &f.io, &cntlid), 0);
	assert_int_equal(th_connect_io(&other, 2, cntlid, TH_HOSTNQN), 0);

	for (int i = 0; i < 3; i++)
		assert_int_equal(write_blocks(&f, 1, (uint64_t)i, 1, f.wbuf, false), 0);
	for (int i = 0; i < 2; i++) {
		struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_write, 1, (uint64_t)i, 1, 4096);
		assert_int_equal(th_exec(&other, &sqe, f.wbuf, 4096, NULL, 0, NULL), 0);
	}
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_read, 1, 0, 1, 4096);
	assert_int_equal(th_exec(&other, &sqe, NULL, 0, f.rbuf, 4096, NULL), 0);

	const struct nvme_ns_recorder *rec = nvme_subsys_ns_recorder(env->subsys, 1);
	assert_non_null(rec);
	assert_int_equal(rec->nshards, 2);
	assert_int_equal(rec->shards[0].write_cmds, 3);
	assert_int_equal(rec->shards[0].read_cmds, 0);
	assert_int_equal(rec->shards[1].write_cmds, 2);
	assert_int_equal(rec->shards[1].write_bytes, 2 * 4096);
	assert_int_equal(rec->shards[1].read_cmds, 1);
	assert_int_equal(rec->shards[1].received, 3);
	assert_int_equal(rec->shards[1].answered, 3);
	struct nvme_io_totals totals;
	nvme_ns_recorder_totals(rec, &totals);
	assert_int_equal(totals.write_cmds, 5);
	assert_int_equal(totals.read_cmds, 1);
	assert_int_equal(totals.write_bytes, 5 * 4096);
	assert_int_equal(totals.received, totals.answered);
	uint8_t log[512];
	smart(&f, 1, log);
	assert_int_equal(le64(log, 64), 1); /* host reads */
	assert_int_equal(le64(log, 80), 5); /* host writes */

	th_queue_close(&other);
	th_queue_close(&f.io);
	th_queue_close(&f.admin);
	th_env_destroy(env);
	reactor_destroy(second);
	free(f.wbuf);
	free(f.rbuf);
}

static void test_error_log_names_the_field(void **state)
{
	struct fixture *f = *state;
	/* LBA Out of Range blames SLBA (CDW10, byte 40), whether the start or the end is out. */
	assert_int_equal(read_blocks(f, 1, NS1_BLOCKS, 1, f->rbuf), ST_LBA_RANGE);
	assert_int_equal(th_newest_error_location(&f->admin), 40);
	assert_int_equal(write_blocks(f, 1, NS1_BLOCKS - 1, 2, f->wbuf, false), ST_LBA_RANGE);
	assert_int_equal(th_newest_error_location(&f->admin), 40);
	/* More than MDTS blames NLB (CDW12, byte 48). */
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_read, 1, 0, MDTS_BYTES / 4096 + 1, 4096);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	assert_int_equal(th_newest_error_location(&f->admin), 48);
	/* A namespace that does not exist (NSID, byte 4), an unknown opcode (byte 0). */
	sqe = th_rw_sqe(nvme_cmd_read, 9, 0, 1, 4096);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_NS);
	assert_int_equal(th_newest_error_location(&f->admin), 4);
	sqe = th_rw_sqe(0x7E, 1, 0, 1, 4096);
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_OPCODE);
	assert_int_equal(th_newest_error_location(&f->admin), 0);
	/* SGL: an unknown descriptor type (byte 39), in-capsule data at an offset (byte 24). */
	sqe = th_rw_sqe(nvme_cmd_read, 1, 0, 1, 4096);
	sqe.dptr.type = 0x30;
	assert_int_equal(th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL), ST_SGL_INVALID_TYPE);
	assert_int_equal(th_newest_error_location(&f->admin), 39);
	sqe = th_rw_sqe(nvme_cmd_write, 1, 0, 1, 4096);
	th_sgl_incapsule(&sqe, 4096);
	sqe.dptr.addr = 512;
	uint16_t status = th_exec(&f->io, &sqe, f->wbuf, 4096, NULL, 0, NULL);
	assert_int_equal(status, ST_SGL_INVALID_OFFSET);
	assert_int_equal(th_newest_error_location(&f->admin), 24);
	/* A DSM range out of the namespace is in the data, not the SQE: no field, FFFFh. */
	struct nvme_dsm_range range = {.slba = NS1_BLOCKS, .nlb = 1};
	assert_int_equal(dsm(f, 1, &range, 1, true, 4096), ST_LBA_RANGE);
	assert_int_equal(th_newest_error_location(&f->admin), 0xFFFF);
}

static uint64_t error_log_count(struct th_queue *admin, uint8_t *entries, uint32_t bytes)
{
	struct nvme_sqe sqe = th_get_log_sqe(NVME_LOG_ERROR, 0, bytes, 0);
	assert_int_equal(th_exec(admin, &sqe, NULL, 0, entries, bytes, NULL), 0);
	uint8_t smart[512];
	sqe = th_get_log_sqe(NVME_LOG_SMART, 0xFFFFFFFF, sizeof(smart), 0);
	assert_int_equal(th_exec(admin, &sqe, NULL, 0, smart, sizeof(smart), NULL), 0);
	return le64(smart, 176); /* Number of Error Information Log Entries */
}

/* A drive directory keeps the errors of its namespace's commands for the next run's
 * controllers; errors of no kept namespace are the controller's alone. */
static void test_error_log_kept_by_the_drive(void **state)
{
	(void)state;
	char dir[] = "/tmp/nvemu-errlog-XXXXXX", path[64];
	struct th_env_params p;
	drive_params(dir, path, sizeof(path), &p);
	uint8_t entries[4 * 64], buf[4096];
	for (int run = 0; run < 2; run++) {
		struct fixture f;
		struct th_env *env = fixture_up(&f, &p);
		if (run == 0) {
			assert_int_equal(error_log_count(&f.admin, entries, sizeof(entries)), 0);
			assert_int_equal(read_blocks(&f, 1, NS1_BLOCKS, 1, buf), ST_LBA_RANGE);
			assert_int_equal(read_blocks(&f, 2, NS2_BLOCKS, 1, buf), ST_LBA_RANGE);
			assert_int_equal(read_blocks(&f, 1, NS1_BLOCKS + 5, 1, buf), ST_LBA_RANGE);
			assert_int_equal(error_log_count(&f.admin, entries, sizeof(entries)), 3);
		} else {
			/* Namespace 1's two errors, newest first, numbered 1 and 2. */
			assert_int_equal(error_log_count(&f.admin, entries, sizeof(entries)), 2);
			assert_int_equal(le64(entries, 0), 2);
			assert_int_equal(le64(entries, 16), NS1_BLOCKS + 5);
			assert_int_equal(entries[24], 1);
			assert_int_equal(le64(entries, 64), 1);
			assert_int_equal(le64(entries, 64 + 16), NS1_BLOCKS);
			assert_int_equal(le64(entries, 128), 0); /* no third */
			assert_int_equal(read_blocks(&f, 1, NS1_BLOCKS + 7, 1, buf), ST_LBA_RANGE);
			assert_int_equal(error_log_count(&f.admin, entries, sizeof(entries)), 3);
			assert_int_equal(le64(entries, 0), 3);
		}
		th_queue_close(&f.io);
		th_queue_close(&f.admin);
		th_env_destroy(env);
	}
	remove_tree(dir);
}

static void test_io_queue_needs_connect(void **state)
{
	struct fixture *f = *state;
	struct th_queue q;
	th_queue_init(&q, f->env);
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_read, 1, 0, 1, 4096);
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_SEQ_ERROR);
	th_queue_close(&q);
}

static uint16_t admin_cmd(struct fixture *f, uint8_t opcode, uint32_t nsid, uint32_t cdw10,
			  uint32_t cdw11, uint64_t *result)
{
	struct nvme_sqe sqe = th_sqe(opcode, nsid);
	sqe.cdw10 = cdw10;
	sqe.cdw11 = cdw11;
	return th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, result);
}

/* Format NVM erases the namespace it names, with the one LBA format and no protection info. */
static void test_format_nvm(void **state)
{
	struct fixture *f = *state;
	pattern(f->wbuf, 8 * 4096, 3);
	assert_int_equal(write_blocks(f, 1, 100, 8, f->wbuf, false), 0);
	pattern(f->wbuf, 8 * 512, 4);
	assert_int_equal(write_blocks(f, 2, 100, 8, f->wbuf, false), 0);
	assert_int_equal(admin_cmd(f, nvme_admin_format_nvm, 1, 1, 0, NULL), 0x410A); /* LBAF 1 */
	assert_int_equal(admin_cmd(f, nvme_admin_format_nvm, 1, 1u << 5, 0, NULL), 0x410A); /* PI */
	assert_int_equal(admin_cmd(f, nvme_admin_format_nvm, 1, 3u << 9, 0, NULL), ST_INVALID_FIELD);
	assert_int_equal(admin_cmd(f, nvme_admin_format_nvm, 9, 0, 0, NULL), ST_INVALID_NS);
	assert_int_equal(read_blocks(f, 1, 100, 8, f->rbuf), 0);
	assert_false(is_zero(f->rbuf, 8 * 4096));
	assert_int_equal(admin_cmd(f, nvme_admin_format_nvm, 1, 1u << 9, 0, NULL), 0); /* SES 1 */
	assert_int_equal(read_blocks(f, 1, 100, 8, f->rbuf), 0);
	assert_true(is_zero(f->rbuf, 8 * 4096));
	assert_int_equal(read_blocks(f, 2, 100, 8, f->rbuf), 0); /* the other one kept its data */
	assert_memory_equal(f->rbuf, f->wbuf, 8 * 512);
	assert_int_equal(admin_cmd(f, nvme_admin_format_nvm, 0xFFFFFFFF, 0, 0, NULL), 0);
	assert_int_equal(read_blocks(f, 2, 100, 8, f->rbuf), 0);
	assert_true(is_zero(f->rbuf, 8 * 512));
}

/* The volatile write cache (Set Features 06h) is the namespaces' setting. */
static void test_write_cache_feature(void **state)
{
	struct fixture *f = *state;
	uint64_t result = 7;
	assert_int_equal(admin_cmd(f, nvme_admin_get_features, 0, 0x06, 0, &result), 0);
	assert_int_equal(result, 1);
	assert_int_equal(admin_cmd(f, nvme_admin_set_features, 0, 0x06, 0, NULL), 0);
	assert_int_equal(admin_cmd(f, nvme_admin_get_features, 0, 0x06, 0, &result), 0);
	assert_int_equal(result, 0);
	/* Writes go on, each durable when done. */
	pattern(f->wbuf, 4096, 5);
	assert_int_equal(write_blocks(f, 1, 7, 1, f->wbuf, true), 0);
	assert_int_equal(read_blocks(f, 1, 7, 1, f->rbuf), 0);
	assert_memory_equal(f->rbuf, f->wbuf, 4096);
	assert_int_equal(admin_cmd(f, nvme_admin_set_features, 0, 0x06, 1, NULL), 0);
	assert_int_equal(admin_cmd(f, nvme_admin_get_features, 0, 0x06, 0, &result), 0);
	assert_int_equal(result, 1);
	/* Default (SEL 1) is on. */
	assert_int_equal(admin_cmd(f, nvme_admin_get_features, 0, 0x06 | 1u << 8, 0, &result), 0);
	assert_int_equal(result, 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_write_read_back),
	    T(test_incapsule_data_in_place),
	    cmocka_unit_test(test_incapsule_data_copied_for_a_drive),
	    T(test_completion_fields_and_dnr),
	    T(test_lba_range),
	    T(test_bad_nsid_and_opcode),
	    T(test_transfer_size_limits),
	    T(test_sgl_rules),
	    T(test_dsm_deallocate_reads_back_zero),
	    T(test_write_zeroes),
	    T(test_write_zeroes_across_a_page_boundary_512),
	    T(test_compare),
	    T(test_flush_and_verify),
	    T(test_smart_counters_move),
	    T(test_io_queue_needs_connect),
	    T(test_error_log_names_the_field),
	    cmocka_unit_test(test_error_log_kept_by_the_drive),
	    cmocka_unit_test(test_each_reactor_counts_in_its_own_shard),
	    T(test_format_nvm),
	    T(test_write_cache_feature),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
