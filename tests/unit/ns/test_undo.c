/*
 * The power-cut undo log (ns/undo.c) against a reference: random writes (overlapping ranges,
 * lengths up to a quarter of the namespace, old data kept or not, several in flight on
 * disjoint ranges), each placed with a random instant its pages reach NAND (out of order
 * too), and cuts at random instants. After each cut every LBA must hold what the reference
 * says (the newest write on NAND by the cut, else what the range held before the oldest lost
 * write after it, zeroes where that write kept no old data), restore() must be called only on
 * LBAs of lost writes, newest first, with that write's tag and old data, and the count must be
 * the LBAs whose contents went back. Then the paths the random runs do not reach: an empty
 * log, records dropped once on NAND, failed writes, and memory running out.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ns/undo.h"
#include "util/util.h"

/* malloc fails when this many more calls have been made (0: never); the test links with
 * -Wl,--wrap=malloc, so undo.c's calls come here. */
static unsigned malloc_fails_in;
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_malloc(size_t size)
{
	if (malloc_fails_in && --malloc_fails_in == 0)
		return NULL;
	return __real_malloc(size);
}

#define NLBAS 256u
#define MAX_WRITES 512u

struct write {
	uint64_t slba;
	uint32_t nlb;
	bool keep_old;
	bool placed;	  /* committed */
	uint64_t on_nand;
	uint64_t number;  /* ns_undo_begin's */
};

struct ref {
	struct ns_undo *u;
	uint32_t shift, lba_bytes;
	uint64_t seed, now, cut_at;
	uint8_t *media;	  /* what the namespace holds */
	uint8_t *before;  /* what it held at the start of this epoch (the last cut) */
	uint8_t *at_cut;  /* what it held when the cut began */
	struct write w[MAX_WRITES]; /* this epoch's writes, oldest first; tag = index */
	unsigned n;
	unsigned restores, last_restored; /* restore() calls in this cut, the last one's write */
};

static uint64_t draw(struct ref *r, uint64_t below) { return splitmix64(&r->seed) % below; }

static uint8_t *lba_at(struct ref *r, uint8_t *buf, uint64_t lba) { return buf + (lba << r->shift); }

/* Write `id`'s content of an LBA: a value of its own for every write and LBA, so data that
 * lands on another LBA, or an older write's, shows. */
static void fill(struct ref *r, uint8_t *dst, uint64_t id, uint64_t lba)
{
	uint64_t state = id << 32 | lba, v = splitmix64(&state) | 1; /* never all zero */
	for (uint32_t i = 0; i < r->lba_bytes; i += 8)
		memcpy(dst + i, &v, 8);
}

static bool covers(const struct write *w, uint64_t lba) { return lba >= w->slba && lba < w->slba + w->nlb; }

static bool on_nand(const struct ref *r, const struct write *w) { return w->on_nand <= r->cut_at; }

static bool lost(const struct ref *r, const struct write *w) { return w->placed && !on_nand(r, w); }

/*
 * What an LBA holds after the cut: the newest write on NAND by then (k), unless a newer write
 * was lost; then what the oldest lost write after k found there (k's data, or what the epoch
 * began with), or zeroes when that write kept no old data. *went_back: a lost write had it.
 */
static void expected(struct ref *r, uint64_t lba, uint8_t *out, bool *went_back)
{
	int k = -1, oldest_lost = -1;
	for (unsigned i = 0; i < r->n; i++)
		if (covers(&r->w[i], lba) && r->w[i].placed && on_nand(r, &r->w[i]))
			k = (int)i;
	for (unsigned i = (unsigned)(k + 1); i < r->n && oldest_lost < 0; i++)
		if (covers(&r->w[i], lba) && lost(r, &r->w[i]))
			oldest_lost = (int)i;
	*went_back = oldest_lost >= 0;
	if (oldest_lost >= 0 && !r->w[oldest_lost].keep_old)
		memset(out, 0, r->lba_bytes);
	else if (k >= 0)
		fill(r, out, (uint64_t)k, lba);
	else
		memcpy(out, lba_at(r, r->before, lba), r->lba_bytes);
}

