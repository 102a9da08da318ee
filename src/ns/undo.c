/*
 * What a power cut takes back: every write whose pages the model had not programmed to NAND
 * by the instant of the cut (still in the volatile write buffer, or not yet accepted) is lost,
 * and its LBAs read back what they held before it. Each write therefore leaves a record here
 * (its range, the old data when the range held any, when its pages reach NAND), dropped once
 * they have; the records never outgrow the write buffer plus the writes in flight.
 */
#include "ns/undo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

struct undo_rec {
	uint64_t slba;
	uint32_t nlb;
	bool committed;	  /* the write is over: the record may go once on_nand has passed */
	bool placed;	  /* ...and it landed (else it failed: a cut neither undoes nor keeps it) */
	bool in_ring;	  /* data is in the byte ring (else malloc'd, when the ring was full) */
	uint64_t on_nand; /* its last page is programmed then */
	uint8_t *data;	  /* the old contents; NULL: the range restores as zeroes */
	uint64_t data_off, data_len; /* in the byte ring */
	uint64_t tag;	  /* the caller's (zoned: zone and reset count) */
};

struct ns_undo {
	pthread_mutex_t lock;
	uint32_t lba_shift;
	/* A ring of cap records, head .. head + count; the one at head is number base (records
	 * move when the ring grows, so writes in flight name theirs by number). */
	struct undo_rec *recs;
	uint64_t head, count, cap, base;
	/* A ring of data_cap bytes, in the order the records are. Old data never moves (a copy
	 * may be in flight into it): a ring too small is replaced once it is empty. */
	uint8_t *data;
	uint64_t data_head, data_tail, data_used, data_cap, data_want;
};

struct ns_undo *ns_undo_create(uint32_t lba_shift)
{
	struct ns_undo *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	pthread_mutex_init(&u->lock, NULL);
	u->lba_shift = lba_shift;
	return u;
}

static void drop_oldest(struct ns_undo *u);

void ns_undo_destroy(struct ns_undo *u)
{
	if (!u)
		return;
	while (u->count)
		drop_oldest(u);
	pthread_mutex_destroy(&u->lock);
	free(u->recs);
	free(u->data);
	free(u);
}

static struct undo_rec *rec_at(struct ns_undo *u, uint64_t i) { return &u->recs[(u->head + i) % u->cap]; }

static void drop_oldest(struct ns_undo *u)
{
	struct undo_rec *r = rec_at(u, 0);
	if (r->in_ring) {
		/* A record may sit after a skipped end of the ring: free up to where it ends. */
		uint64_t end = r->data_off + r->data_len;
		u->data_used -= end >= u->data_head ? end - u->data_head
						    : u->data_cap - u->data_head + end;
		u->data_head = end;
	} else {
		free(r->data);
	}
	u->head = (u->head + 1) % u->cap;
	u->count--;
	u->base++;
}

/* An empty ring can be replaced by a larger one: nothing points into it. */
static void ring_reset(struct ns_undo *u)
{
	u->data_head = u->data_tail = u->data_used = 0;
	if (u->data_want > u->data_cap) {
		uint8_t *data = malloc(u->data_want);
		if (data) {
			free(u->data);
			u->data = data;
			u->data_cap = u->data_want;
		}
	}
}

/* Drops records whose pages are on NAND by now, from the oldest on. */
static void retire(struct ns_undo *u, uint64_t now)
{
	while (u->count) {
		struct undo_rec *r = rec_at(u, 0);
		if (!r->committed || r->on_nand > now)
			return;
		drop_oldest(u);
	}
	ring_reset(u);
}

static int grow_records(struct ns_undo *u)
{
	uint64_t cap = u->cap ? 2 * u->cap : 256;
	struct undo_rec *recs = malloc(cap * sizeof(*recs));
	if (!recs)
		return -1;
	for (uint64_t i = 0; i < u->count; i++)
		recs[i] = *rec_at(u, i);
	free(u->recs);
	u->recs = recs;
	u->cap = cap;
	u->head = 0;
	return 0;
}

/* len contiguous bytes of the ring, or NULL when it has no room for them now. */
static uint8_t *ring_take(struct ns_undo *u, uint64_t len, uint64_t *off)
{
	if (!u->data_cap)
		return NULL;
	bool wrapped = u->data_used && u->data_tail <= u->data_head;
	if (!wrapped && u->data_tail + len <= u->data_cap) {
		*off = u->data_tail;
	} else if (!wrapped && len <= u->data_head) {
		u->data_used += u->data_cap - u->data_tail; /* the end is skipped */
		*off = 0;
	} else if (wrapped && u->data_tail + len <= u->data_head) {
		*off = u->data_tail;
	} else {
		return NULL;
	}
	u->data_tail = *off + len;
	u->data_used += len;
	return u->data + *off;
}

