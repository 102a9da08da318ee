/*
 * The zone state machine (ns/zone_state.c): every transition of ZNS 1.1
 * section 2.1.1, every ZNS error status, resource limits with implicit
 * close, Select All, reports with every filter, ZRWA, zone descriptor
 * extensions, wear-out with the Changed Zone List, and appends and resets
 * racing from several threads.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ns/zone_state.h"
#include "spec/nvme.h"
#include "util/util.h"

#define DNR NVME_STATUS_DNR
#define ZSZE 64
#define ZCAP 48
#define NZONES 16

struct calls {
	unsigned erases, finishes, commits, discards;
	uint64_t last_written, last_from, last_to;
};

static void on_erase(void *ctx, uint64_t zone, uint64_t written, uint64_t now, uint64_t *done)
{
	(void)zone;
	struct calls *c = ctx;
	c->erases++;
	c->last_written = written;
	*done = now + 100;
}

static void on_finish(void *ctx, uint64_t zone, uint64_t wp, uint64_t now, uint64_t *done)
{
	(void)zone, (void)wp, (void)now, (void)done;
	((struct calls *)ctx)->finishes++;
}

static void on_commit(void *ctx, uint64_t zone, uint64_t from, uint64_t to, uint64_t now,
		      uint64_t *done)
{
	(void)zone, (void)now, (void)done;
	struct calls *c = ctx;
	c->commits++;
	c->last_from = from;
	c->last_to = to;
}

static void on_discard(void *ctx, uint64_t zone)
{
	(void)zone;
	((struct calls *)ctx)->discards++;
}

struct fixture {
	struct zones *z;
	struct calls calls;
	struct zone_hooks hooks;
};

static struct zone_config base_config(void)
{
	return (struct zone_config){.nzones = NZONES, .zone_size = ZSZE, .zone_cap = ZCAP,
				    .max_open = 3, .max_active = 4, .zrwa_size = 8, .zrwa_fg = 4,
				    .zrwa_resources = 1, .zde_bytes = 64};
}

static struct fixture *fixture_with(const struct zone_config *cfg)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	f->z = zones_create(cfg, err, sizeof(err));
	assert_non_null(f->z);
	f->hooks = (struct zone_hooks){.ctx = &f->calls, .erase = on_erase, .finish = on_finish,
				       .commit = on_commit, .discard = on_discard};
	return f;
}

static int setup(void **state)
{
	struct zone_config cfg = base_config();
	*state = fixture_with(&cfg);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	zones_destroy(f->z);
	free(f);
	return 0;
}

static uint64_t zslba(uint64_t zone) { return zone * ZSZE; }

static uint16_t write_at(struct fixture *f, uint64_t slba, uint32_t nlb)
{
	struct zone_write w = {.slba = slba, .nlb = nlb};
	uint16_t status = zones_write_begin(f->z, &w);
	if (!status)
		zones_write_end(f->z, &w);
	return status;
}

static uint16_t append(struct fixture *f, uint64_t zone, uint32_t nlb, uint64_t *alba)
{
	struct zone_write w = {.slba = zslba(zone), .nlb = nlb, .append = true};
	uint16_t status = zones_write_begin(f->z, &w);
	if (!status) {
		zones_write_end(f->z, &w);
		if (alba)
			*alba = w.slba;
	}
	return status;
}

static uint16_t send(struct fixture *f, uint8_t action, uint64_t slba, bool all)
{
	struct zone_send cmd = {.slba = slba, .action = action, .select_all = all, .now_ns = 1000};
	return zones_send(f->z, &cmd, &f->hooks);
}

static uint8_t state_of(struct fixture *f, uint64_t zone)
{
	struct zone_info info;
	zones_get(f->z, zone, &info);
	return info.state;
}

static uint64_t wp_of(struct fixture *f, uint64_t zone)
{
	struct zone_info info;
	zones_get(f->z, zone, &info);
	return info.wp;
}

static void assert_counts(struct fixture *f, uint32_t open, uint32_t active)
{
	uint32_t o, a, r;
	zones_counts(f->z, &o, &a, &r);
	assert_int_equal(o, open);
	assert_int_equal(a, active);
}

/* Makes a zone Read Only the way wear does, without a reset limit. */
static void make_read_only(struct fixture *f, uint64_t zone)
{
	zones_fail(f->z, zone);
	assert_int_equal(state_of(f, zone), NVME_ZS_READ_ONLY);
}

static void test_create_rejects_bad_geometry(void **state)
{
	(void)state;
	char err[256];
	struct zone_config c = base_config();
	c.zone_size = 48;
	assert_null(zones_create(&c, err, sizeof(err)));
	c = base_config();
	c.zone_cap = ZSZE + 1;
	assert_null(zones_create(&c, err, sizeof(err)));
	c = base_config();
	c.nr_conv = NZONES;
	assert_null(zones_create(&c, err, sizeof(err)));
	c = base_config();
	c.zrwa_size = 6; /* not a multiple of the flush granularity */
	assert_null(zones_create(&c, err, sizeof(err)));
	c = base_config();
	c.zde_bytes = 65;
	assert_null(zones_create(&c, err, sizeof(err)));
}

