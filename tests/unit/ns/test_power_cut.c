/*
 * Power cuts on the ssd and zoned kinds (ns_power_cut): the same seeded I/O at the same
 * instants, cut at the same instant, loses the same LBAs and reads back the same data, and
 * that is what the model's times say: a write whose pages were on NAND by the cut survives
 * (a twin model fed the same calls says when that was), a later one reads back what the LBAs
 * held before it (a sequential zone's write pointer goes back over it). A Flush that completed
 * before the cut, a FUA write that did, the write cache off, or power-loss protection: nothing
 * they cover is lost.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ftl/ftl.h"
#include "ns/ns.h"
#include "ns/zone_flash.h"
#include "ns/zoned.h"
#include "spec/nvme.h"
#include "util/util.h"

#define LBA 512u
#define PAGE 4096u
#define MAX_NLB 64u
#define MAX_WRITES 600u
#define ZONE_BYTES (1u << 20)
#define ZONE_LBAS (ZONE_BYTES / LBA)
#define SEQ_ZONES 3u /* zones 1..3 written sequentially; zone 0 is conventional */

enum durable {
	NONE,	    /* volatile write cache, no Flush */
	FLUSH,	    /* a Flush in the middle, the cut after it completes */
	FUA,	    /* every third write FUA */
	CACHE_OFF,  /* the write cache off: every write durable at completion */
	PLP,	    /* power-loss protection */
};

struct write {
	uint64_t slba;
	uint32_t nlb;
	bool fua, before_flush;
	uint64_t done, on_nand; /* when the host hears back; when the twin says it is on NAND */
};

/* One run: a namespace, its twin model, what was written and when. */
struct run {
	enum ns_kind kind;
	enum durable durable;
	struct ssd_params ssd;
	struct zoned_params zoned;
	struct ns *ns;
	struct ssd *ssd_twin;
	struct zone_flash *zone_twin;
	uint64_t seed, now, cut_at, flush_done, lost, region;
	struct write w[MAX_WRITES];
	unsigned n;
	uint8_t buf[MAX_NLB * LBA];
	uint8_t *data; /* the region read back after the cut */
	uint64_t seq_wp[SEQ_ZONES]; /* zoned: each sequential zone's write pointer, as written */
};

static uint64_t draw(struct run *r, uint64_t below) { return splitmix64(&r->seed) % below; }

/* What write `id` puts in an LBA: a value of its own per write and LBA (never zero). */
static void fill_lba(uint8_t *dst, uint64_t id, uint64_t lba)
{
	uint64_t state = id << 32 | lba, v = splitmix64(&state) | 1;
	for (unsigned i = 0; i < LBA; i += 8)
		memcpy(dst + i, &v, 8);
}

static void small_device(struct run *r)
{
	ssd_params_defaults(&r->ssd);
	r->ssd.channels = 2;
	r->ssd.luns_per_channel = 2;
	r->ssd.blocks_per_plane = 64;
	r->ssd.pages_per_block = 64;
	zoned_params_defaults(&r->zoned);
	r->zoned.zone_size = ZONE_BYTES;
	r->zoned.conv_zones = 1;
	r->zoned.cross_zone_read = true;
}

static void run_init(struct run *r, enum ns_kind kind, enum durable durable, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->durable = durable;
	r->seed = seed;
	r->now = 1000000;
	small_device(r);
	char err[256];
	struct ns_params np = {.kind = kind, .lba_size = LBA, .ssd = &r->ssd,
			       .zoned = kind == NS_KIND_ZONED ? &r->zoned : NULL,
			       .plp = durable == PLP};
	r->ns = ns_create(&np, err, sizeof(err));
	if (!r->ns)
		fail_msg("ns_create: %s", err);
	if (kind == NS_KIND_SSD) {
		r->ssd_twin = ssd_create(&r->ssd, err, sizeof(err));
		r->region = 64 * PAGE / LBA; /* small: writes overlap often */
	} else {
		/* As test_zoned.c: each zone spans both channels, one die each. */
		struct zone_flash_layout layout = {.channels = 0, .ways = 1,
						   .zone_cap_bytes = ZONE_BYTES,
						   .finish = (enum zone_finish_policy)r->zoned.finish};
		r->zone_twin = zone_flash_create(&r->ssd, &layout, err, sizeof(err));
		r->region = (1 + SEQ_ZONES) * ZONE_LBAS;
	}
	assert_true(r->ssd_twin || r->zone_twin);
	if (durable == CACHE_OFF)
		ns_set_write_cache(r->ns, false);
	r->data = malloc(r->region * LBA);
	assert_non_null(r->data);
}