static void restore(void *ctx, uint64_t slba, uint32_t nlb, const uint8_t *old, uint64_t tag)
{
	struct ref *r = ctx;
	assert_true(tag < r->n);
	const struct write *w = &r->w[tag];
	/* Only LBAs of a write the cut lost, none a newer write on NAND settled, newest first. */
	assert_true(lost(r, w));
	assert_true(nlb > 0 && slba >= w->slba && slba + nlb <= w->slba + w->nlb);
	for (unsigned i = (unsigned)tag + 1; i < r->n; i++)
		for (uint64_t lba = slba; lba < slba + nlb; lba++)
			assert_false(covers(&r->w[i], lba) && r->w[i].placed && on_nand(r, &r->w[i]));
	assert_true(r->restores == 0 || tag <= r->last_restored);
	assert_int_equal(old != NULL, w->keep_old);
	r->restores++;
	r->last_restored = (unsigned)tag;
	uint64_t len = (uint64_t)nlb << r->shift;
	if (old)
		memcpy(lba_at(r, r->media, slba), old, len);
	else
		memset(lba_at(r, r->media, slba), 0, len);
}

static void ref_init(struct ref *r, uint32_t shift, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	r->shift = shift;
	r->lba_bytes = 1u << shift;
	r->seed = seed;
	r->now = 1000;
	size_t bytes = (size_t)NLBAS << shift;
	r->media = malloc(bytes);
	r->before = malloc(bytes);
	r->at_cut = malloc(bytes);
	assert_non_null(r->media);
	assert_non_null(r->before);
	assert_non_null(r->at_cut);
	for (uint64_t lba = 0; lba < NLBAS; lba++) /* what the drive held before the test */
		fill(r, lba_at(r, r->media, lba), 1u << 31, lba);
	memcpy(r->before, r->media, bytes);
	r->u = ns_undo_create(shift);
	assert_non_null(r->u);
}

static void ref_free(struct ref *r)
{
	ns_undo_destroy(r->u);
	free(r->media);
	free(r->before);
	free(r->at_cut);
}

/* What ns_write_data does: a record, the old data copied into it, the new data stored. */
static struct write *begin(struct ref *r, uint64_t slba, uint32_t nlb, bool keep_old)
{
	assert_true(r->n < MAX_WRITES);
	struct write *w = &r->w[r->n];
	*w = (struct write){.slba = slba, .nlb = nlb, .keep_old = keep_old};
	uint8_t *old = (uint8_t *)1;
	w->number = ns_undo_begin(r->u, slba, nlb, keep_old, r->n, r->now, &old);
	assert_true(w->number > 0);
	if (!keep_old)
		assert_null(old);
	else
		memcpy(old, lba_at(r, r->media, slba), (size_t)nlb << r->shift);
	for (uint64_t lba = slba; lba < slba + nlb; lba++)
		fill(r, lba_at(r, r->media, lba), r->n, lba);
	r->n++;
	return w;
}

static void commit(struct ref *r, struct write *w, uint64_t on_nand_at)
{
	ns_undo_commit(r->u, w->number, on_nand_at);
	w->placed = true;
	w->on_nand = on_nand_at;
}

/* Cuts at cut_at and checks every LBA, the calls and the count; the next epoch starts. */
static void cut_and_check(struct ref *r, uint64_t cut_at)
{
	size_t bytes = (size_t)NLBAS << r->shift;
	r->cut_at = cut_at;
	r->restores = 0;
	memcpy(r->at_cut, r->media, bytes);
	uint64_t count = ns_undo_power_cut(r->u, cut_at, restore, r);
	uint64_t went_back_lbas = 0;
	uint8_t *want = malloc(r->lba_bytes);
	for (uint64_t lba = 0; lba < NLBAS; lba++) {
		bool went_back;
		expected(r, lba, want, &went_back);
		went_back_lbas += went_back;
		if (memcmp(lba_at(r, r->media, lba), want, r->lba_bytes)) {
			fail_msg("seed %#" PRIx64 ": after a cut at %" PRIu64 ", LBA %" PRIu64
				 " holds %#" PRIx64 ", the reference %#" PRIx64,
				 r->seed, cut_at, lba, *(uint64_t *)lba_at(r, r->media, lba),
				 *(uint64_t *)want);
		}
		/* No leak: an LBA no lost write had is untouched by the cut. */
		if (!went_back)
			assert_memory_equal(lba_at(r, r->media, lba), lba_at(r, r->at_cut, lba),
					    r->lba_bytes);
	}
	free(want);
	assert_int_equal(count, went_back_lbas);
	memcpy(r->before, r->media, bytes);
	r->n = 0;
	r->now = cut_at;
}