static void test_write_opens_implicitly_and_fills(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(state_of(f, 1), NVME_ZS_EMPTY);
	assert_int_equal(write_at(f, zslba(1), 8), 0);
	assert_int_equal(state_of(f, 1), NVME_ZS_IMP_OPEN);
	assert_int_equal(wp_of(f, 1), 8);
	assert_counts(f, 1, 1);
	/* Empty -> Implicitly Open -> Full when the write pointer reaches ZCAP. */
	assert_int_equal(write_at(f, zslba(1) + 8, ZCAP - 8), 0);
	assert_int_equal(state_of(f, 1), NVME_ZS_FULL);
	assert_counts(f, 0, 0);
}

static void test_write_errors(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(write_at(f, zslba(2) + 1, 1), NVME_SC_ZONE_INVALID_WRITE | DNR);
	assert_int_equal(write_at(f, zslba(2), ZCAP + 1), NVME_SC_ZONE_BOUNDARY_ERROR | DNR);
	assert_int_equal(state_of(f, 2), NVME_ZS_EMPTY); /* a refused write opens nothing */
	assert_int_equal(write_at(f, zslba(2), ZCAP), 0);
	assert_int_equal(write_at(f, zslba(2) + ZCAP, 1), NVME_SC_ZONE_FULL | DNR);
	make_read_only(f, 3);
	assert_int_equal(write_at(f, zslba(3), 1), NVME_SC_ZONE_READ_ONLY | DNR);
	assert_int_equal(send(f, NVME_ZONE_OFFLINE, zslba(3), false), 0);
	assert_int_equal(write_at(f, zslba(3), 1), NVME_SC_ZONE_OFFLINE | DNR);
	assert_int_equal(zones_check_read(f->z, zslba(3), 1), NVME_SC_ZONE_OFFLINE | DNR);
	/* Reads may not cross a zone boundary unless cross-zone reads are on. */
	assert_int_equal(zones_check_read(f->z, zslba(1) + ZSZE - 1, 2),
			 NVME_SC_ZONE_BOUNDARY_ERROR | DNR);
	assert_int_equal(zones_check_read(f->z, zslba(1), ZSZE), 0);
}

static void test_append_returns_lba(void **state)
{
	struct fixture *f = *state;
	uint64_t a1, a2;
	assert_int_equal(append(f, 4, 3, &a1), 0);
	assert_int_equal(append(f, 4, 2, &a2), 0);
	assert_int_equal(a1, zslba(4));
	assert_int_equal(a2, zslba(4) + 3);
	struct zone_write w = {.slba = zslba(4) + 1, .nlb = 1, .append = true};
	assert_int_equal(zones_write_begin(f->z, &w), NVME_SC_INVALID_FIELD | DNR);
	assert_int_equal(append(f, 4, ZCAP, NULL), NVME_SC_ZONE_BOUNDARY_ERROR | DNR);
}

static void test_open_close(void **state)
{
	struct fixture *f = *state;
	/* Empty -> Explicitly Open -> (close, nothing written) -> Empty */
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(1), false), 0);
	assert_int_equal(state_of(f, 1), NVME_ZS_EXP_OPEN);
	assert_counts(f, 1, 1);
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(1), false), 0); /* already open */
	assert_int_equal(send(f, NVME_ZONE_CLOSE, zslba(1), false), 0);
	assert_int_equal(state_of(f, 1), NVME_ZS_EMPTY);
	assert_counts(f, 0, 0);
	assert_int_equal(send(f, NVME_ZONE_CLOSE, zslba(1), false),
			 NVME_SC_ZONE_INVALID_TRANSITION | DNR);
	/* Explicitly Open (written) -> Closed -> Explicitly Open */
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(1), false), 0);
	assert_int_equal(write_at(f, zslba(1), 4), 0);
	assert_int_equal(state_of(f, 1), NVME_ZS_EXP_OPEN); /* a write keeps it explicit */
	assert_int_equal(send(f, NVME_ZONE_CLOSE, zslba(1), false), 0);
	assert_int_equal(state_of(f, 1), NVME_ZS_CLOSED);
	assert_counts(f, 0, 1);
	assert_int_equal(send(f, NVME_ZONE_CLOSE, zslba(1), false), 0); /* already closed */
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(1), false), 0);
	assert_int_equal(state_of(f, 1), NVME_ZS_EXP_OPEN);
	/* Closed -> Implicitly Open by a write; Implicitly Open -> Explicitly Open */
	assert_int_equal(write_at(f, zslba(2), 1), 0);
	assert_int_equal(send(f, NVME_ZONE_CLOSE, zslba(2), false), 0);
	assert_int_equal(write_at(f, zslba(2) + 1, 1), 0);
	assert_int_equal(state_of(f, 2), NVME_ZS_IMP_OPEN);
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(2), false), 0);
	assert_int_equal(state_of(f, 2), NVME_ZS_EXP_OPEN);
	/* Full cannot be opened or closed. */
	assert_int_equal(send(f, NVME_ZONE_FINISH, zslba(3), false), 0);
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(3), false), NVME_SC_ZONE_INVALID_TRANSITION | DNR);
	assert_int_equal(send(f, NVME_ZONE_CLOSE, zslba(3), false), NVME_SC_ZONE_INVALID_TRANSITION | DNR);
}