static void run_free(struct run *r)
{
	ns_destroy(r->ns);
	ssd_destroy(r->ssd_twin);
	zone_flash_destroy(r->zone_twin);
	free(r->data);
}

/* The twin's call for a write the kind just took: when the host hears back, when on NAND. */
static uint64_t twin_write(struct run *r, const struct write *w, uint64_t *on_nand)
{
	bool fua = w->fua || r->durable == CACHE_OFF;
	if (r->ssd_twin) {
		uint64_t first = w->slba * LBA / PAGE, end = ((w->slba + w->nlb) * LBA + PAGE - 1) / PAGE;
		return ssd_write_placed_at(r->ssd_twin, first, (uint32_t)(end - first), 0, 0, fua,
					   r->now, NULL, on_nand);
	}
	uint64_t zone = w->slba / ZONE_LBAS, from = (w->slba % ZONE_LBAS) * LBA;
	uint64_t to = from + (uint64_t)w->nlb * LBA;
	return zone ? zone_flash_commit_at(r->zone_twin, zone, from, to, fua, r->now, NULL, on_nand)
		    : zone_flash_overwrite_at(r->zone_twin, 0, from, to, fua, r->now, NULL, on_nand);
}

static void one_write(struct run *r, bool before_flush)
{
	assert_true(r->n < MAX_WRITES);
	struct write *w = &r->w[r->n];
	*w = (struct write){.nlb = 1 + (uint32_t)draw(r, draw(r, 4) ? 8 : MAX_NLB),
			    .fua = r->durable == FUA && draw(r, 3) == 0, .before_flush = before_flush};
	uint64_t zone = r->kind == NS_KIND_ZONED ? draw(r, 1 + SEQ_ZONES) : 0;
	if (zone) { /* at the write pointer */
		if (r->seq_wp[zone - 1] + w->nlb > ZONE_LBAS)
			zone = 0;
		else
			w->slba = zone * ZONE_LBAS + r->seq_wp[zone - 1];
	}
	if (!zone) {
		uint64_t span = r->kind == NS_KIND_ZONED ? ZONE_LBAS : r->region;
		w->slba = draw(r, span - w->nlb + 1);
	}
	for (uint32_t i = 0; i < w->nlb; i++)
		fill_lba(r->buf + i * LBA, r->n, w->slba + i);
	struct ns_io io = {.slba = w->slba, .nlb = w->nlb, .buf = r->buf, .fua = w->fua,
			   .now_ns = r->now};
	assert_int_equal(r->ns->ops->write(r->ns, &io), NVME_SC_SUCCESS);
	w->done = io.done_ns;
	assert_int_equal(w->done, twin_write(r, w, &w->on_nand));
	/* Durable when acknowledged: its pages are on NAND by its completion. */
	if (w->fua || r->durable == CACHE_OFF)
		assert_true(w->on_nand <= w->done);
	if (zone)
		r->seq_wp[zone - 1] += w->nlb;
	r->n++;
}

/* A read now and then: it takes dies and channels, so it moves later writes' times. */
static void one_read(struct run *r)
{
	if (r->kind != NS_KIND_SSD)
		return;
	uint32_t nlb = 1 + (uint32_t)draw(r, MAX_NLB);
	uint64_t slba = draw(r, r->region - nlb + 1);
	struct ns_io io = {.slba = slba, .nlb = nlb, .buf = r->buf, .now_ns = r->now};
	assert_int_equal(r->ns->ops->read(r->ns, &io), NVME_SC_SUCCESS);
	uint64_t first = slba * LBA / PAGE, end = ((slba + nlb) * LBA + PAGE - 1) / PAGE;
	assert_int_equal(io.done_ns, ssd_read(r->ssd_twin, first, (uint32_t)(end - first), r->now, NULL));
}