uint64_t ns_undo_begin(struct ns_undo *u, uint64_t slba, uint32_t nlb, bool keep_old, uint64_t tag,
		       uint64_t now, uint8_t **old)
{
	pthread_mutex_lock(&u->lock);
	retire(u, now);
	struct undo_rec *r = NULL;
	uint64_t number = 0;
	if (u->count == u->cap && grow_records(u))
		goto out;
	uint64_t len = keep_old ? (uint64_t)nlb << u->lba_shift : 0, off = 0;
	uint8_t *data = len ? ring_take(u, len, &off) : NULL;
	bool in_ring = data != NULL;
	if (len && !data) {
		/* The ring is full: this record's data lives apart, and the next ring is larger. */
		uint64_t want = u->data_cap ? 2 * u->data_cap : 1 << 20;
		while (want < 4 * len)
			want *= 2;
		u->data_want = want > u->data_want ? want : u->data_want;
		if (!(data = malloc(len)))
			goto out;
		if (!u->count)
			ring_reset(u);
	}
	number = u->base + u->count + 1;
	r = rec_at(u, u->count++);
	*r = (struct undo_rec){.slba = slba, .nlb = nlb, .in_ring = in_ring, .data = data,
			       .data_off = off, .data_len = in_ring ? len : 0, .tag = tag};
	*old = data;
out:
	pthread_mutex_unlock(&u->lock);
	return number;
}

static void finish(struct ns_undo *u, uint64_t number, bool placed, uint64_t on_nand)
{
	pthread_mutex_lock(&u->lock);
	/* Uncommitted records are never dropped, so number - 1 is still in the ring (unless a
	 * power cut dropped everything: then the write is gone anyway). */
	if (number - 1 >= u->base && number - 1 < u->base + u->count) {
		struct undo_rec *r = rec_at(u, number - 1 - u->base);
		r->committed = true;
		r->placed = placed;
		r->on_nand = on_nand;
	}
	pthread_mutex_unlock(&u->lock);
}

void ns_undo_commit(struct ns_undo *u, uint64_t number, uint64_t on_nand)
{
	finish(u, number, true, on_nand);
}

void ns_undo_cancel(struct ns_undo *u, uint64_t number) { finish(u, number, false, 0); }

/* What became of an LBA of a record by a cut, as newer records say (in rising precedence). */
enum newer {
	NEWER_NONE,    /* no newer placed write has it */
	NEWER_LOST,    /* only newer lost writes have it: it went back already (counted) */
	NEWER_ON_NAND, /* a newer write reached NAND: it keeps that write's data */
};

/* A record's LBAs are looked at this many at a time, one pass over the newer records each. */
#define CUT_CHUNK 4096u

/* state[k] for LBA from + k of the i-th record, k < n, by a cut at `now`. */
static void newer_writes(struct ns_undo *u, uint64_t i, uint64_t from, uint32_t n, uint64_t now,
			 uint8_t *state)
{
	memset(state, NEWER_NONE, n);
	uint64_t at = (u->head + i) % u->cap; /* the ring's slot of record j, without a division */
	for (uint64_t j = i + 1; j < u->count; j++) {
		at = at + 1 == u->cap ? 0 : at + 1;
		const struct undo_rec *r = &u->recs[at];
		uint64_t lo = r->slba > from ? r->slba : from;
		uint64_t hi = r->slba + r->nlb < from + n ? r->slba + r->nlb : from + n;
		if (!r->placed || lo >= hi)
			continue;
		uint8_t s = r->on_nand <= now ? NEWER_ON_NAND : NEWER_LOST;
		for (uint64_t lba = lo; lba < hi; lba++)
			if (state[lba - from] < s)
				state[lba - from] = s;
	}
}

uint64_t ns_undo_power_cut(struct ns_undo *u, uint64_t now,
			   void (*restore)(void *ctx, uint64_t slba, uint32_t nlb, const uint8_t *old,
					   uint64_t tag),
			   void *ctx)
{
	pthread_mutex_lock(&u->lock);
	uint64_t lost = 0;
	uint8_t state[CUT_CHUNK];
	/*
	 * Newest first: an LBA whose newest write reached NAND keeps it; otherwise each lost
	 * write hands back what was there before it, until a write that reached NAND (or none),
	 * so the oldest lost write has the last word. Nothing is allocated: a cut cannot fail.
	 */
	for (uint64_t i = u->count; i-- > 0;) {
		struct undo_rec *r = rec_at(u, i);
		if (!r->placed || r->on_nand <= now)
			continue; /* not placed (in progress, or failed), or on NAND: kept */
		uint64_t end = r->slba + r->nlb;
		for (uint64_t from = r->slba; from < end; from += CUT_CHUNK) {
			uint32_t n = end - from < CUT_CHUNK ? (uint32_t)(end - from) : CUT_CHUNK;
			newer_writes(u, i, from, n, now, state);
			/* Runs of LBAs no newer write on NAND has go back to their old contents; an
			 * LBA counts once, at the newest lost write that has it. */
			for (uint32_t k = 0; k < n;) {
				if (state[k] == NEWER_ON_NAND) {
					k++;
					continue;
				}
				uint32_t run = k;
				for (; run < n && state[run] != NEWER_ON_NAND; run++)
					lost += state[run] == NEWER_NONE;
				uint64_t lba = from + k;
				restore(ctx, lba, run - k,
					r->data ? r->data + ((lba - r->slba) << u->lba_shift) : NULL,
					r->tag);
				k = run;
			}
		}
	}
	while (u->count)
		drop_oldest(u);
	u->base = 0;
	ring_reset(u);
	pthread_mutex_unlock(&u->lock);
	return lost;
}
