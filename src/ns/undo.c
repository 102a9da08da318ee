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
	bool committed;	  /* the model has placed it: on_nand is known */
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
	uint64_t lost_total;
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

void ns_undo_commit(struct ns_undo *u, uint64_t number, uint64_t on_nand)
{
	pthread_mutex_lock(&u->lock);
	/* Uncommitted records are never dropped, so number - 1 is still in the ring (unless a
	 * power cut dropped everything: then the write is gone anyway). */
	if (number - 1 >= u->base && number - 1 < u->base + u->count) {
		struct undo_rec *r = rec_at(u, number - 1 - u->base);
		r->committed = true;
		r->on_nand = on_nand;
	}
	pthread_mutex_unlock(&u->lock);
}

struct range {
	uint64_t start, end;
};

/* LBAs already settled by a newer write that reached NAND (or a newer lost one restored). */
static bool covered(const struct range *set, uint64_t n, uint64_t lba)
{
	for (uint64_t i = 0; i < n; i++)
		if (lba >= set[i].start && lba < set[i].end)
			return true;
	return false;
}

uint64_t ns_undo_power_cut(struct ns_undo *u, uint64_t now,
			   void (*restore)(void *ctx, uint64_t slba, uint32_t nlb, const uint8_t *old,
					   uint64_t tag),
			   void *ctx)
{
	pthread_mutex_lock(&u->lock);
	struct range *kept = malloc((u->count + 1) * sizeof(*kept));
	uint64_t nkept = 0, lost = 0;
	/*
	 * Newest first: an LBA whose newest write reached NAND keeps it; otherwise each lost
	 * write hands back what was there before it, until a write that reached NAND (or none).
	 */
	for (uint64_t i = u->count; kept && i-- > 0;) {
		struct undo_rec *r = rec_at(u, i);
		if (!r->committed)
			continue; /* never placed: the write did not happen */
		if (r->on_nand <= now) {
			kept[nkept++] = (struct range){r->slba, r->slba + r->nlb};
			continue;
		}
		/* Runs of LBAs no newer kept write covers go back to their old contents. */
		for (uint64_t lba = r->slba; lba < r->slba + r->nlb;) {
			if (covered(kept, nkept, lba)) {
				lba++;
				continue;
			}
			uint64_t end = lba + 1;
			while (end < r->slba + r->nlb && !covered(kept, nkept, end))
				end++;
			const uint8_t *old = r->data ? r->data + ((lba - r->slba) << u->lba_shift)
						     : NULL;
			restore(ctx, lba, (uint32_t)(end - lba), old, r->tag);
			lost += end - lba;
			lba = end;
		}
	}
	free(kept);
	while (u->count)
		drop_oldest(u);
	u->base = 0;
	ring_reset(u);
	u->lost_total += lost;
	pthread_mutex_unlock(&u->lock);
	return lost;
}