/* A write somewhere, of 1 LBA up to a quarter of the namespace, mostly short. */
static void draw_range(struct ref *r, uint64_t *slba, uint32_t *nlb)
{
	uint32_t max = draw(r, 4) ? 8 : NLBAS / 4;
	*nlb = 1 + (uint32_t)draw(r, max);
	*slba = draw(r, NLBAS - *nlb + 1);
}

/* When a write's pages reach NAND: at once (FUA, or a buffer with room), soon, or late. */
static uint64_t draw_on_nand(struct ref *r)
{
	switch (draw(r, 4)) {
	case 0:
		return r->now;
	case 1:
		return r->now + draw(r, 50);
	case 2:
		return r->now + draw(r, 1000);
	default:
		return r->now + draw(r, 20000);
	}
}

static void random_epoch(struct ref *r)
{
	unsigned writes = 1 + (unsigned)draw(r, draw(r, 2) ? 40 : 300);
	for (unsigned i = 0; i < writes; i++) {
		r->now += draw(r, 100);
		uint64_t slba;
		uint32_t nlb;
		draw_range(r, &slba, &nlb);
		struct write *a = begin(r, slba, nlb, draw(r, 3) != 0);
		if (draw(r, 4) == 0 && i + 1 < writes) {
			/* A second write in flight before the first is placed, on other LBAs (in
			 * flight at once over the same LBAs, which one's old data is kept is not
			 * defined), placed in either order. */
			uint64_t slba2;
			uint32_t nlb2;
			draw_range(r, &slba2, &nlb2);
			if (slba2 < slba + nlb && slba < slba2 + nlb2)
				nlb2 = 0;
			if (nlb2) {
				i++;
				struct write *b = begin(r, slba2, nlb2, draw(r, 3) != 0);
				if (draw(r, 2))
					commit(r, b, draw_on_nand(r));
				commit(r, a, draw_on_nand(r));
				if (!b->placed)
					commit(r, b, draw_on_nand(r));
				continue;
			}
		}
		commit(r, a, draw_on_nand(r));
	}
	/* Before, in the middle of or after what is in flight. */
	cut_and_check(r, r->now + draw(r, draw(r, 2) ? 1000 : 25000));
}

static void random_runs(uint32_t shift, unsigned runs, unsigned epochs)
{
	for (unsigned run = 0; run < runs; run++) {
		struct ref r;
		ref_init(&r, shift, 0x5eed0000u + shift * 1000u + run);
		for (unsigned e = 0; e < epochs; e++)
			random_epoch(&r);
		ref_free(&r);
	}
}

/* 16-byte LBAs: many short epochs, the reference's corner cases. */
static void test_random_small_lbas(void **state)
{
	(void)state;
	random_runs(4, 200, 20);
}

/* 4 KiB LBAs: up to 256 KiB a write, so old data outgrows the byte ring, wraps it, lives
 * apart until a larger ring replaces it. */
static void test_random_large_lbas(void **state)
{
	(void)state;
	random_runs(12, 8, 12);
}

static unsigned calls;

static void count_call(void *ctx, uint64_t slba, uint32_t nlb, const uint8_t *old, uint64_t tag)
{
	(void)ctx, (void)slba, (void)nlb, (void)old, (void)tag;
	calls++;
}

