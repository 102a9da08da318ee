/*
 * GC victim candidates, kept per GC domain: the closed records of a domain (erase units of a
 * die, or FDP reclaim units of a reclaim group) and how to pick the next one by the policy.
 *
 * Greedy keeps each domain's closed records in lists by valid count, so the emptiest one is
 * found in O(1) amortised: the lowest non-empty bucket only moves down when a page is
 * invalidated, and moves up by skipping empty buckets, at most `capacity` steps between two
 * victims.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "ftl/ftl_internal.h"
#include "util/util.h"

static inline uint32_t domain_of(const struct victim_set *v, uint32_t id)
{
	return v->rec_domain ? v->rec_domain[id] : flash_div(&v->by_per_domain, id);
}

static inline uint32_t *bucket(const struct victim_set *v, uint32_t domain, uint32_t valid)
{
	return &v->bucket_head[(uint64_t)domain * (v->capacity + 1) + valid];
}

static void list_push_front(struct unit *recs, uint32_t *head, uint32_t id)
{
	recs[id].prev = NO_UNIT;
	recs[id].next = *head;
	if (*head != NO_UNIT)
		recs[*head].prev = id;
	*head = id;
}

static void list_unlink(struct unit *recs, uint32_t *head, uint32_t *tail, uint32_t id)
{
	struct unit *rec = &recs[id];
	if (rec->prev != NO_UNIT)
		recs[rec->prev].next = rec->next;
	else
		*head = rec->next;
	if (rec->next != NO_UNIT)
		recs[rec->next].prev = rec->prev;
	else if (tail)
		*tail = rec->prev;
}

int victim_set_init(struct victim_set *v, struct unit *recs, uint32_t domains, uint32_t per_domain,
		    uint32_t capacity, const struct ssd_params *params, uint64_t *rng,
		    const uint64_t *seq)
{
	*v = (struct victim_set){
	    .recs = recs,
	    .by_per_domain = flash_divisor_make(per_domain),
	    .domains = calloc(domains, sizeof(*v->domains)),
	    .ndomains = domains,
	    .per_domain = per_domain,
	    .capacity = capacity,
	    .policy = params->gc_policy,
	    .dchoice = params->gc_dchoice,
	    .rng = rng,
	    .seq = seq,
	};
	if (v->policy == GC_GREEDY)
		v->bucket_head = malloc((size_t)domains * (capacity + 1) * sizeof(*v->bucket_head));
	if (!v->domains || (v->policy == GC_GREEDY && !v->bucket_head)) {
		victim_set_free(v);
		return -1;
	}
	for (uint32_t d = 0; d < domains; d++) {
		v->domains[d].first = d * per_domain;
		v->domains[d].count = per_domain;
	}
	victim_set_clear(v);
	return 0;
}

void victim_set_clear(struct victim_set *v)
{
	for (uint32_t d = 0; d < v->ndomains; d++) {
		if (v->policy == GC_GREEDY)
			for (uint32_t valid = 0; valid <= v->capacity; valid++)
				*bucket(v, d, valid) = NO_UNIT;
		v->domains[d].closed_count = 0;
		v->domains[d].min_bucket = v->capacity;
		v->domains[d].fifo_head = v->domains[d].fifo_tail = NO_UNIT;
	}
}

void victim_set_free(struct victim_set *v)
{
	free(v->domains);
	free(v->bucket_head);
	v->domains = NULL;
	v->bucket_head = NULL;
}

void victim_set_add(struct victim_set *v, uint32_t id)
{
	v->recs[id].closed_seq = *v->seq;
	victim_set_restore(v, id);
}

void victim_set_restore(struct victim_set *v, uint32_t id)
{
	struct unit *rec = &v->recs[id];
	uint32_t d = domain_of(v, id);
	struct victim_domain *dom = &v->domains[d];
	rec->state = UNIT_CLOSED;
	dom->closed_count++;
	if (v->policy == GC_FIFO) {
		rec->next = NO_UNIT;
		rec->prev = dom->fifo_tail;
		if (dom->fifo_tail != NO_UNIT)
			v->recs[dom->fifo_tail].next = id;
		else
			dom->fifo_head = id;
		dom->fifo_tail = id;
	} else if (v->policy == GC_GREEDY) {
		list_push_front(v->recs, bucket(v, d, rec->valid), id);
		if (rec->valid < dom->min_bucket)
			dom->min_bucket = rec->valid;
	}
}

void victim_set_dropped(struct victim_set *v, uint32_t id)
{
	if (v->policy != GC_GREEDY)
		return;
	uint32_t d = domain_of(v, id);
	uint32_t valid = v->recs[id].valid;
	list_unlink(v->recs, bucket(v, d, valid + 1), NULL, id);
	list_push_front(v->recs, bucket(v, d, valid), id);
	if (valid < v->domains[d].min_bucket)
		v->domains[d].min_bucket = valid;
}

void victim_set_remove(struct victim_set *v, uint32_t id)
{
	uint32_t d = domain_of(v, id);
	struct victim_domain *dom = &v->domains[d];
	dom->closed_count--;
	if (v->policy == GC_FIFO)
		list_unlink(v->recs, &dom->fifo_head, &dom->fifo_tail, id);
	else if (v->policy == GC_GREEDY)
		list_unlink(v->recs, bucket(v, d, v->recs[id].valid), NULL, id);
}

static inline bool candidate(const struct victim_set *v, uint32_t id, uint32_t d)
{
	return v->recs[id].state == UNIT_CLOSED && domain_of(v, id) == d;
}

/* A uniformly random closed record of domain d; most are closed whenever GC runs, so few draws. */
static uint32_t random_closed(struct victim_set *v, uint32_t d)
{
	const struct victim_domain *dom = &v->domains[d];
	for (uint32_t tries = 0; tries < 64; tries++) {
		uint32_t id = dom->first + (uint32_t)(splitmix64(v->rng) % dom->count);
		if (candidate(v, id, d))
			return id;
	}
	for (uint32_t id = dom->first; id < dom->first + dom->count; id++)
		if (candidate(v, id, d))
			return id;
	return NO_UNIT;
}