static void flush(struct run *r)
{
	struct ns_io io = {.now_ns = r->now};
	assert_int_equal(r->ns->ops->flush(r->ns, &io), NVME_SC_SUCCESS);
	r->flush_done = io.done_ns;
	if (r->ssd_twin)
		assert_int_equal(r->flush_done, ssd_flush(r->ssd_twin, r->now, NULL));
	else
		assert_int_equal(r->flush_done, zone_flash_flush(r->zone_twin, r->now, NULL));
}

/* Writes arriving a few microseconds apart (faster than NAND takes them), the cut, the
 * region read back. */
static void run_sequence(struct run *r)
{
	unsigned writes = 300 + (unsigned)draw(r, 200);
	for (unsigned i = 0; i < writes; i++) {
		r->now += draw(r, 20000);
		if (draw(r, 8) == 0)
			one_read(r);
		bool before_flush = r->durable == FLUSH && i < writes / 2;
		if (r->durable == FLUSH && i == writes / 2) {
			flush(r);
			r->now += draw(r, 20000); /* the next writes may come before it completes */
		}
		one_write(r, before_flush);
	}
	r->cut_at = r->now + draw(r, 200000);
	if (r->durable == FLUSH && r->cut_at < r->flush_done)
		r->cut_at = r->flush_done; /* the Flush completed: the host was told */
	r->lost = ns_power_cut(r->ns, r->cut_at);
	for (uint64_t lba = 0; lba < r->region; lba += MAX_NLB) {
		struct ns_io io = {.slba = lba, .nlb = MAX_NLB, .buf = r->buf,
				   .now_ns = r->cut_at + 1000000000};
		assert_int_equal(r->ns->ops->read(r->ns, &io), NVME_SC_SUCCESS);
		memcpy(r->data + lba * LBA, io.data, MAX_NLB * LBA);
	}
}

static bool covers(const struct write *w, uint64_t lba) { return lba >= w->slba && lba < w->slba + w->nlb; }

/*
 * The model's word: an LBA holds the newest write on NAND by the cut, unless a newer one was
 * lost; then what the oldest of those found there (an ssd and a conventional zone keep the
 * old data: the newest write on NAND, or nothing; a sequential zone kept none: zeroes, and
 * there nothing was older anyway).
 */
static void check_against_model(struct run *r)
{
	uint64_t went_back = 0;
	uint8_t want[LBA];
	for (uint64_t lba = 0; lba < r->region; lba++) {
		int kept = -1;
		bool lost = false;
		for (unsigned i = 0; i < r->n; i++) {
			if (!covers(&r->w[i], lba))
				continue;
			if (r->durable == PLP || r->w[i].on_nand <= r->cut_at) {
				kept = (int)i;
				lost = false;
			} else {
				lost = true;
			}
		}
		went_back += lost;
		if (kept >= 0)
			fill_lba(want, (uint64_t)kept, lba);
		else
			memset(want, 0, LBA);
		if (memcmp(r->data + lba * LBA, want, LBA))
			fail_msg("%s, seed %#" PRIx64 ": LBA %" PRIu64 " after the cut at %" PRIu64
				 " is not %s", r->kind == NS_KIND_SSD ? "ssd" : "zoned", r->seed, lba,
				 r->cut_at, kept >= 0 ? "the newest write on NAND" : "zeroes");
	}
	assert_int_equal(r->lost, went_back);
}

/* A sequential zone's write pointer went back to its first lost LBA: a write there is taken,
 * one a block further is not. Lost writes of a zone are always its last ones. */
