/*
 * The zoned kind's own code (ns/zoned.c): completion times that are the zone
 * mapping's own (a twin zone_flash fed the expected calls gives the same
 * times, whatever the transport floor: the controller takes that off), reads
 * across zones, conventional zones, Zone Append's LBA, data held in a ZRWA
 * and committed by its flush, Deallocate as a hint, Write Zeroes and Reset
 * on the data, the zone capacity it derives, and its parameter checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ns/zone_flash.h"
#include "ns/zoned.h"
#include "spec/nvme.h"
#include "util/util.h"

#define LBA 512u
#define ZONE_BYTES (1u << 20)
#define ZONE_LBAS (ZONE_BYTES / LBA)
#define ZRWA_BYTES (64u * 1024)
#define ZRWA_FG_BYTES (16u * 1024)

struct fixture {
	struct ssd_params ssd;
	struct zoned_params zoned;
	struct ns *ns;
	struct zone_flash *twin; /* the same mapping, driven with the calls the kind should make */
	uint64_t now;
	uint8_t buf[64 * 1024];
};

static void small_device(struct ssd_params *sp, struct zoned_params *zp)
{
	ssd_params_defaults(sp);
	sp->channels = 2;
	sp->luns_per_channel = 2;
	sp->blocks_per_plane = 64;
	sp->pages_per_block = 64;
	zoned_params_defaults(zp);
	zp->zone_size = ZONE_BYTES;
	zp->conv_zones = 1;
	zp->cross_zone_read = true;
	zp->zrwa_size = ZRWA_BYTES;
	zp->zrwa_fg = ZRWA_FG_BYTES;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	small_device(&f->ssd, &f->zoned);
	char err[256];
	struct ns_params np = {.kind = NS_KIND_ZONED,
			       .lba_size = LBA,
			       .ssd = &f->ssd,
			       .zoned = &f->zoned,
			       .transport_floor_ns = 30000};
	f->ns = ns_create(&np, err, sizeof(err));
	/* Each zone spans both channels, one die each: a stripe of 2 x 64 pages of 4 KiB
	 * (512 KiB), so a 1 MiB zone holds two whole stripes and its capacity is its size. */
	struct zone_flash_layout layout = {.channels = 0,
					   .ways = 1,
					   .zone_cap_bytes = ZONE_BYTES,
					   .finish = (enum zone_finish_policy)f->zoned.finish};
	f->twin = zone_flash_create(&f->ssd, &layout, err, sizeof(err));
	f->now = 1000000;
	*state = f;
	return f->ns && f->twin ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ns_destroy(f->ns);
	zone_flash_destroy(f->twin);
	free(f);
	return 0;
}

static uint64_t zslba(uint64_t zone) { return zone * ZONE_LBAS; }

static struct ns_io io_at(struct fixture *f, uint64_t slba, uint32_t nlb)
{
	f->now += 500000;
	return (struct ns_io){.slba = slba, .nlb = nlb, .buf = f->buf, .now_ns = f->now};
}

static uint16_t store(struct fixture *f, struct ns_io *io, uint8_t fill, bool append)
{
	memset(f->buf, fill, (size_t)io->nlb * LBA);
	const struct ns_ops *ops = f->ns->ops;
	return append ? ops->zone->append(f->ns, io) : ops->write(f->ns, io);
}

static uint16_t send(struct fixture *f, uint64_t slba, uint8_t action, bool zrwa, uint64_t *done)
{
	f->now += 500000;
	struct zone_send cmd = {
	    .slba = slba, .action = action, .zrwa_alloc = zrwa, .now_ns = f->now};
	uint16_t status = f->ns->ops->zone->send(f->ns, &cmd);
	*done = cmd.done_ns;
	return status;
}

static void read_back(struct fixture *f, uint64_t slba, uint32_t nlb, uint8_t *out)
{
	struct ns_io io = io_at(f, slba, nlb);
	assert_int_equal(f->ns->ops->read(f->ns, &io), NVME_SC_SUCCESS);
	memcpy(out, io.data, (size_t)nlb * LBA);
}