uint32_t victim_set_random(struct victim_set *v, uint32_t first, uint32_t count)
{
	for (uint32_t tries = 0; tries < 64; tries++) {
		uint32_t id = first + (uint32_t)(splitmix64(v->rng) % count);
		if (v->recs[id].state == UNIT_CLOSED)
			return id;
	}
	for (uint32_t id = first; id < first + count; id++)
		if (v->recs[id].state == UNIT_CLOSED)
			return id;
	return NO_UNIT;
}

/* Cost-benefit (LFS): benefit/cost = (1 - u) * age / (1 + u), u = valid fraction. */
static uint32_t cost_benefit(struct victim_set *v, uint32_t d)
{
	uint32_t best = NO_UNIT;
	double best_score = -1;
	const struct victim_domain *dom = &v->domains[d];
	for (uint32_t id = dom->first; id < dom->first + dom->count; id++) {
		const struct unit *rec = &v->recs[id];
		if (!candidate(v, id, d))
			continue;
		double used = (double)rec->valid / v->capacity;
		double age = (double)(*v->seq - rec->closed_seq) + 1;
		double score = (1 - used) * age / (1 + used);
		if (score > best_score) {
			best_score = score;
			best = id;
		}
	}
	return best;
}

uint32_t victim_set_pick(struct victim_set *v, uint32_t d)
{
	struct victim_domain *dom = &v->domains[d];
	if (dom->closed_count == 0)
		return NO_UNIT;
	switch ((enum gc_policy)v->policy) {
	case GC_GREEDY:
		while (*bucket(v, d, dom->min_bucket) == NO_UNIT)
			dom->min_bucket++;
		return *bucket(v, d, dom->min_bucket);
	case GC_FIFO:
		return dom->fifo_head;
	case GC_RANDOM:
		return random_closed(v, d);
	case GC_DCHOICE: {
		uint32_t best = NO_UNIT;
		for (uint32_t i = 0; i < v->dchoice; i++) {
			uint32_t id = random_closed(v, d);
			if (best == NO_UNIT || v->recs[id].valid < v->recs[best].valid)
				best = id;
		}
		return best;
	}
	case GC_COST_BENEFIT:
		return cost_benefit(v, d);
	}
	return NO_UNIT;
}

int victim_set_check(const struct victim_set *v, const char *what, char *err, size_t errlen)
{
	for (uint32_t d = 0; d < v->ndomains; d++) {
		uint64_t listed = 0, closed = 0;
		if (v->policy == GC_GREEDY) {
			for (uint32_t valid = 0; valid <= v->capacity; valid++) {
				for (uint32_t id = *bucket(v, d, valid); id != NO_UNIT;
				     id = v->recs[id].next) {
					const struct unit *rec = &v->recs[id];
					if (rec->state != UNIT_CLOSED || rec->valid != valid ||
					    domain_of(v, id) != d ||
					    valid < v->domains[d].min_bucket)
						return errorf(err, errlen,
							      "%s %u bucket %u holds %u (valid %u, "
							      "state %u)",
							      what, d, valid, id, rec->valid,
							      rec->state);
					listed++;
				}
			}
		} else if (v->policy == GC_FIFO) {
			for (uint32_t id = v->domains[d].fifo_head; id != NO_UNIT;
			     id = v->recs[id].next)
				listed++;
		} else {
			listed = v->domains[d].closed_count;
		}
		const struct victim_domain *dom = &v->domains[d];
		for (uint32_t id = dom->first; id < dom->first + dom->count; id++)
			closed += candidate(v, id, d);
		if (listed != closed || closed != v->domains[d].closed_count)
			return errorf(err, errlen,
				      "%s %u victims: %" PRIu64 " listed, %" PRIu64
				      " closed, counter %u",
				      what, d, listed, closed, v->domains[d].closed_count);
	}
	return 0;
}