static void test_finish_and_reset(void **state)
{
	struct fixture *f = *state;
	/* Finish from Empty, Implicitly Open, Explicitly Open and Closed. */
	assert_int_equal(send(f, NVME_ZONE_FINISH, zslba(1), false), 0);
	assert_int_equal(write_at(f, zslba(2), 2), 0);
	assert_int_equal(send(f, NVME_ZONE_FINISH, zslba(2), false), 0);
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(3), false), 0);
	assert_int_equal(send(f, NVME_ZONE_FINISH, zslba(3), false), 0);
	assert_int_equal(write_at(f, zslba(4), 2), 0);
	assert_int_equal(send(f, NVME_ZONE_CLOSE, zslba(4), false), 0);
	assert_int_equal(send(f, NVME_ZONE_FINISH, zslba(4), false), 0);
	for (uint64_t i = 1; i <= 4; i++) {
		assert_int_equal(state_of(f, i), NVME_ZS_FULL);
		assert_int_equal(wp_of(f, i), ZCAP);
	}
	assert_int_equal(f->calls.finishes, 4);
	assert_counts(f, 0, 0);
	assert_int_equal(send(f, NVME_ZONE_FINISH, zslba(4), false), 0); /* already full */
	assert_int_equal(f->calls.finishes, 4);
	/* Reset from Full, Implicitly Open, Explicitly Open, Closed; Empty is a no-op. */
	assert_int_equal(send(f, NVME_ZONE_RESET, zslba(1), false), 0);
	assert_int_equal(f->calls.last_written, ZCAP);
	assert_int_equal(write_at(f, zslba(5), 5), 0);
	assert_int_equal(send(f, NVME_ZONE_RESET, zslba(5), false), 0);
	assert_int_equal(f->calls.last_written, 5);
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(6), false), 0);
	assert_int_equal(send(f, NVME_ZONE_RESET, zslba(6), false), 0);
	assert_int_equal(write_at(f, zslba(7), 1), 0);
	assert_int_equal(send(f, NVME_ZONE_CLOSE, zslba(7), false), 0);
	assert_int_equal(send(f, NVME_ZONE_RESET, zslba(7), false), 0);
	unsigned erases = f->calls.erases;
	assert_int_equal(send(f, NVME_ZONE_RESET, zslba(8), false), 0);
	assert_int_equal(f->calls.erases, erases); /* nothing to erase */
	for (uint64_t i = 5; i <= 8; i++) {
		assert_int_equal(state_of(f, i), NVME_ZS_EMPTY);
		assert_int_equal(wp_of(f, i), 0);
	}
	assert_counts(f, 0, 0);
}

static void test_read_only_and_offline(void **state)
{
	struct fixture *f = *state;
	make_read_only(f, 2);
	for (uint8_t a = NVME_ZONE_CLOSE; a <= NVME_ZONE_RESET; a++)
		assert_int_equal(send(f, a, zslba(2), false), NVME_SC_ZONE_INVALID_TRANSITION | DNR);
	assert_int_equal(zones_check_read(f->z, zslba(2), 1), 0); /* still readable */
	assert_int_equal(send(f, NVME_ZONE_OFFLINE, zslba(1), false), NVME_SC_ZONE_INVALID_TRANSITION | DNR);
	assert_int_equal(send(f, NVME_ZONE_OFFLINE, zslba(2), false), 0);
	assert_int_equal(state_of(f, 2), NVME_ZS_OFFLINE);
	assert_int_equal(f->calls.discards, 1);
	assert_int_equal(send(f, NVME_ZONE_OFFLINE, zslba(2), false), 0); /* already offline */
	for (uint8_t a = NVME_ZONE_CLOSE; a <= NVME_ZONE_RESET; a++)
		assert_int_equal(send(f, a, zslba(2), false), NVME_SC_ZONE_INVALID_TRANSITION | DNR);
}

static void test_limits_and_implicit_close(void **state)
{
	struct fixture *f = *state; /* 3 open, 4 active */
	assert_int_equal(write_at(f, zslba(1), 1), 0);
	assert_int_equal(write_at(f, zslba(2), 1), 0);
	assert_int_equal(write_at(f, zslba(3), 1), 0);
	assert_counts(f, 3, 3);
	/* A fourth write closes the least recently written implicitly open zone. */
	assert_int_equal(write_at(f, zslba(1) + 1, 1), 0); /* zone 1 is now the most recent */
	assert_int_equal(write_at(f, zslba(4), 1), 0);
	assert_int_equal(state_of(f, 2), NVME_ZS_CLOSED);
	assert_int_equal(state_of(f, 1), NVME_ZS_IMP_OPEN);
	assert_counts(f, 3, 4);
	/* No active resource left for a fifth zone. */
	assert_int_equal(write_at(f, zslba(5), 1), NVME_SC_ZONE_TOO_MANY_ACTIVE | DNR);
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(5), false), NVME_SC_ZONE_TOO_MANY_ACTIVE | DNR);
	/* Explicitly open zones are never closed behind the host's back. */
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(1), false), 0);
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(3), false), 0);
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(4), false), 0);
	assert_int_equal(write_at(f, zslba(2) + 1, 1), NVME_SC_ZONE_TOO_MANY_OPEN | DNR);
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(2), false), NVME_SC_ZONE_TOO_MANY_OPEN | DNR);
	assert_int_equal(state_of(f, 2), NVME_ZS_CLOSED);
}

