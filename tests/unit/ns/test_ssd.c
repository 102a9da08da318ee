/*
 * The ssd kind's own code (ns/ssd.c): which flash pages an LBA range costs
 * (partial pages cost whole pages), unmapping only whole pages (a partial page
 * stays mapped, now partly zero), completion times that are the model's own
 * (a twin model fed the expected calls gives the same times; the transport
 * floor is the controller's business, not the kind's), and its set-up errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ftl/ftl.h"
#include "ns/ns.h"
#include "spec/nvme.h"

#define LBA 512u
#define PAGE 4096u /* 8 sectors of 512 bytes */
#define LBAS_PER_PAGE (PAGE / LBA)

struct fixture {
	struct ssd_params params;
	struct ns *ns;
	struct ssd *twin; /* the same model, driven with the calls the kind should make */
	uint64_t now;
	uint8_t buf[8 * PAGE];
};

static void small_device(struct ssd_params *p)
{
	ssd_params_defaults(p);
	p->channels = 2;
	p->luns_per_channel = 2;
	p->blocks_per_plane = 64;
	p->pages_per_block = 64;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	small_device(&f->params);
	char err[256];
	/* A floor the kind must ignore: it returns pure model time. */
	struct ns_params np = {
	    .kind = NS_KIND_SSD, .lba_size = LBA, .ssd = &f->params, .transport_floor_ns = 30000};
	f->ns = ns_create(&np, err, sizeof(err));
	f->twin = ssd_create(&f->params, err, sizeof(err));
	f->now = 1000000;
	*state = f;
	return f->ns && f->twin ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ns_destroy(f->ns);
	ssd_destroy(f->twin);
	free(f);
	return 0;
}

static struct ns_io io_at(struct fixture *f, uint64_t slba, uint32_t nlb)
{
	f->now += 500000; /* calls arrive in time order, as the model wants */
	return (struct ns_io){.slba = slba, .nlb = nlb, .buf = f->buf, .now_ns = f->now};
}

static uint64_t write_lbas(struct fixture *f, uint64_t slba, uint32_t nlb, uint8_t fill, bool fua)
{
	struct ns_io io = io_at(f, slba, nlb);
	io.fua = fua;
	memset(f->buf, fill, (size_t)nlb * LBA);
	assert_int_equal(f->ns->ops->write(f->ns, &io), NVME_SC_SUCCESS);
	return io.done_ns;
}

static uint64_t read_lbas(struct fixture *f, uint64_t slba, uint32_t nlb, uint8_t *out)
{
	struct ns_io io = io_at(f, slba, nlb);
	assert_int_equal(f->ns->ops->read(f->ns, &io), NVME_SC_SUCCESS);
	memcpy(out, io.data, (size_t)nlb * LBA);
	return io.done_ns;
}

static void test_times_and_pages_are_the_models(void **state)
{
	struct fixture *f = *state;
	/* One whole page; then LBAs 7..8, which straddle pages 0 and 1: two pages. */
	uint64_t done = write_lbas(f, 0, LBAS_PER_PAGE, 0x11, false);
	assert_int_equal(done, ssd_write(f->twin, 0, 1, false, f->now, NULL));
	done = write_lbas(f, LBAS_PER_PAGE - 1, 2, 0x22, false);
	assert_int_equal(done, ssd_write(f->twin, 0, 2, false, f->now, NULL));
	/* One sector in the middle of page 5 costs page 5; FUA reaches the model. */
	done = write_lbas(f, 5 * LBAS_PER_PAGE + 3, 1, 0x33, true);
	assert_int_equal(done, ssd_write(f->twin, 5, 1, true, f->now, NULL));
	assert_true(done > f->now);

	/* A read of LBAs 3..12 touches pages 0 and 1; a never-written page is unmapped. */
	uint8_t out[8 * PAGE];
	done = read_lbas(f, 3, 10, out);
	assert_int_equal(done, ssd_read(f->twin, 0, 2, f->now, NULL));
	done = read_lbas(f, 40 * LBAS_PER_PAGE, 1, out);
	assert_int_equal(done, ssd_read(f->twin, 40, 1, f->now, NULL));
	struct ns_io io = io_at(f, 0, 0);
	assert_int_equal(f->ns->ops->flush(f->ns, &io), NVME_SC_SUCCESS);
	assert_int_equal(io.done_ns, ssd_flush(f->twin, f->now, NULL));

	/* The kind's counters are the model's: 1 + 2 + 1 host pages. */
	struct ns_model_counters mine;
	struct ssd_counters twin;
	assert_true(f->ns->ops->model_counters(f->ns, &mine));
	ssd_get_counters(f->twin, &twin);
	assert_int_equal(mine.host_pages_written, 4);
	assert_int_equal(twin.host_pages_written, 4);
	assert_int_equal(mine.nand_pages_written, twin.nand_pages_written);

	/* The data: LBAs 0..6 of the first write, 7..8 of the second. */
	read_lbas(f, 0, 9, out);
	for (unsigned i = 0; i < 9 * LBA; i++)
		assert_int_equal(out[i], i < 7 * LBA ? 0x11 : 0x22);
}

