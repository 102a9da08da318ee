/*
 * Zones across runs: configuration checks, opening on kept tables (checked, open zones
 * closed, write pointers rolled back after a machine crash), durable write pointers at
 * Flush, power cycles and format. See zone_state.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ns/zone_state_internal.h"
#include "util/util.h"

static int check_config(struct zone_config *c, char *err, size_t errlen)
{
	if (!c->zone_size || (c->zone_size & (c->zone_size - 1))) {
		errorf(err, errlen, "zone size of %llu LBAs is not a power of two",
			 (unsigned long long)c->zone_size);
		return -1;
	}
	if (!c->zone_cap || c->zone_cap > c->zone_size) {
		errorf(err, errlen, "zone capacity of %llu LBAs is not within 1..zone size (%llu)",
			 (unsigned long long)c->zone_cap, (unsigned long long)c->zone_size);
		return -1;
	}
	if (!c->nzones || c->nr_conv >= c->nzones) {
		errorf(err, errlen, "%u conventional zones leave no sequential zone of %llu",
			 c->nr_conv, (unsigned long long)c->nzones);
		return -1;
	}
	/* Identify reports MOR <= MAR: an open limit of "none" means the active one. */
	if (c->max_active && (!c->max_open || c->max_open > c->max_active))
		c->max_open = c->max_active;
	if (c->zde_bytes % 64 || c->zde_bytes > 255 * 64) {
		errorf(err, errlen, "zone descriptor extension of %u bytes is not a multiple of 64 up to 16320",
			 c->zde_bytes);
		return -1;
	}
	if (c->zrwa_size) {
		if (!c->zrwa_fg || c->zrwa_size % c->zrwa_fg || c->zrwa_size > c->zone_cap) {
			errorf(err, errlen,
				 "ZRWA of %u LBAs must be a multiple of its flush granularity (%u) and fit the zone",
				 c->zrwa_size, c->zrwa_fg);
			return -1;
		}
		if (!c->zrwa_resources)
			c->zrwa_resources = c->max_open ? c->max_open : 1;
	}
	return 0;
}

void zones_table_specs(const struct zone_config *cfg, struct drive_table_spec out[ZONE_TABLES])
{
	out[ZONE_TABLE_ZONES] = (struct drive_table_spec){"zones", ZONES_VERSION,
							  sizeof(struct zone), cfg->nzones};
	out[ZONE_TABLE_EXTENSIONS] = (struct drive_table_spec){"zone-extensions", 1,
							       cfg->zde_bytes ? cfg->zde_bytes : 1,
							       cfg->zde_bytes ? cfg->nzones : 0};
}