static void check_write_pointers(struct run *r)
{
	for (uint64_t z = 1; z <= SEQ_ZONES; z++) {
		uint64_t wp = r->seq_wp[z - 1];
		bool seen_lost = false;
		for (unsigned i = 0; i < r->n; i++) {
			const struct write *w = &r->w[i];
			if (w->slba / ZONE_LBAS != z)
				continue;
			bool lost = r->durable != PLP && w->on_nand > r->cut_at;
			assert_true(lost || !seen_lost); /* nothing kept after a lost write */
			if (lost && !seen_lost)
				wp = w->slba % ZONE_LBAS;
			seen_lost |= lost;
		}
		if (wp + 2 > ZONE_LBAS)
			continue;
		r->now = r->cut_at + 2000000000;
		struct ns_io io = {.slba = z * ZONE_LBAS + wp + 1, .nlb = 1, .buf = r->buf,
				   .now_ns = r->now};
		assert_int_equal(r->ns->ops->write(r->ns, &io),
				 NVME_SC_ZONE_INVALID_WRITE | NVME_STATUS_DNR);
		io = (struct ns_io){.slba = z * ZONE_LBAS + wp, .nlb = 1, .buf = r->buf,
				    .now_ns = r->now};
		assert_int_equal(r->ns->ops->write(r->ns, &io), NVME_SC_SUCCESS);
	}
}

static uint64_t writes_lost(const struct run *r)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < r->n; i++)
		n += r->w[i].on_nand > r->cut_at;
	return n;
}

static void twice(enum ns_kind kind, enum durable durable, uint64_t seed)
{
	struct run *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	run_init(a, kind, durable, seed);
	run_init(b, kind, durable, seed);
	run_sequence(a);
	run_sequence(b);
	/* The same: what was lost and what reads back. */
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->cut_at, b->cut_at);
	assert_int_equal(a->lost, b->lost);
	assert_memory_equal(a->data, b->data, a->region * LBA);
	check_against_model(a);
	/* Each write's fate is the model's: durable ones are never lost, and without protection
	 * the buffer's writes are (else the test would prove nothing). */
	for (unsigned i = 0; i < a->n; i++) {
		const struct write *w = &a->w[i];
		if (w->before_flush || (w->fua && w->done <= a->cut_at) ||
		    (durable == CACHE_OFF && w->done <= a->cut_at))
			assert_true(w->on_nand <= a->cut_at);
	}
	if (durable == PLP) {
		assert_int_equal(a->lost, 0);
	} else if (durable != CACHE_OFF) {
		assert_true(writes_lost(a) > 0 && writes_lost(a) < a->n);
		assert_true(a->lost > 0);
	}
	if (kind == NS_KIND_ZONED)
		check_write_pointers(a);
	run_free(a);
	run_free(b);
	free(a);
	free(b);
}

static void seeds(enum ns_kind kind, enum durable durable)
{
	for (uint64_t seed = 1; seed <= 6; seed++)
		twice(kind, durable, seed * 0x9e3779b9u + durable);
}

static void test_ssd_cut(void **state) { (void)state; seeds(NS_KIND_SSD, NONE); }
static void test_ssd_flush(void **state) { (void)state; seeds(NS_KIND_SSD, FLUSH); }
static void test_ssd_fua(void **state) { (void)state; seeds(NS_KIND_SSD, FUA); }
static void test_ssd_cache_off(void **state) { (void)state; seeds(NS_KIND_SSD, CACHE_OFF); }
static void test_ssd_plp(void **state) { (void)state; seeds(NS_KIND_SSD, PLP); }
static void test_zoned_cut(void **state) { (void)state; seeds(NS_KIND_ZONED, NONE); }
static void test_zoned_flush(void **state) { (void)state; seeds(NS_KIND_ZONED, FLUSH); }
static void test_zoned_fua(void **state) { (void)state; seeds(NS_KIND_ZONED, FUA); }
static void test_zoned_plp(void **state) { (void)state; seeds(NS_KIND_ZONED, PLP); }

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ssd_cut),	  cmocka_unit_test(test_ssd_flush),
	    cmocka_unit_test(test_ssd_fua),	  cmocka_unit_test(test_ssd_cache_off),
	    cmocka_unit_test(test_ssd_plp),	  cmocka_unit_test(test_zoned_cut),
	    cmocka_unit_test(test_zoned_flush),	  cmocka_unit_test(test_zoned_fua),
	    cmocka_unit_test(test_zoned_plp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