static void test_unmap_keeps_partial_pages_mapped(void **state)
{
	struct fixture *f = *state;
	write_lbas(f, 0, 3 * LBAS_PER_PAGE, 0x5A, false);
	ssd_write(f->twin, 0, 3, false, f->now, NULL);
	struct ns_io io = io_at(f, 0, 0);
	assert_int_equal(f->ns->ops->flush(f->ns, &io), NVME_SC_SUCCESS);
	assert_int_equal(io.done_ns, ssd_flush(f->twin, f->now, NULL));
	f->now = io.done_ns; /* everything is on NAND: mapped pages cost NAND reads */

	/* LBAs 4..19: the back half of page 0, all of page 1, the front half of page 2.
	 * Only page 1 leaves the mapping. */
	io = io_at(f, 4, 2 * LBAS_PER_PAGE);
	assert_int_equal(f->ns->ops->deallocate(f->ns, &io), NVME_SC_SUCCESS);
	assert_int_equal(io.done_ns, ssd_trim(f->twin, 1, 1, f->now, NULL));

	/* Pages 0 and 2 still read from NAND, page 1 as unmapped: the twin agrees. */
	uint8_t out[3 * PAGE];
	for (uint64_t page = 0; page < 3; page++) {
		uint64_t done = read_lbas(f, page * LBAS_PER_PAGE, LBAS_PER_PAGE, out);
		assert_int_equal(done, ssd_read(f->twin, page, 1, f->now, NULL));
	}
	struct ssd_counters twin;
	ssd_get_counters(f->twin, &twin);
	assert_int_equal(twin.host_pages_trimmed, 1);

	/* What the host reads: zeroes where it deallocated, its data elsewhere. */
	read_lbas(f, 0, 3 * LBAS_PER_PAGE, out);
	for (unsigned lba = 0; lba < 3 * LBAS_PER_PAGE; lba++)
		for (unsigned i = 0; i < LBA; i++)
			assert_int_equal(out[lba * LBA + i], lba >= 4 && lba < 20 ? 0 : 0x5A);

	/* Write Zeroes inside one page unmaps nothing: it takes no model time at all. Page 2
	 * then holds zeroes in LBAs 0..3 (deallocated above) and 5..6, its data in 4 and 7. */
	io = io_at(f, 2 * LBAS_PER_PAGE + 5, 2);
	assert_int_equal(f->ns->ops->write_zeroes(f->ns, &io), NVME_SC_SUCCESS);
	assert_int_equal(io.done_ns, f->now);
	read_lbas(f, 2 * LBAS_PER_PAGE, LBAS_PER_PAGE, out);
	for (unsigned i = 0; i < PAGE; i++)
		assert_int_equal(out[i], i / LBA == 4 || i / LBA == 7 ? 0x5A : 0);
}

static void test_setup_errors(void **state)
{
	(void)state;
	char err[256] = "";
	struct ssd_params p;
	small_device(&p);
	/* A 512-byte flash page cannot hold a 4 KiB LBA. */
	p.sectors_per_page = 1;
	struct ns_params np = {.kind = NS_KIND_SSD, .lba_size = 4096, .ssd = &p};
	assert_null(ns_create(&np, err, sizeof(err)));
	assert_non_null(strstr(err, "not a multiple of the 4096-byte LBA"));
	/* A device the model refuses (too little spare for GC): its message comes through. */
	small_device(&p);
	p.op_pcent = 0.1;
	np.lba_size = LBA;
	assert_null(ns_create(&np, err, sizeof(err)));
	assert_non_null(strstr(err, "op_pcent"));
	np.ssd = NULL;
	assert_null(ns_create(&np, err, sizeof(err)));
	assert_non_null(strstr(err, "needs model parameters"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_times_and_pages_are_the_models),
	    T(test_unmap_keeps_partial_pages_mapped),
	    cmocka_unit_test(test_setup_errors),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
