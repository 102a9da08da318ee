/*
 * The zone state machine of a zoned namespace (NVMe Zoned Namespace Command
 * Set 1.1, section 2.1): zone states, write pointers, open/active resource
 * accounting, the Zone Random Write Area and zone descriptor extensions.
 *
 * It holds no data and knows no flash: the zoned kind (zoned.c) stores data
 * and times commands, and is told through hooks what a transition did to
 * the zone's contents.
 *
 * Every state change happens here, under one lock per namespace, in sections
 * of a few dozen instructions.  A write first reserves its LBAs (checks,
 * implicit open, write pointer advance) with zones_write_begin(), copies its
 * data with no lock held, then calls zones_write_end().  Reset and Offline
 * wait until no write is still copying into their zone, so a Reset racing a
 * write is ordered: either the write lands first and is erased with the zone,
 * or it sees the reset zone and fails (or, as an append, lands at ZSLBA).
 */
#ifndef NVEMU_NS_ZONE_STATE_H
#define NVEMU_NS_ZONE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drive/drive.h"

/* Status values of the ZNS command set that spec/nvme.h does not name. */
#define ZNS_SC_INVALID_ZONE_OP 0x1B6   /* Invalid Zone Operation Request */
#define ZNS_SC_ZRWA_UNAVAILABLE 0x1B7  /* ZRWA Resources Unavailable */

/* Zone type of a conventional zone (random writes, no write pointer). */
#define ZONE_TYPE_CONVENTIONAL 0x1

/* Entries the Changed Zone List log can name before it reports an overflow. */
#define ZONE_CHANGED_LIST_MAX 511

struct zone_config {
	uint64_t nzones;
	uint64_t zone_size;  /* LBAs, a power of two */
	uint64_t zone_cap;   /* LBAs, <= zone_size */
	uint32_t nr_conv;    /* the first nr_conv zones are conventional */
	uint32_t max_open;   /* 0: no limit */
	uint32_t max_active; /* 0: no limit */
	uint32_t zrwa_size;  /* LBAs; 0: no ZRWA */
	uint32_t zrwa_fg;    /* flush granularity, LBAs */
	uint32_t zrwa_resources;
	uint32_t zde_bytes;  /* zone descriptor extension, a multiple of 64; 0: none */
	uint32_t reset_limit; /* a zone reset this often wears out and turns Read Only; 0: never */
	bool cross_zone_read;
};

/*
 * What transitions do to the media, called with the state lock held so no
 * write can reach the zone in between.  Offsets are LBAs from ZSLBA.  Each hook
 * may raise *done_ns (when the command completes).
 */
struct zone_hooks {
	void *ctx;
	/* Reset: the zone's data is gone; [0, written) held data. */
	void (*erase)(void *ctx, uint64_t zone, uint64_t written, uint64_t now, uint64_t *done_ns);
	/* Finish: the zone is full, data stops at wp. */
	void (*finish)(void *ctx, uint64_t zone, uint64_t wp, uint64_t now, uint64_t *done_ns);
	/* The write pointer moved from..to without a write (ZRWA flush): commit that data. */
	void (*commit)(void *ctx, uint64_t zone, uint64_t from, uint64_t to, uint64_t now,
		       uint64_t *done_ns);
	/* Offline: the zone's data will never be read again. */
	void (*discard)(void *ctx, uint64_t zone);
};

struct zones;

/* Returns NULL with a message in err when the configuration is inconsistent. */
struct zones *zones_create(const struct zone_config *cfg, char *err, size_t errlen);
/* Frees the zones; tables handed to zones_open stay the caller's. */
void zones_destroy(struct zones *z);

/*
 * ---- Keeping zones across runs ----
 * Zone states, write pointers, reset counts and descriptor extensions live in tables the
 * caller may keep in files (docs/persistence.md). Zones that were open come back closed, as
 * a ZNS drive's do after a power cycle. Each zone also keeps the write pointer the last
 * completed Flush made durable (zones_flush_begin/end): after a machine crash the zone comes
 * back there.
 */
enum zone_table { ZONE_TABLE_ZONES, ZONE_TABLE_EXTENSIONS, ZONE_TABLES };

/* The tables a configuration needs; the extensions table has count 0 without extensions. */
void zones_table_specs(const struct zone_config *cfg, struct drive_table_spec out[ZONE_TABLES]);

enum zones_open_state {
	ZONES_NEW,	     /* zero-filled tables: a new namespace */
	ZONES_KEPT,	     /* as a run left them, cleanly or killed: every write pointer holds */
	ZONES_MACHINE_CRASH, /* the page cache was lost: write pointers roll back to the durable ones */
};