static void test_times_are_the_mappings(void **state)
{
	struct fixture *f = *state;
	/* A sequential write commits what the write pointer passes over, in bytes. */
	struct ns_io io = io_at(f, zslba(1), 16);
	assert_int_equal(store(f, &io, 0x11, false), NVME_SC_SUCCESS);
	assert_int_equal(io.done_ns,
			 zone_flash_commit(f->twin, 1, 0, 16 * LBA, false, f->now, NULL));
	io = io_at(f, zslba(1) + 16, 1);
	io.fua = true;
	assert_int_equal(store(f, &io, 0x12, false), NVME_SC_SUCCESS);
	assert_int_equal(io.done_ns,
			 zone_flash_commit(f->twin, 1, 16 * LBA, 17 * LBA, true, f->now, NULL));
	/* Zone Append lands at the write pointer and says where. */
	io = io_at(f, zslba(2), 8);
	assert_int_equal(store(f, &io, 0x22, true), NVME_SC_SUCCESS);
	assert_int_equal(io.slba, zslba(2));
	assert_int_equal(io.done_ns,
			 zone_flash_commit(f->twin, 2, 0, 8 * LBA, false, f->now, NULL));
	io = io_at(f, zslba(2), 8);
	assert_int_equal(store(f, &io, 0x23, true), NVME_SC_SUCCESS);
	assert_int_equal(io.slba, zslba(2) + 8);
	assert_int_equal(io.done_ns,
			 zone_flash_commit(f->twin, 2, 8 * LBA, 16 * LBA, false, f->now, NULL));
	/* A conventional zone is overwritten in place. */
	io = io_at(f, 10, 4);
	assert_int_equal(store(f, &io, 0x33, false), NVME_SC_SUCCESS);
	assert_int_equal(io.done_ns,
			 zone_flash_overwrite(f->twin, 0, 10 * LBA, 14 * LBA, false, f->now, NULL));

	/* A read across zones 1 and 2 completes with the later of its two zones. */
	io = io_at(f, zslba(2) - 6, 10);
	assert_int_equal(f->ns->ops->read(f->ns, &io), NVME_SC_SUCCESS);
	uint64_t first =
	    zone_flash_read(f->twin, 1, (ZONE_LBAS - 6) * LBA, ZONE_BYTES, f->now, NULL);
	uint64_t second = zone_flash_read(f->twin, 2, 0, 4 * LBA, f->now, NULL);
	assert_int_equal(io.done_ns, max_u64(max_u64(first, second), f->now));
	io = io_at(f, 0, 0);
	assert_int_equal(f->ns->ops->flush(f->ns, &io), NVME_SC_SUCCESS);
	assert_int_equal(io.done_ns, zone_flash_flush(f->twin, f->now, NULL));

	/* Reset erases, Finish pads: through the kind's hooks, at the mapping's times. */
	uint64_t done;
	assert_int_equal(send(f, zslba(1), NVME_ZONE_RESET, false, &done), NVME_SC_SUCCESS);
	assert_int_equal(done, max_u64(f->now, zone_flash_erase(f->twin, 1, f->now, NULL)));
	assert_int_equal(send(f, zslba(2), NVME_ZONE_FINISH, false, &done), NVME_SC_SUCCESS);
	assert_int_equal(done, max_u64(f->now, zone_flash_finish(f->twin, 2, f->now, NULL)));

	struct ns_model_counters mine;
	struct zone_flash_counters twin;
	assert_true(f->ns->ops->model_counters(f->ns, &mine));
	zone_flash_get_counters(f->twin, &twin);
	assert_true(twin.host_pages > 0);
	assert_int_equal(mine.host_pages_written, twin.host_pages);
	assert_int_equal(mine.nand_pages_written, twin.nand_pages);
}

/* A ZRWA holds writes in controller memory; its flush commits them to flash. */
static void test_zrwa_holds_then_commits(void **state)
{
	struct fixture *f = *state;
	uint64_t done;
	assert_int_equal(send(f, zslba(3), NVME_ZONE_OPEN, true, &done), NVME_SC_SUCCESS);
	uint32_t granule = ZRWA_FG_BYTES / LBA;
	struct ns_io io = io_at(f, zslba(3), granule);
	assert_int_equal(store(f, &io, 0x44, false), NVME_SC_SUCCESS);
	assert_int_equal(io.done_ns, zone_flash_command(f->twin, f->now, NULL));
	/* Explicit ZRWA Flush up to the granule's last LBA. */
	assert_int_equal(send(f, zslba(3) + granule - 1, NVME_ZONE_ZRWA_FLUSH, false, &done),
			 NVME_SC_SUCCESS);
	assert_int_equal(done, max_u64(f->now, zone_flash_commit(f->twin, 3, 0, ZRWA_FG_BYTES,
								 false, f->now, NULL)));
	uint8_t out[ZRWA_FG_BYTES];
	read_back(f, zslba(3), granule, out);
	for (unsigned i = 0; i < ZRWA_FG_BYTES; i++)
		assert_int_equal(out[i], 0x44);
}