/* Nothing to undo: a new log, one whose writes all reached NAND, a cut right after a cut. */
static void test_empty(void **state)
{
	(void)state;
	ns_undo_destroy(NULL);
	struct ns_undo *u = ns_undo_create(9);
	calls = 0;
	assert_int_equal(ns_undo_power_cut(u, 0, count_call, NULL), 0);
	assert_int_equal(ns_undo_power_cut(u, 1000, count_call, NULL), 0);
	uint8_t *old;
	uint64_t n = ns_undo_begin(u, 0, 8, true, 0, 1000, &old);
	ns_undo_commit(u, n, 1500);
	assert_int_equal(ns_undo_power_cut(u, 1500, count_call, NULL), 0);
	assert_int_equal(ns_undo_power_cut(u, 99999, count_call, NULL), 0);
	assert_int_equal(calls, 0);
	/* A write that never reached the model (no commit) did not happen: nothing to undo. */
	n = ns_undo_begin(u, 0, 8, true, 0, 2000, &old);
	assert_int_equal(ns_undo_power_cut(u, 2000, count_call, NULL), 0);
	assert_int_equal(calls, 0);
	ns_undo_commit(u, n, 3000); /* after the cut dropped it: no effect */
	assert_int_equal(ns_undo_power_cut(u, 2500, count_call, NULL), 0);
	assert_int_equal(calls, 0);
	ns_undo_destroy(u);
}

/*
 * A record is dropped once its pages are on NAND and every older one is: its old data's room
 * in the ring is free again. The ring is observed through where *old points.
 */
static void test_dropped_on_nand(void **state)
{
	(void)state;
	struct ns_undo *u = ns_undo_create(9);
	uint8_t *a_old, *b_old, *c_old, *d_old;
	/* The first record's data lives apart (there is no ring yet; one of 1 MiB is made). */
	uint64_t a = ns_undo_begin(u, 0, 8, true, 0, 100, &a_old);
	ns_undo_commit(u, a, 200);
	uint64_t b = ns_undo_begin(u, 8, 8, true, 1, 300, &b_old); /* a dropped: the ring starts */
	ns_undo_commit(u, b, 1000);
	uint64_t c = ns_undo_begin(u, 16, 8, true, 2, 400, &c_old); /* b is not on NAND yet */
	assert_ptr_equal(c_old, b_old + 8 * 512);
	ns_undo_commit(u, c, 500);
	/* At 600 c is on NAND but b, older, is not: neither is dropped, d goes after c. */
	uint64_t d = ns_undo_begin(u, 24, 8, true, 3, 600, &d_old);
	assert_ptr_equal(d_old, c_old + 8 * 512);
	ns_undo_commit(u, d, 1000);
	/* At 1000 all are on NAND: dropped, the next record starts the ring again. */
	uint8_t *e_old;
	uint64_t e = ns_undo_begin(u, 0, 8, true, 4, 1000, &e_old);
	assert_ptr_equal(e_old, b_old);
	ns_undo_commit(u, e, 5000);
	calls = 0;
	assert_int_equal(ns_undo_power_cut(u, 1000, count_call, NULL), 8);
	assert_int_equal(calls, 1);
	ns_undo_destroy(u);
}

static uint64_t restored_tag;

static void note_tag(void *ctx, uint64_t slba, uint32_t nlb, const uint8_t *old, uint64_t tag)
{
	count_call(ctx, slba, nlb, old, tag);
	restored_tag = tag;
}

/*
 * A write that failed (its old data unreadable, or its new data not stored) is as if it had
 * not been made: an older lost write under it still goes back, and it restores nothing of
 * its own, whatever its pages' time.
 */
static void test_failed_write(void **state)
{
	(void)state;
	struct ns_undo *u = ns_undo_create(9);
	uint8_t *old;
	uint64_t a = ns_undo_begin(u, 0, 8, true, 1, 100, &old);
	ns_undo_commit(u, a, 5000); /* lost at a cut at 1000 */
	uint64_t b = ns_undo_begin(u, 4, 8, true, 2, 200, &old);
	ns_undo_cancel(u, b);
	uint64_t c = ns_undo_begin(u, 100, 8, false, 3, 300, &old);
	ns_undo_cancel(u, c);
	calls = 0;
	assert_int_equal(ns_undo_power_cut(u, 1000, note_tag, NULL), 8);
	assert_int_equal(calls, 1);
	assert_int_equal(restored_tag, 1);
	/* A failed write is dropped like one on NAND: it holds no older record back. */
	b = ns_undo_begin(u, 4, 8, true, 2, 2000, &old);
	ns_undo_cancel(u, b);
	uint8_t *first_old;
	a = ns_undo_begin(u, 0, 8, true, 1, 3000, &first_old);
	ns_undo_commit(u, a, 3000);
	uint8_t *next_old;
	uint64_t d = ns_undo_begin(u, 0, 8, true, 1, 3000, &next_old);
	assert_ptr_equal(next_old, first_old); /* b and a are gone: the ring starts again */
	ns_undo_commit(u, d, 3000);
	ns_undo_destroy(u);
}