/*
 * Opens zones on tables of zones_table_specs() (NULL: allocated in memory), checking every
 * record: NULL and a message naming the entry when one cannot be. For each zone whose write
 * pointer moves back, rolled_back (if not NULL) is told the byte-free range [from, to) of LBA
 * offsets that no longer holds data.
 */
struct zones *zones_open(const struct zone_config *cfg, void *const tables[ZONE_TABLES],
			 enum zones_open_state state,
			 void (*rolled_back)(void *ctx, uint64_t zone, uint64_t from, uint64_t to),
			 void *ctx, char *err, size_t errlen);

/*
 * A Flush starts: the write pointers now are what it will make durable. Flushes may overlap:
 * the write pointers the first saw become durable when the last ends. Returns -1 when out of
 * memory (then call no zones_flush_end).
 */
int zones_flush_begin(struct zones *z);
/* A Flush's data is durable. Returns true when durable write pointers moved (the last one). */
bool zones_flush_end(struct zones *z);

/* Power cycle: every open zone closes (no write may be in progress). */
void zones_power_cycle(struct zones *z);
/*
 * A power loss lost data from LBA offset `wp` of a zone on: its write pointer moves back
 * there, unless the zone was reset since (its reset count is no longer `resets`) or its write
 * pointer is already lower. A full zone that loses data is closed. No write may be in progress.
 */
void zones_rollback(struct zones *z, uint64_t zone, uint32_t resets, uint64_t wp);
/* Format: every zone empty, reset counts kept; read-only and offline zones stay so. */
void zones_format(struct zones *z);
const struct zone_config *zones_config(const struct zones *z);

/* ---- Data path ---- */

struct zone_write {
	uint64_t slba; /* in; for an append, out: the LBA written (ALBA) */
	uint32_t nlb;
	bool append;
	/* out */
	uint64_t zone;
	uint32_t resets; /* the zone's reset count when the write reserved its LBAs */
	bool conventional;
	/* The write pointer moved over [from, to) (offsets in the zone): data
	 * there is committed.  In a ZRWA, data may land above `to`. */
	uint64_t committed_from, committed_to;
};

/* Checks a write (or Write Zeroes, or Zone Append) and reserves its LBAs. */
uint16_t zones_write_begin(struct zones *z, struct zone_write *w);
/* The data of a successful zones_write_begin() is in place. */
void zones_write_end(struct zones *z, const struct zone_write *w);

/* Checks a read: zone boundaries (unless cross-zone reads are on) and offline zones. */
uint16_t zones_check_read(struct zones *z, uint64_t slba, uint32_t nlb);

/* ---- Zone Management Send ---- */

struct zone_send {
	uint64_t slba;
	uint8_t action; /* enum nvme_zone_send_action */
	bool select_all;
	bool zrwa_alloc;     /* Open: allocate a ZRWA to the zone */
	const void *extension; /* Set Zone Descriptor Extension: zde_bytes */
	uint64_t now_ns;
	uint64_t done_ns;    /* out, >= now_ns */
	bool zones_changed;  /* out: the Changed Zone List was empty and gained entries */
};

uint16_t zones_send(struct zones *z, struct zone_send *cmd, const struct zone_hooks *hooks);

/* ---- Zone Management Receive ---- */

struct zone_report {
	uint64_t slba;
	uint8_t filter; /* enum nvme_zone_report_filter */
	bool extended;
	bool partial;
	void *buf;
	uint32_t len;
};

uint16_t zones_report(struct zones *z, const struct zone_report *rep);

/*
 * Copies the Changed Zone List log (4096 bytes) into page and clears it
 * ("retain asynchronous event" is not modelled: every read clears).
 */
void zones_changed_list(struct zones *z, uint8_t page[4096]);

/* ---- For tests and statistics ---- */

struct zone_info {
	uint8_t state; /* enum nvme_zone_state, 0 for conventional zones */
	uint8_t attrs;
	uint64_t wp;
	uint64_t durable_wp;
	uint32_t resets;
};

void zones_get(struct zones *z, uint64_t zone, struct zone_info *out);
void zones_counts(struct zones *z, uint32_t *open, uint32_t *active, uint32_t *zrwa);
/* Makes a zone Read Only as the controller would when its media fails;
 * returns true when the Changed Zone List was empty before. */
bool zones_fail(struct zones *z, uint64_t zone);

#endif