static void test_data_deallocate_write_zeroes_reset(void **state)
{
	struct fixture *f = *state;
	uint8_t out[32 * LBA];
	struct ns_io io = io_at(f, zslba(1), 16);
	assert_int_equal(store(f, &io, 0xAB, false), NVME_SC_SUCCESS);
	/* Deallocate is a hint a zoned drive may ignore: no time, the data stays. */
	io = io_at(f, zslba(1), 16);
	assert_int_equal(f->ns->ops->deallocate(f->ns, &io), NVME_SC_SUCCESS);
	assert_int_equal(io.done_ns, f->now);
	read_back(f, zslba(1), 16, out);
	for (unsigned i = 0; i < 16 * LBA; i++)
		assert_int_equal(out[i], 0xAB);
	/* Write Zeroes writes zeroes at the write pointer and moves it. */
	io = io_at(f, zslba(1) + 16, 8);
	memset(f->buf, 0xFF, sizeof(f->buf)); /* whatever the buffer holds is not written */
	assert_int_equal(f->ns->ops->write_zeroes(f->ns, &io), NVME_SC_SUCCESS);
	read_back(f, zslba(1) + 16, 8, out);
	for (unsigned i = 0; i < 8 * LBA; i++)
		assert_int_equal(out[i], 0);
	io = io_at(f, zslba(1) + 16, 1);
	assert_int_equal(store(f, &io, 0xCD, false), NVME_SC_ZONE_INVALID_WRITE | NVME_STATUS_DNR);
	io = io_at(f, zslba(1) + 24, 1);
	assert_int_equal(store(f, &io, 0xCD, false), NVME_SC_SUCCESS);
	/* Reset: the zone reads zeroes again. */
	uint64_t done;
	assert_int_equal(send(f, zslba(1), NVME_ZONE_RESET, false, &done), NVME_SC_SUCCESS);
	read_back(f, zslba(1), 32, out);
	for (unsigned i = 0; i < 32 * LBA; i++)
		assert_int_equal(out[i], 0);
	/* Nothing of this touched the conventional zone or the neighbours. */
	read_back(f, zslba(2), 1, out);
	assert_int_equal(out[0], 0);
}

/* Zone capacity: as asked, or the whole stripes that fit in the zone. */
static void test_capacity_and_checks(void **state)
{
	(void)state;
	struct ssd_params sp;
	struct zoned_params zp;
	char err[256];
	small_device(&sp, &zp);
	sp.pages_per_block = 48; /* a stripe of 2 x 48 pages of 4 KiB: 384 KiB */
	struct ns_params np = {.kind = NS_KIND_ZONED, .lba_size = LBA, .ssd = &sp, .zoned = &zp};
	struct ns *ns = ns_create(&np, err, sizeof(err));
	assert_non_null(ns);
	const struct zone_config *c = ns->ops->zone->config(ns);
	assert_int_equal(c->zone_size, ZONE_LBAS);
	assert_int_equal(c->zone_cap, 2 * 384 * 1024 / LBA); /* two whole stripes */
	assert_int_equal(ns->nlbas, c->nzones * ZONE_LBAS);
	ns_destroy(ns);
	zp.zone_cap = 512 * 1024;
	ns = ns_create(&np, err, sizeof(err));
	assert_non_null(ns);
	assert_int_equal(ns->ops->zone->config(ns)->zone_cap, 512 * 1024 / LBA);
	ns_destroy(ns);

	/* What the kind refuses, each with a message naming the key. */
	small_device(&sp, &zp);
	zp.zone_size = 3 << 20;
	assert_null(ns_create(&np, err, sizeof(err)));
	assert_non_null(strstr(err, "zone_size"));
	small_device(&sp, &zp);
	zp.zone_cap = 2 * ZONE_BYTES;
	assert_null(ns_create(&np, err, sizeof(err)));
	assert_non_null(strstr(err, "zone_cap"));
	small_device(&sp, &zp);
	zp.zasl = 3000;
	assert_null(ns_create(&np, err, sizeof(err)));
	assert_non_null(strstr(err, "zasl"));
	small_device(&sp, &zp);
	zp.zrwa_fg = 1000;
	assert_null(ns_create(&np, err, sizeof(err)));
	assert_non_null(strstr(err, "zrwa"));
	np.zoned = NULL;
	assert_null(ns_create(&np, err, sizeof(err)));
	assert_non_null(strstr(err, "needs zoned and flash model parameters"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_times_are_the_mappings),
	    T(test_zrwa_holds_then_commits),
	    T(test_data_deallocate_write_zeroes_reset),
	    cmocka_unit_test(test_capacity_and_checks),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