static void test_select_all(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(write_at(f, zslba(1), 1), 0);
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(2), false), 0);
	assert_int_equal(write_at(f, zslba(2), 1), 0);
	assert_int_equal(send(f, NVME_ZONE_CLOSE, 0, true), 0);
	assert_int_equal(state_of(f, 1), NVME_ZS_CLOSED);
	assert_int_equal(state_of(f, 2), NVME_ZS_CLOSED);
	assert_int_equal(send(f, NVME_ZONE_OPEN, 0, true), 0);
	assert_int_equal(state_of(f, 1), NVME_ZS_EXP_OPEN);
	assert_int_equal(state_of(f, 2), NVME_ZS_EXP_OPEN);
	assert_int_equal(state_of(f, 3), NVME_ZS_EMPTY); /* Select All opens closed zones only */
	assert_int_equal(send(f, NVME_ZONE_FINISH, 0, true), 0);
	assert_int_equal(state_of(f, 1), NVME_ZS_FULL);
	assert_int_equal(state_of(f, 3), NVME_ZS_EMPTY);
	make_read_only(f, 5);
	assert_int_equal(send(f, NVME_ZONE_RESET, 0, true), 0);
	assert_int_equal(state_of(f, 1), NVME_ZS_EMPTY);
	assert_int_equal(state_of(f, 5), NVME_ZS_READ_ONLY); /* untouched */
	assert_int_equal(send(f, NVME_ZONE_OFFLINE, 0, true), 0);
	assert_int_equal(state_of(f, 5), NVME_ZS_OFFLINE);
	/* Open all must fit under the open limit as a whole. */
	for (uint64_t i = 1; i <= 4; i++) {
		assert_int_equal(write_at(f, zslba(i), 1), 0);
		assert_int_equal(send(f, NVME_ZONE_CLOSE, zslba(i), false), 0);
	}
	assert_int_equal(send(f, NVME_ZONE_OPEN, 0, true), NVME_SC_ZONE_TOO_MANY_OPEN | DNR);
	assert_int_equal(send(f, NVME_ZONE_SET_DESC_EXT, 0, true), NVME_SC_INVALID_FIELD | DNR);
}

static void test_send_argument_checks(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(1) + 1, false), NVME_SC_INVALID_FIELD | DNR);
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(NZONES), false), NVME_SC_LBA_RANGE | DNR);
	assert_int_equal(send(f, 0x7, zslba(1), false), NVME_SC_INVALID_FIELD | DNR);
}

static void test_descriptor_extension(void **state)
{
	struct fixture *f = *state;
	uint8_t ext[64];
	memset(ext, 0xA5, sizeof(ext));
	struct zone_send cmd = {.slba = zslba(3), .action = NVME_ZONE_SET_DESC_EXT, .extension = ext};
	assert_int_equal(zones_send(f->z, &cmd, &f->hooks), 0);
	assert_int_equal(state_of(f, 3), NVME_ZS_CLOSED); /* Empty -> Closed, active */
	assert_counts(f, 0, 1);
	assert_int_equal(zones_send(f->z, &cmd, &f->hooks), NVME_SC_ZONE_INVALID_TRANSITION | DNR);
	/* Extended report: each descriptor followed by its 64-byte extension. */
	uint8_t buf[64 + 2 * 128];
	struct zone_report rep = {.slba = zslba(3), .filter = NVME_ZRASF_ALL, .extended = true,
				  .partial = true, .buf = buf, .len = sizeof(buf)};
	assert_int_equal(zones_report(f->z, &rep), 0);
	struct nvme_zone_descriptor d;
	memcpy(&d, buf + 64, sizeof(d));
	assert_int_equal(d.za & NVME_ZA_ZDEV, NVME_ZA_ZDEV);
	assert_memory_equal(buf + 128, ext, sizeof(ext));
	/* Closing keeps it (the extension holds it active); reset drops it. */
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(3), false), 0);
	assert_int_equal(send(f, NVME_ZONE_CLOSE, zslba(3), false), 0);
	assert_int_equal(state_of(f, 3), NVME_ZS_CLOSED);
	assert_int_equal(send(f, NVME_ZONE_RESET, zslba(3), false), 0);
	assert_int_equal(state_of(f, 3), NVME_ZS_EMPTY);
	struct zone_info info;
	zones_get(f->z, 3, &info);
	assert_int_equal(info.attrs, 0);
}