#define BIG 10000u /* LBAs of 8 bytes: past the LBAs a cut looks at in one pass */
static uint64_t big_media[BIG];

static void restore_big(void *ctx, uint64_t slba, uint32_t nlb, const uint8_t *old, uint64_t tag)
{
	(void)ctx, (void)tag;
	assert_true(slba + nlb <= BIG);
	if (old)
		memcpy(&big_media[slba], old, (size_t)nlb * 8);
	else
		memset(&big_media[slba], 0, (size_t)nlb * 8);
}

/* A write larger than a cut takes in one pass, with newer writes over its pieces' edges. */
static void test_large_write(void **state)
{
	(void)state;
	struct ns_undo *u = ns_undo_create(3);
	for (uint64_t lba = 0; lba < BIG; lba++)
		big_media[lba] = lba; /* before: each LBA its own number */
	const struct { uint64_t slba; uint32_t nlb; uint64_t on_nand; } w[] = {
	    {0, BIG, 9000},    /* lost */
	    {4090, 10, 500},   /* on NAND: keeps 4090..4099 */
	    {8190, 10, 9000},  /* lost: counted once with the first */
	    {9999, 1, 500},    /* on NAND: the last LBA */
	};
	for (unsigned i = 0; i < ARRAY_SIZE(w); i++) {
		uint8_t *old;
		uint64_t n = ns_undo_begin(u, w[i].slba, w[i].nlb, true, i, 100, &old);
		memcpy(old, &big_media[w[i].slba], (size_t)w[i].nlb * 8);
		for (uint64_t lba = w[i].slba; lba < w[i].slba + w[i].nlb; lba++)
			big_media[lba] = (i + 1) << 20 | lba;
		ns_undo_commit(u, n, w[i].on_nand);
	}
	assert_int_equal(ns_undo_power_cut(u, 1000, restore_big, NULL), BIG - 11);
	for (uint64_t lba = 0; lba < BIG; lba++) {
		uint64_t want = lba >= 4090 && lba < 4100 ? 2u << 20 | lba
			      : lba == 9999		 ? 4u << 20 | lba
							 : lba;
		assert_int_equal(big_media[lba], want);
	}
	ns_undo_destroy(u);
}

/* Out of memory: the write is refused (number 0) and the log is as it was. */
static void test_out_of_memory(void **state)
{
	(void)state;
	struct ns_undo *u = ns_undo_create(9);
	uint8_t *old = NULL;
	malloc_fails_in = 1; /* the record array */
	assert_int_equal(ns_undo_begin(u, 0, 8, true, 0, 100, &old), 0);
	malloc_fails_in = 2; /* the record array, then the old data (no ring yet) */
	assert_int_equal(ns_undo_begin(u, 0, 8, true, 0, 100, &old), 0);
	malloc_fails_in = 0;
	uint64_t a = ns_undo_begin(u, 8, 4, true, 7, 100, &old);
	assert_true(a > 0);
	ns_undo_commit(u, a, 5000);
	/* 256 records fill the record array: the 257th needs a larger one. */
	for (unsigned i = 1; i < 256; i++)
		ns_undo_commit(u, ns_undo_begin(u, 8, 4, false, 7, 100, &old), 5000);
	malloc_fails_in = 1;
	assert_int_equal(ns_undo_begin(u, 100, 4, false, 8, 100, &old), 0);
	/* A cut restores what was lost before memory ran out, and only that. */
	calls = 0;
	assert_int_equal(ns_undo_power_cut(u, 200, count_call, NULL), 4);
	assert_int_equal(calls, 256);
	malloc_fails_in = 0;
	ns_undo_destroy(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_small_lbas),
	    cmocka_unit_test(test_random_large_lbas),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_dropped_on_nand),
	    cmocka_unit_test(test_failed_write),
	    cmocka_unit_test(test_large_write),
	    cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
