/* The zone state machine's private state, shared by zone_state.c and zone_open.c. */
#ifndef NVEMU_NS_ZONE_STATE_INTERNAL_H
#define NVEMU_NS_ZONE_STATE_INTERNAL_H

#include <pthread.h>

#include "ns/zone_state.h"
#include "spec/nvme.h"

/*
 * One zone. This is also the record of the zones table (ZONE_TABLE_ZONES): a change to its
 * layout is a new ZONES_VERSION.
 */
struct zone {
	uint64_t wp;	     /* write pointer, as an offset from ZSLBA */
	uint64_t durable_wp; /* the write pointer the last completed Flush made durable */
	uint32_t resets;
	uint32_t inflight;   /* writes that reserved LBAs and are still copying data (not kept) */
	uint8_t state;	     /* enum nvme_zone_state; 0 for conventional zones */
	uint8_t attrs;	     /* ZA: ZDEV, ZRWAV */
	uint8_t reserved[6];
};
#define ZONES_VERSION 1
_Static_assert(sizeof(struct zone) == 32, "the zones table's record is 32 bytes");

struct zones {
	struct zone_config cfg;
	unsigned shift; /* log2(zone_size) */
	pthread_mutex_t lock;
	pthread_cond_t quiet; /* some zone's inflight dropped to zero */
	struct zone *zone;
	uint8_t *extensions; /* zde_bytes per zone */
	bool owns_tables;
	uint32_t nopen, nactive, nzrwa;
	/* Implicitly open zones, least recently written first: the victims of an
	 * implicit close.  Only kept with an open limit (it never exceeds it). */
	uint64_t *lru;
	uint32_t nlru;
	uint64_t changed[ZONE_CHANGED_LIST_MAX];
	uint32_t nchanged;
	bool changed_overflow;
	/* Write pointers when the first of the Flushes in progress began (zones_flush_begin). */
	uint64_t *flush_wp;
	uint32_t flushes;
};

static inline bool is_open(uint8_t s) { return s == NVME_ZS_IMP_OPEN || s == NVME_ZS_EXP_OPEN; }

static inline bool is_active(uint8_t s) { return is_open(s) || s == NVME_ZS_CLOSED; }

static inline bool is_conventional(const struct zones *z, uint64_t idx) { return idx < z->cfg.nr_conv; }

/* zone_state.c: every state change goes through zone_set_state, so the counts cannot drift. */
void zone_set_state(struct zones *z, uint64_t idx, uint8_t to);
/* An open zone closes; one that holds nothing goes back to Empty. */
void zone_close(struct zones *z, uint64_t idx);

/* zone_open.c: the zone's data is gone (reset, offline): nothing of it is durable. */
void zone_forget_durable(struct zones *z, uint64_t idx);

#endif