static void test_zrwa(void **state)
{
	struct fixture *f = *state; /* ZRWA of 8 LBAs, flush granularity 4, one resource */
	struct zone_send open = {.slba = zslba(1), .action = NVME_ZONE_OPEN, .zrwa_alloc = true};
	assert_int_equal(zones_send(f->z, &open, &f->hooks), 0);
	struct zone_info info;
	zones_get(f->z, 1, &info);
	assert_int_equal(info.attrs & NVME_ZA_ZRWAV, NVME_ZA_ZRWAV);
	open.slba = zslba(2);
	assert_int_equal(zones_send(f->z, &open, &f->hooks), ZNS_SC_ZRWA_UNAVAILABLE | DNR);
	/* Random writes and overwrites inside the ZRWA leave the write pointer. */
	assert_int_equal(write_at(f, zslba(1) + 4, 2), 0);
	assert_int_equal(write_at(f, zslba(1), 4), 0);
	assert_int_equal(write_at(f, zslba(1) + 4, 2), 0);
	assert_int_equal(wp_of(f, 1), 0);
	assert_int_equal(append(f, 1, 1, NULL), ZNS_SC_INVALID_ZONE_OP | DNR);
	/* Beyond the ZRWA (up to twice its size): implicit flush by whole granules. */
	assert_int_equal(write_at(f, zslba(1) + 8, 2), 0);
	assert_int_equal(wp_of(f, 1), 4);
	assert_int_equal(write_at(f, zslba(1) + 4 + 16, 1), NVME_SC_ZONE_INVALID_WRITE | DNR);
	assert_int_equal(write_at(f, zslba(1) + 3, 1), NVME_SC_ZONE_INVALID_WRITE | DNR);
	/* Explicit flush: SLBA is the last LBA to commit. */
	assert_int_equal(send(f, NVME_ZONE_ZRWA_FLUSH, zslba(1) + 5, false), NVME_SC_INVALID_FIELD | DNR);
	assert_int_equal(send(f, NVME_ZONE_ZRWA_FLUSH, zslba(1) + 4 + 8, false),
			 NVME_SC_ZONE_BOUNDARY_ERROR | DNR);
	assert_int_equal(send(f, NVME_ZONE_ZRWA_FLUSH, zslba(1) + 7, false), 0);
	assert_int_equal(wp_of(f, 1), 8);
	assert_int_equal(f->calls.last_from, 4);
	assert_int_equal(f->calls.last_to, 8);
	assert_int_equal(send(f, NVME_ZONE_ZRWA_FLUSH, zslba(2), false), NVME_SC_INVALID_FIELD | DNR);
	/* Reset gives the ZRWA resource back. */
	assert_int_equal(send(f, NVME_ZONE_RESET, zslba(1), false), 0);
	assert_int_equal(zones_send(f->z, &open, &f->hooks), 0);
}

static void test_report_filters_and_partial(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(write_at(f, zslba(1), 1), 0);			/* implicitly open */
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(2), false), 0);	/* explicitly open */
	assert_int_equal(write_at(f, zslba(3), 1), 0);
	assert_int_equal(send(f, NVME_ZONE_CLOSE, zslba(3), false), 0);	/* closed */
	assert_int_equal(send(f, NVME_ZONE_FINISH, zslba(4), false), 0); /* full */
	make_read_only(f, 5);
	make_read_only(f, 6);
	assert_int_equal(send(f, NVME_ZONE_OFFLINE, zslba(6), false), 0);
	static const struct {
		uint8_t filter;
		uint64_t count, first;
	} cases[] = {
	    {NVME_ZRASF_ALL, NZONES, 0},	 {NVME_ZRASF_EMPTY, NZONES - 6, 0},
	    {NVME_ZRASF_IMP_OPEN, 1, 1},	 {NVME_ZRASF_EXP_OPEN, 1, 2},
	    {NVME_ZRASF_CLOSED, 1, 3},	 {NVME_ZRASF_FULL, 1, 4},
	    {NVME_ZRASF_READ_ONLY, 1, 5}, {NVME_ZRASF_OFFLINE, 1, 6},
	};
	uint8_t buf[64 + 2 * 64];
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct zone_report rep = {.filter = cases[i].filter, .buf = buf, .len = sizeof(buf)};
		assert_int_equal(zones_report(f->z, &rep), 0);
		uint64_t n;
		memcpy(&n, buf, sizeof(n));
		assert_int_equal(n, cases[i].count); /* Partial = 0: every match from SLBA on */
		struct nvme_zone_descriptor d;
		memcpy(&d, buf + 64, sizeof(d));
		assert_int_equal(d.zslba, zslba(cases[i].first));
		assert_int_equal(d.zt, NVME_ZONE_TYPE_SEQWRITE_REQ);
		assert_int_equal(d.zcap, ZCAP);
	}
	struct zone_report rep = {.slba = zslba(1) + 5, .filter = NVME_ZRASF_ALL, .partial = true,
				  .buf = buf, .len = sizeof(buf)};
	assert_int_equal(zones_report(f->z, &rep), 0);
	uint64_t n;
	memcpy(&n, buf, sizeof(n));
	assert_int_equal(n, 2); /* Partial = 1: descriptors that fit */
	struct nvme_zone_descriptor d;
	memcpy(&d, buf + 64, sizeof(d));
	assert_int_equal(d.zslba, zslba(1)); /* starts at the zone holding SLBA */
	assert_int_equal(d.zs >> 4, NVME_ZS_IMP_OPEN);
	assert_int_equal(d.wp, zslba(1) + 1);
	rep.slba = zslba(NZONES);
	assert_int_equal(zones_report(f->z, &rep), NVME_SC_LBA_RANGE | DNR);
	rep.slba = 0;
	rep.filter = 8;
	assert_int_equal(zones_report(f->z, &rep), NVME_SC_INVALID_FIELD | DNR);
}