static void *zeroed(uint64_t bytes)
{
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* A kept record that no run could have left is refused before anything changes. */
static int check_record(const struct zones *z, uint64_t idx, char *err, size_t errlen)
{
	const struct zone *zn = &z->zone[idx];
	bool ok;
	if (is_conventional(z, idx)) {
		ok = zn->state == 0 && zn->wp == 0 && zn->durable_wp == 0 && zn->attrs == 0;
	} else {
		ok = (zn->state == NVME_ZS_EMPTY || is_active(zn->state) || zn->state == NVME_ZS_FULL ||
		      zn->state == NVME_ZS_READ_ONLY || zn->state == NVME_ZS_OFFLINE) &&
		     zn->wp <= z->cfg.zone_cap && zn->durable_wp <= zn->wp &&
		     !(zn->attrs & ~(NVME_ZA_ZDEV | NVME_ZA_ZRWAV)) &&
		     (zn->state != NVME_ZS_EMPTY || zn->wp == 0) &&
		     (zn->state != NVME_ZS_FULL || zn->wp == z->cfg.zone_cap) &&
		     (!(zn->attrs & NVME_ZA_ZDEV) || z->cfg.zde_bytes) &&
		     (!(zn->attrs & NVME_ZA_ZRWAV) || z->cfg.zrwa_size);
	}
	if (!ok)
		errorf(err, errlen,
			 "zones: entry %" PRIu64 " (state %#x, write pointer %" PRIu64 ", durable %" PRIu64
			 ", attributes %#x) cannot be one of these zones (capacity %" PRIu64 ")",
			 idx, zn->state, zn->wp, zn->durable_wp, zn->attrs, z->cfg.zone_cap);
	return ok ? 0 : -1;
}

/* Where a zone stands after a power cycle: nothing is open, nothing is in flight. */
static void settle(struct zones *z, uint64_t idx, uint64_t wp)
{
	struct zone *zn = &z->zone[idx];
	zn->inflight = 0;
	if (is_conventional(z, idx))
		return;
	if (wp < zn->wp) {
		zn->wp = wp;
		if (zn->state == NVME_ZS_FULL || is_active(zn->state) || zn->state == NVME_ZS_EMPTY)
			zn->state = NVME_ZS_CLOSED;
	}
	if (zn->durable_wp > zn->wp)
		zn->durable_wp = zn->wp;
	if (is_active(zn->state)) {
		bool holds_nothing = zn->wp == 0 && !(zn->attrs & (NVME_ZA_ZDEV | NVME_ZA_ZRWAV));
		zn->state = holds_nothing ? NVME_ZS_EMPTY : NVME_ZS_CLOSED;
	}
	if (!is_active(zn->state))
		zn->attrs &= (uint8_t)~NVME_ZA_ZRWAV;
}

static void recount(struct zones *z)
{
	z->nopen = z->nactive = z->nzrwa = 0;
	z->nlru = 0;
	for (uint64_t i = z->cfg.nr_conv; i < z->cfg.nzones; i++) {
		uint8_t s = z->zone[i].state;
		z->nopen += is_open(s);
		z->nactive += is_active(s);
		z->nzrwa += is_active(s) && (z->zone[i].attrs & NVME_ZA_ZRWAV);
	}
}

struct zones *zones_open(const struct zone_config *cfg, void *const tables[ZONE_TABLES],
			 enum zones_open_state state,
			 void (*rolled_back)(void *ctx, uint64_t zone, uint64_t from, uint64_t to),
			 void *ctx, char *err, size_t errlen)
{
	struct zone_config c = *cfg;
	if (check_config(&c, err, errlen))
		return NULL;
	struct zones *z = calloc(1, sizeof(*z));
	if (!z)
		goto oom;
	z->cfg = c;
	z->shift = (unsigned)__builtin_ctzll(c.zone_size);
	pthread_mutex_init(&z->lock, NULL);
	pthread_cond_init(&z->quiet, NULL);
	z->owns_tables = !tables;
	if (tables) {
		z->zone = tables[ZONE_TABLE_ZONES];
		z->extensions = c.zde_bytes ? tables[ZONE_TABLE_EXTENSIONS] : NULL;
	} else {
		state = ZONES_NEW;
		z->zone = zeroed(c.nzones * sizeof(*z->zone));
		if (c.zde_bytes)
			z->extensions = zeroed(c.nzones * c.zde_bytes);
		if (!z->zone || (c.zde_bytes && !z->extensions))
			goto oom;
	}
	if (c.max_open && !(z->lru = calloc(c.max_open + 1, sizeof(*z->lru))))
		goto oom;
	if (state == ZONES_NEW) {
		for (uint64_t i = c.nr_conv; i < c.nzones; i++)
			z->zone[i].state = NVME_ZS_EMPTY;
		return z;
	}
	for (uint64_t i = 0; i < c.nzones; i++) {
		if (check_record(z, i, err, errlen)) {
			zones_destroy(z);
			return NULL;
		}
	}
	for (uint64_t i = 0; i < c.nzones; i++) {
		struct zone *zn = &z->zone[i];
		uint64_t kept = state == ZONES_MACHINE_CRASH ? zn->durable_wp : zn->wp;
		if (kept < zn->wp && rolled_back)
			rolled_back(ctx, i, kept, zn->wp);
		settle(z, i, kept);
	}
	recount(z);
	return z;
oom:
	errorf(err, errlen, "out of memory for %llu zones", (unsigned long long)c.nzones);
	zones_destroy(z);
	return NULL;
}

struct zones *zones_create(const struct zone_config *cfg, char *err, size_t errlen)
{
	return zones_open(cfg, NULL, ZONES_NEW, NULL, NULL, err, errlen);
}

void zones_destroy(struct zones *z)
{
	if (!z)
		return;
	pthread_mutex_destroy(&z->lock);
	pthread_cond_destroy(&z->quiet);
	if (z->owns_tables) {
		if (z->zone)
			munmap(z->zone, z->cfg.nzones * sizeof(*z->zone));
		if (z->extensions)
			munmap(z->extensions, z->cfg.nzones * z->cfg.zde_bytes);
	}
	free(z->lru);
	free(z->flush_wp);
	free(z);
}

int zones_flush_begin(struct zones *z)
{
	pthread_mutex_lock(&z->lock);
	if (!z->flush_wp)
		z->flush_wp = malloc(z->cfg.nzones * sizeof(*z->flush_wp));
	int rc = z->flush_wp ? 0 : -1;
	/* Overlapping flushes: the write pointers the first one saw are made durable by the last. */
	if (!rc && z->flushes++ == 0)
		for (uint64_t i = 0; i < z->cfg.nzones; i++)
			z->flush_wp[i] = z->zone[i].wp;
	pthread_mutex_unlock(&z->lock);
	return rc;
}

bool zones_flush_end(struct zones *z)
{
	pthread_mutex_lock(&z->lock);
	bool last = z->flushes && --z->flushes == 0;
	for (uint64_t i = 0; last && i < z->cfg.nzones; i++) {
		struct zone *zn = &z->zone[i];
		/* A zone reset since the Flush began had its snapshot cleared (zone_forget_durable). */
		uint64_t durable = z->flush_wp[i] < zn->wp ? z->flush_wp[i] : zn->wp;
		if (durable > zn->durable_wp)
			zn->durable_wp = durable;
	}
	pthread_mutex_unlock(&z->lock);
	return last;
}

void zone_forget_durable(struct zones *z, uint64_t idx)
{
	z->zone[idx].durable_wp = 0;
	if (z->flush_wp)
		z->flush_wp[idx] = 0;
}

void zones_power_cycle(struct zones *z)
{
	pthread_mutex_lock(&z->lock);
	for (uint64_t i = 0; i < z->cfg.nzones; i++)
		settle(z, i, z->zone[i].wp);
	recount(z);
	pthread_mutex_unlock(&z->lock);
}

void zones_rollback(struct zones *z, uint64_t zone, uint32_t resets, uint64_t wp)
{
	pthread_mutex_lock(&z->lock);
	struct zone *zn = &z->zone[zone];
	if (zn->resets == resets && wp < zn->wp && zn->state != NVME_ZS_READ_ONLY &&
	    zn->state != NVME_ZS_OFFLINE) {
		settle(z, zone, wp);
		recount(z);
	}
	pthread_mutex_unlock(&z->lock);
}

void zones_format(struct zones *z)
{
	pthread_mutex_lock(&z->lock);
	for (uint64_t i = z->cfg.nr_conv; i < z->cfg.nzones; i++) {
		struct zone *zn = &z->zone[i];
		zn->wp = zn->durable_wp = 0;
		zn->attrs = 0;
		if (zn->state != NVME_ZS_READ_ONLY && zn->state != NVME_ZS_OFFLINE)
			zn->state = NVME_ZS_EMPTY;
		if (z->flush_wp)
			z->flush_wp[i] = 0;
	}
	if (z->extensions)
		memset(z->extensions, 0, z->cfg.nzones * z->cfg.zde_bytes);
	recount(z);
	z->nchanged = 0;
	z->changed_overflow = false;
	pthread_mutex_unlock(&z->lock);
}