static void test_wear_out_and_changed_list(void **state)
{
	(void)state;
	struct zone_config c = base_config();
	c.reset_limit = 2;
	struct fixture *f = fixture_with(&c);
	struct zone_send cmd = {.slba = zslba(7), .action = NVME_ZONE_RESET};
	assert_int_equal(write_at(f, zslba(7), 1), 0);
	assert_int_equal(zones_send(f->z, &cmd, &f->hooks), 0);
	assert_false(cmd.zones_changed);
	assert_int_equal(write_at(f, zslba(7), 1), 0);
	assert_int_equal(zones_send(f->z, &cmd, &f->hooks), 0);
	assert_true(cmd.zones_changed); /* the event: once, until the log is read */
	assert_int_equal(state_of(f, 7), NVME_ZS_READ_ONLY);
	assert_false(zones_fail(f->z, 8));
	uint8_t page[4096];
	zones_changed_list(f->z, page);
	uint16_t count;
	uint64_t zid0, zid1;
	memcpy(&count, page, sizeof(count));
	memcpy(&zid0, page + 8, sizeof(zid0));
	memcpy(&zid1, page + 16, sizeof(zid1));
	assert_int_equal(count, 2);
	assert_int_equal(zid0, zslba(7));
	assert_int_equal(zid1, zslba(8));
	zones_changed_list(f->z, page); /* reading cleared it */
	memcpy(&count, page, sizeof(count));
	assert_int_equal(count, 0);
	assert_true(zones_fail(f->z, 9));
	teardown((void **)&f);
}

static void test_conventional_zones(void **state)
{
	(void)state;
	struct zone_config c = base_config();
	c.nr_conv = 2;
	struct fixture *f = fixture_with(&c);
	assert_int_equal(write_at(f, zslba(1) + 17, 3), 0); /* anywhere */
	assert_int_equal(write_at(f, zslba(1) + 17, 3), 0); /* and again */
	assert_int_equal(write_at(f, zslba(1) + ZSZE - 1, 2), NVME_SC_ZONE_BOUNDARY_ERROR | DNR);
	assert_int_equal(append(f, 1, 1, NULL), ZNS_SC_INVALID_ZONE_OP | DNR);
	assert_int_equal(send(f, NVME_ZONE_RESET, zslba(0), false), ZNS_SC_INVALID_ZONE_OP | DNR);
	assert_int_equal(send(f, NVME_ZONE_RESET, 0, true), 0); /* Select All skips them */
	uint8_t buf[64 + 64];
	struct zone_report rep = {.filter = NVME_ZRASF_ALL, .partial = true, .buf = buf, .len = sizeof(buf)};
	assert_int_equal(zones_report(f->z, &rep), 0);
	struct nvme_zone_descriptor d;
	memcpy(&d, buf + 64, sizeof(d));
	assert_int_equal(d.zt, ZONE_TYPE_CONVENTIONAL);
	rep.filter = NVME_ZRASF_EMPTY;
	assert_int_equal(zones_report(f->z, &rep), 0);
	memcpy(&d, buf + 64, sizeof(d));
	assert_int_equal(d.zslba, zslba(2)); /* conventional zones match no state filter */
	teardown((void **)&f);
}

/* ---- Several threads at once ---- */

#define THREADS 4
#define APPENDS_PER_THREAD 2000
#define BIG_ZONE 16384

struct race {
	struct fixture *f;
	uint64_t albas[APPENDS_PER_THREAD];
	unsigned ok;
};

static void *append_many(void *arg)
{
	struct race *r = arg;
	for (unsigned i = 0; i < APPENDS_PER_THREAD; i++) {
		uint64_t alba;
		if (!append(r->f, 0, 1, &alba)) /* zone 0: its ZSLBA is 0 whatever the zone size */
			r->albas[r->ok++] = alba;
	}
	return NULL;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_concurrent_appends_get_distinct_lbas(void **state)
{
	(void)state;
	struct zone_config c = {.nzones = 4, .zone_size = BIG_ZONE, .zone_cap = BIG_ZONE};
	struct fixture *f = fixture_with(&c);
	struct race races[THREADS];
	pthread_t threads[THREADS];
	for (int t = 0; t < THREADS; t++) {
		races[t] = (struct race){.f = f};
		pthread_create(&threads[t], NULL, append_many, &races[t]);
	}
	uint64_t *all = malloc(sizeof(uint64_t) * THREADS * APPENDS_PER_THREAD);
	size_t n = 0;
	for (int t = 0; t < THREADS; t++) {
		pthread_join(threads[t], NULL);
		memcpy(all + n, races[t].albas, races[t].ok * sizeof(uint64_t));
		n += races[t].ok;
	}
	assert_int_equal(n, THREADS * APPENDS_PER_THREAD);
	qsort(all, n, sizeof(*all), compare_u64);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(all[i], i); /* every LBA once, no gap */
	assert_int_equal(wp_of(f, 0), n);
	free(all);
	teardown((void **)&f);
}

struct reset_race {
	struct fixture *f;
	atomic_bool stop;
};

static void *reset_loop(void *arg)
{
	struct reset_race *r = arg;
	while (!atomic_load(&r->stop))
		send(r->f, NVME_ZONE_RESET, 0, false);
	return NULL;
}

static void test_reset_racing_appends_stays_consistent(void **state)
{
	(void)state;
	struct zone_config c = {.nzones = 4, .zone_size = BIG_ZONE, .zone_cap = BIG_ZONE,
				.max_open = 2, .max_active = 2};
	struct fixture *f = fixture_with(&c);
	struct reset_race rr = {.f = f};
	struct race races[THREADS - 1];
	pthread_t resetter, threads[THREADS - 1];
	pthread_create(&resetter, NULL, reset_loop, &rr);
	for (int t = 0; t < THREADS - 1; t++) {
		races[t] = (struct race){.f = f};
		pthread_create(&threads[t], NULL, append_many, &races[t]);
	}
	for (int t = 0; t < THREADS - 1; t++)
		pthread_join(threads[t], NULL);
	atomic_store(&rr.stop, true);
	pthread_join(resetter, NULL);
	/* Whatever interleaving happened, the counts match the states. */
	uint8_t s = state_of(f, 0);
	uint32_t open = s == NVME_ZS_IMP_OPEN, active = open;
	assert_counts(f, open, active);
	assert_true(s == NVME_ZS_EMPTY || s == NVME_ZS_IMP_OPEN);
	teardown((void **)&f);
}


/* ---- Zones kept across runs ---- */

struct kept {
	void *t[ZONE_TABLES];
	struct drive_table_spec spec[ZONE_TABLES];
};

static void kept_alloc(struct kept *k, const struct zone_config *cfg)
{
	zones_table_specs(cfg, k->spec);
	for (int i = 0; i < ZONE_TABLES; i++)
		k->t[i] = calloc(k->spec[i].count ? k->spec[i].count : 1, k->spec[i].elem_bytes);
}

static void kept_free(struct kept *k)
{
	for (int i = 0; i < ZONE_TABLES; i++)
		free(k->t[i]);
}

static struct rollbacks {
	unsigned n;
	uint64_t zone[NZONES], from[NZONES], to[NZONES];
} rolled;

static void on_rolled_back(void *ctx, uint64_t zone, uint64_t from, uint64_t to)
{
	struct rollbacks *r = ctx;
	r->zone[r->n] = zone;
	r->from[r->n] = from;
	r->to[r->n++] = to;
}

static struct fixture *reopen(struct kept *k, const struct zone_config *cfg, enum zones_open_state st)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	memset(&rolled, 0, sizeof(rolled));
	f->z = zones_open(cfg, k->t, st, on_rolled_back, &rolled, err, sizeof(err));
	if (!f->z)
		fail_msg("zones_open: %s", err);
	f->hooks = (struct zone_hooks){.ctx = &f->calls, .erase = on_erase, .finish = on_finish,
				       .commit = on_commit, .discard = on_discard};
	return f;
}

static void test_kept_zones_come_back_closed(void **state)
{
	(void)state;
	struct zone_config cfg = base_config();
	struct kept k;
	kept_alloc(&k, &cfg);
	struct fixture *f = reopen(&k, &cfg, ZONES_NEW);
	assert_int_equal(write_at(f, zslba(1), 5), 0);		    /* implicitly open */
	assert_int_equal(send(f, NVME_ZONE_OPEN, zslba(2), false), 0); /* explicitly open, empty */
	assert_int_equal(write_at(f, zslba(3), ZCAP), 0);	    /* full */
	assert_int_equal(send(f, NVME_ZONE_RESET, zslba(3), false), 0);
	assert_int_equal(write_at(f, zslba(3), ZCAP), 0);
	zones_destroy(f->z); /* a run ends, cleanly or not: the tables are what it left */
	free(f);
	f = reopen(&k, &cfg, ZONES_KEPT);
	assert_int_equal(state_of(f, 1), NVME_ZS_CLOSED);
	assert_int_equal(wp_of(f, 1), 5);
	assert_int_equal(state_of(f, 2), NVME_ZS_EMPTY); /* it held nothing */
	assert_int_equal(state_of(f, 3), NVME_ZS_FULL);
	struct zone_info info;
	zones_get(f->z, 3, &info);
	assert_int_equal(info.resets, 1);
	assert_counts(f, 0, 1);
	assert_int_equal(rolled.n, 0);
	assert_int_equal(write_at(f, zslba(1) + 5, 1), 0); /* writes go on at the write pointer */
	zones_destroy(f->z);
	free(f);
	kept_free(&k);
}

static void test_machine_crash_keeps_what_a_flush_made_durable(void **state)
{
	(void)state;
	struct zone_config cfg = base_config();
	struct kept k;
	kept_alloc(&k, &cfg);
	struct fixture *f = reopen(&k, &cfg, ZONES_NEW);
	assert_int_equal(write_at(f, zslba(1), 8), 0);
	assert_int_equal(write_at(f, zslba(3), ZCAP), 0);
	assert_int_equal(zones_flush_begin(f->z), 0);
	assert_int_equal(write_at(f, zslba(1) + 8, 4), 0); /* during the flush: not covered */
	zones_flush_end(f->z);
	assert_int_equal(write_at(f, zslba(1) + 12, 4), 0);
	assert_int_equal(write_at(f, zslba(5), 6), 0);
	assert_int_equal(send(f, NVME_ZONE_RESET, zslba(3), false), 0); /* reset after the flush */
	assert_int_equal(write_at(f, zslba(3), 2), 0);
	zones_destroy(f->z);
	free(f);
	f = reopen(&k, &cfg, ZONES_MACHINE_CRASH);
	assert_int_equal(wp_of(f, 1), 8);
	assert_int_equal(state_of(f, 1), NVME_ZS_CLOSED);
	assert_int_equal(wp_of(f, 5), 0);
	assert_int_equal(state_of(f, 5), NVME_ZS_EMPTY);
	assert_int_equal(wp_of(f, 3), 0);
	assert_int_equal(rolled.n, 3);
	assert_int_equal(rolled.zone[0], 1);
	assert_int_equal(rolled.from[0], 8);
	assert_int_equal(rolled.to[0], 16);
	assert_counts(f, 0, 1);
	zones_destroy(f->z);
	free(f);
	kept_free(&k);
}

static void test_power_cut_rollback_and_format(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(write_at(f, zslba(1), ZCAP), 0); /* full */
	assert_int_equal(write_at(f, zslba(2), 10), 0);
	struct zone_info info;
	zones_get(f->z, 1, &info);
	zones_power_cycle(f->z);
	zones_rollback(f->z, 1, info.resets, 40);
	zones_rollback(f->z, 2, info.resets + 1, 0); /* reset since: not this zone's data any more */
	assert_int_equal(state_of(f, 1), NVME_ZS_CLOSED);
	assert_int_equal(wp_of(f, 1), 40);
	assert_int_equal(wp_of(f, 2), 10);
	assert_int_equal(state_of(f, 2), NVME_ZS_CLOSED);
	assert_counts(f, 0, 2);
	make_read_only(f, 4);
	zones_format(f->z);
	assert_int_equal(state_of(f, 1), NVME_ZS_EMPTY);
	assert_int_equal(wp_of(f, 2), 0);
	assert_int_equal(state_of(f, 4), NVME_ZS_READ_ONLY);
	assert_counts(f, 0, 0);
}

static void test_impossible_records_refused(void **state)
{
	(void)state;
	struct zone_config cfg = base_config();
	struct kept k;
	kept_alloc(&k, &cfg);
	struct fixture *f = reopen(&k, &cfg, ZONES_NEW);
	zones_destroy(f->z);
	free(f);
	uint8_t *rec = (uint8_t *)k.t[ZONE_TABLE_ZONES] + 32 * 7;
	rec[0] = 99; /* write pointer past the capacity */
	char err[256];
	assert_null(zones_open(&cfg, k.t, ZONES_KEPT, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "zones: entry 7"));
	rec[0] = 0;
	rec[24] = 0x77; /* no such state */
	assert_null(zones_open(&cfg, k.t, ZONES_KEPT, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "zones: entry 7"));
	kept_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_rejects_bad_geometry),
	    cmocka_unit_test_setup_teardown(test_write_opens_implicitly_and_fills, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_returns_lba, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_finish_and_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_only_and_offline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits_and_implicit_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_select_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_send_argument_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_descriptor_extension, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zrwa, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_report_filters_and_partial, setup, teardown),
	    cmocka_unit_test(test_wear_out_and_changed_list),
	    cmocka_unit_test(test_conventional_zones),
	    cmocka_unit_test(test_concurrent_appends_get_distinct_lbas),
	    cmocka_unit_test(test_reset_racing_appends_stays_consistent),
	    cmocka_unit_test(test_kept_zones_come_back_closed),
	    cmocka_unit_test(test_machine_crash_keeps_what_a_flush_made_durable),
	    cmocka_unit_test_setup_teardown(test_power_cut_rollback_and_format, setup, teardown),
	    cmocka_unit_test(test_impossible_records_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
