/*
 * The SSD model: a page-mapping FTL with garbage collection on top of the NAND timelines of
 * flash/. It moves no data and reads no clock: each call takes "now" (ns) and returns when the
 * command completes. Page = the flash page, the mapping unit (4 KiB by default); callers convert
 * LBAs to logical page numbers (lpn) and must keep lpn + npages <= ssd_logical_pages().
 *
 * Thread safety: every function taking a struct ssd * may be called from any thread (unless
 * the user gave that up with ssd_single_thread). Each call holds one mutex of the device for
 * its whole duration; the critical section is table updates and timeline arithmetic (tens to
 * hundreds of ns per page, see docs/benchmarks.md), so the lock stays far above the
 * transport's rate. GC runs inside the call that needs it.
 * Calls should arrive with non-decreasing `now`; an older `now` is served as if it were the
 * latest (resources never run backwards).
 */
#ifndef NVEMU_FTL_FTL_H
#define NVEMU_FTL_FTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "flash/flash.h" /* struct lat_parts */

struct ssd;

struct ssd_counters {
	uint64_t host_pages_written;
	uint64_t host_pages_read;
	uint64_t host_pages_trimmed;
	uint64_t nand_pages_written; /* host + GC */
	uint64_t gc_pages_moved;
	uint64_t gc_runs;            /* erase units collected */
	uint64_t erases;             /* total erase operations */
	uint64_t erase_min, erase_max; /* per erase unit (a block per plane) */
	double erase_mean;
	uint64_t free_blocks; /* erase units */
	double waf;           /* nand / host pages written, 0 before any write */
	uint64_t read_retries;      /* NAND reads that needed retries */
	uint64_t slc_pages_written; /* host pages written in SLC mode */
	uint64_t slc_pages_folded;  /* pages moved from SLC blocks to native ones */
	uint64_t slc_cache_bytes;   /* the SLC cache's size now (it shrinks as the drive fills) */
	uint64_t slc_used_bytes;    /* of it, in SLC-mode blocks now */
	uint64_t map_hits, map_misses; /* mapping cache, per translation page looked up */
	uint64_t map_pages_written; /* translation pages programmed back (in nand_pages_written) */
	/* Wear (endurance set): */
	uint64_t retired_blocks;    /* erase units retired as grown bad blocks */
	uint64_t spare_blocks;      /* erase units that may still be retired */
	uint32_t avail_spare_pcent; /* spare left, of the spare at the start; 0 once read-only */
	double percent_used;        /* mean erases / endurance, in percent (may pass 100) */
	bool read_only;             /* no spare left: writes are to be refused */
	uint64_t cold_moves;        /* units of cold data moved by static wear levelling */
};

/*
 * A new device with its tables in memory (zero-filled, so never-written space costs nothing).
 * Returns NULL with a message in err when the parameters cannot describe a working device.
 */
struct ssd *ssd_create(const struct ssd_params *params, char *err, size_t errlen);
/* Frees the device; tables handed to ssd_open stay the caller's. */
void ssd_destroy(struct ssd *ssd);

/*
 * Sets params->blocks_per_plane to the fewest blocks per plane that expose at least `bytes` of
 * logical space at params->op_pcent, every other key unchanged. Returns 0, or -1 with a
 * message when no block count can (the 32-bit mapping entries address at most 2^32 - 2
 * physical pages: 16 TiB of 4 KiB pages).
 */
int ssd_fit_capacity(struct ssd_params *params, uint64_t bytes, char *err, size_t errlen);
/* The logical bytes a geometry exposes, 0 if it describes no device. */
uint64_t ssd_capacity(const struct ssd_params *params);

/*
 * ---- Keeping a device across runs ----
 * Everything the device must not forget lives in its tables, so a caller can keep them in
 * files (mapped) and hand them back later; everything else (free lists, victim lists, write
 * points, the NAND timelines) is rebuilt when the device is opened. The model never learns
 * where the tables live.
 *
 * Store order and what a crash leaves: a write maps its page in P2L, then in L2P, and the
 * page it replaces leaves P2L (and its unit's valid count) first; GC does the same per page
 * moved; a unit's write pointer moves before the page it covers is mapped. Stopped at any
 * instant, the tables are therefore consistent except for pages in flight, and after a
 * machine crash any page of any table may be older than the others. SSD_TABLES_CRASHED
 * opens both kinds: L2P is authoritative; a P2L entry whose L2P does not point back is
 * dropped; an L2P entry whose page was already dropped from P2L (the replaced page of a write
 * in flight) is re-linked when its unit still holds the page, else unmapped; valid counts,
 * unit states and write pointers follow from the mapping. Counters are those of the last
 * ssd_checkpoint (approximate); the mapping is consistent (ssd_check holds).
 */
enum ssd_table {
	SSD_TABLE_SAVED, /* one record: counters, write sequence, RNG (ssd_checkpoint) */
	SSD_TABLE_L2P,	 /* 4 bytes per logical page */
	SSD_TABLE_P2L,	 /* 4 bytes per physical page */
	SSD_TABLE_UNITS, /* 40 bytes per erase unit: valid pages, erases, endurance, write pointer, state */
	/* FDP (params.fdp; tables of count 0 without): */
	SSD_TABLE_FDP_SAVED,  /* one record: per-handle counters (ssd_checkpoint) */
	SSD_TABLE_FDP_GROUPS, /* a record per reclaim group: counters, GC debts (ssd_checkpoint) */
	SSD_TABLE_FDP_RUS,    /* 32 bytes per reclaim unit: owner, write point, closing order */
	SSD_TABLE_FDP_TAGS,   /* 1 byte per logical page: the handle of its last host write */
	SSD_TABLES
};

struct ssd_table_shape {
	const char *name; /* a file name: "l2p", "p2l", "units", "ftl-saved", "fdp-rus"... */
	uint32_t version; /* of the element layout */
	uint32_t elem_bytes;
	uint64_t count;
};

/* The tables a device with these parameters needs (count 0: none, e.g. FDP's without FDP).
 * Returns 0 or -1 with a message. */
int ssd_table_shapes(const struct ssd_params *params, struct ssd_table_shape out[SSD_TABLES],
		     char *err, size_t errlen);

enum ssd_tables_state {
	SSD_TABLES_ZERO,    /* zero-filled: a new device */
	SSD_TABLES_CLEAN,   /* as a device left them with no call in progress */
	SSD_TABLES_CRASHED, /* as a crash left them: reconciled as described above */
};

/*
 * Opens a device on tables of ssd_table_shapes() (NULL: allocate zero-filled ones), which the
 * caller keeps mapped until ssd_destroy. Every entry is range-checked and every count
 * recomputed; tables that cannot belong to such a device are refused: NULL with a message
 * naming the table and entry, and *bad_table (if not NULL) says which. The tables may have
 * been changed (reconciled) by then.
 *
 * FDP: a reclaim unit's state is its erase units' (the same in all of them), their write
 * pointers are its points' progress; its record (SSD_TABLE_FDP_RUS) says whose it is and which
 * point fills it, and is stored before its units turn OPEN. A page's handle (FDP_TAGS) is
 * stored after the write maps it. Crashed tables: the units of a reclaim unit caught between
 * two states take the state a crash there implies (no valid data and a free unit: free; open
 * everywhere: open, if its point is free; else closed), and a mapped page whose handle
 * disagrees with its reclaim unit's owner takes the owner's (an initially isolated one in the
 * shared GC units), so isolation holds (ssd_check); the FDP counters and GC debts are those
 * of the last ssd_checkpoint, the handles' valid pages are recounted. Open reclaim units stay
 * open; their time limits restart with the device's first call.
 */
struct ssd *ssd_open(const struct ssd_params *params, void *const tables[SSD_TABLES],
		     enum ssd_tables_state state, int *bad_table, char *err, size_t errlen);

/* The tables the device works on (its own, or those handed to ssd_open). */
void ssd_tables(const struct ssd *ssd, void *out[SSD_TABLES]);

/* Copies the counters into SSD_TABLE_SAVED and FDP's into SSD_TABLE_FDP_SAVED and _GROUPS
 * (cheap; call it at Flush and before closing). */
void ssd_checkpoint(struct ssd *ssd);

/*
 * Format: every page unmapped, every unit free, counters at zero; erase counts, endurance and
 * retired units stay (wear is physical) and every unit that held anything counts one more erase. `zero` empties the L2P
 * and P2L tables and FDP's (the caller's, e.g. punching holes in files); NULL for ssd_create's
 * own. FDP starts over too (every reclaim unit free, counters and events gone). Returns 0, or -1 (out of memory) with the
 * device unchanged.
 */
int ssd_format(struct ssd *ssd, void (*zero)(void *ctx, enum ssd_table table), void *ctx);

/*
 * Power loss: NAND work not done by `now` never happens (programs, erases, the write buffer's
 * contents); the mapping is kept. The caller restores the data of writes whose pages were
 * not on NAND by then (ssd_write_placed_at's programmed_at).
 */
void ssd_power_loss(struct ssd *ssd, uint64_t now);

/*
 * Promise that from now on a single thread uses the device, as in nvemu sim: calls then skip
 * the mutex (a pair of atomic operations, several percent of a simulated read). Irreversible.
 */
void ssd_single_thread(struct ssd *ssd);

uint64_t ssd_logical_pages(const struct ssd *ssd);
uint32_t ssd_page_bytes(const struct ssd *ssd);
/* Bytes an erase (of one erase unit: a block per plane) clears. */
uint64_t ssd_erase_unit_bytes(const struct ssd *ssd);

/*
 * Every command takes `parts`, NULL or a zeroed struct lat_parts that gets where the command's
 * time went (flash/flash.h): the parts add up to the returned time minus `now`, those of a
 * multi-page command being its last page's. NULL costs nothing.
 *
 * Write: completes once every page crossed the host link and is in the write buffer (the host
 * stalls only while it is full), or once on NAND when `fua` is set or the buffer size is 0.
 * ssd_write_placed_at (below) also gives *programmed_at, the time its last page is on NAND:
 * a power loss before then loses the write.
 */
uint64_t ssd_write(struct ssd *ssd, uint64_t lpn, uint32_t npages, bool fua, uint64_t now,
		   struct lat_parts *parts);
/* Read: completes when the last page is out of its die and channel and over the host link. */
uint64_t ssd_read(struct ssd *ssd, uint64_t lpn, uint32_t npages, uint64_t now,
		  struct lat_parts *parts);
/* Deallocate: unmaps the pages; costs the controller overhead only. */
uint64_t ssd_trim(struct ssd *ssd, uint64_t lpn, uint32_t npages, uint64_t now,
		  struct lat_parts *parts);
/* Flush: completes when everything written so far is on NAND. */
uint64_t ssd_flush(struct ssd *ssd, uint64_t now, struct lat_parts *parts);

/*
 * Hints for a caller that knows its next commands, as nvemu sim does: on a large device each
 * table lookup of a command is a cache miss, and fetched a few commands ahead they overlap
 * other work instead. Both only prefetch; they change nothing.
 *
 * ssd_prefetch_l2p fetches the mapping entries of pages lpn .. lpn + npages - 1. It takes no
 * lock and reads nothing, so it may be called from any thread at any time.
 *
 * ssd_prefetch_p2l fetches what a write or trim of those pages touches next: the reverse-map
 * entries and block records of the physical pages they are mapped to. It reads the mapping
 * without the lock, so it does nothing unless the device is single-threaded
 * (ssd_single_thread); call it a few commands after ssd_prefetch_l2p, once those entries are
 * in the cache.
 */
void ssd_prefetch_l2p(const struct ssd *ssd, uint64_t lpn, uint32_t npages);
void ssd_prefetch_p2l(const struct ssd *ssd, uint64_t lpn, uint32_t npages);

/*
 * die-offline faults: die `die` stops answering (offline) or comes back.  Host writes go to the
 * other dies and idle-time work leaves it alone; its data stays mapped, and
 * ssd_first_lost_page() names the pages it holds until they are written elsewhere.  Calls
 * nest: each offline needs its online.  0, or -1 with a message when the die does not exist or
 * is the last one left.
 */
int ssd_set_die_offline(struct ssd *ssd, uint32_t die, bool offline, char *err, size_t errlen);
/* The first of pages lpn .. lpn + npages - 1 whose data an offline die holds, or UINT64_MAX. */
uint64_t ssd_first_lost_page(struct ssd *ssd, uint64_t lpn, uint32_t npages);

/* Snapshot of the counters; the erase statistics walk all erase units. */
void ssd_get_counters(struct ssd *ssd, struct ssd_counters *out);

/*
 * Whether the drive wore out (no spare left to retire worn blocks): its callers then refuse
 * writes and serve reads. A write that comes anyway is served by the drive as it was (nothing
 * more is retired), so the model never fails; refusing is the caller's part.
 */
bool ssd_read_only(struct ssd *ssd);
/* SMART's Available Spare (as in ssd_counters), also without the lock: cheap enough to ask
 * after every write. */
uint32_t ssd_avail_spare_pcent(struct ssd *ssd);

/* Erase units, and each one's erases so far (`out` holds ssd_units() entries). */
uint64_t ssd_units(const struct ssd *ssd);
void ssd_unit_erases(struct ssd *ssd, uint32_t *out);

/*
 * Full consistency check, O(physical pages), for tests: valid counts match the mapping, L2P and
 * P2L agree both ways (nothing lost or duplicated), free-unit accounting is exact; with FDP,
 * every page sits in a reclaim unit its handle may use (isolation, see ssd_fdp_owner); retired
 * units hold nothing, are counted and wore out, and no worn unit is in service on a writable
 * drive.
 * Returns 0, or -1 with the first violation in err.
 */
int ssd_check(struct ssd *ssd, char *err, size_t errlen);

/*
 * ---- Flexible Data Placement (params.fdp; docs/fdp.md) ----
 *
 * With FDP the device is split into reclaim groups (sets of dies, each its own GC domain) of
 * reclaim units (an erase unit or more on every die of the group). Each reclaim unit handle
 * (0 .. fdp_nruh - 1) has a write point in every group: writes placed on (handle, group) fill
 * that handle's open reclaim unit there. GC moves the data of a persistently isolated handle
 * only into reclaim units of that handle; initially isolated handles share one GC unit per
 * group. A write without placement goes to handle 0 of group 0. Without FDP the functions
 * below answer as a device with no handles.
 */
struct ssd_fdp_config {
	bool enabled; /* params.fdp: else what fdp=on would give */
	uint32_t nruh, nrg;
	uint64_t ru_pages;                    /* pages of a reclaim unit */
	uint32_t time_limit_s;                /* 0: none */
	bool persistent[SSD_FDP_MAX_HANDLES]; /* handle type: persistently or initially isolated */
};

/* False when the device has no FDP and its parameters could not give it one. */
bool ssd_fdp_config(const struct ssd *ssd, struct ssd_fdp_config *out);

/* What one handle (all groups) or one group (all handles) did since the device was created. */
struct ssd_fdp_counters {
	uint64_t host_pages;  /* written by the host */
	uint64_t nand_pages;  /* programmed: host pages + GC moves */
	uint64_t gc_pages;    /* moved by GC */
	uint64_t rus_opened;  /* reclaim units started (a handle: for host writes) */
	uint64_t rus_erased;  /* reclaim units collected (a handle: those holding its data) */
	uint64_t valid_pages; /* on flash now */
};
void ssd_fdp_handle_counters(struct ssd *ssd, uint32_t ruh, struct ssd_fdp_counters *out);
void ssd_fdp_group_counters(struct ssd *ssd, uint32_t rg, struct ssd_fdp_counters *out);

/* ssd_write with its pages placed on handle `ruh` in reclaim group `rg` (both in range; both
 * ignored without FDP, where handle 0 of group 0 is a plain ssd_write). */
uint64_t ssd_write_placed(struct ssd *ssd, uint64_t lpn, uint32_t npages, uint32_t ruh, uint32_t rg,
			  bool fua, uint64_t now, struct lat_parts *parts);
/* ssd_write_placed that also gives *programmed_at (NULL: not wanted), when its last page is on
 * NAND. */
uint64_t ssd_write_placed_at(struct ssd *ssd, uint64_t lpn, uint32_t npages, uint32_t ruh,
			     uint32_t rg, bool fua, uint64_t now, struct lat_parts *parts,
			     uint64_t *programmed_at);

/* Reclaim Unit Handle Status: the pages the handle's reclaim unit in `rg` still takes (a whole
 * unit when the next write starts one) and the seconds left of its time limit (0: no limit). */
void ssd_fdp_ruh_status(struct ssd *ssd, uint32_t ruh, uint32_t rg, uint64_t now,
			uint64_t *available_pages, uint32_t *seconds_left);

/*
 * Reclaim Unit Handle Update: the handle's next write in `rg` starts a new reclaim unit; the
 * one it leaves is closed as it is. True when that unit was written in part (the host is owed a
 * Reclaim Unit Not Fully Written event).
 */
bool ssd_fdp_update(struct ssd *ssd, uint32_t ruh, uint32_t rg, uint64_t now);

/* What the device did to a handle on its own, for the FDP events log. */
enum ssd_fdp_event_type {
	SSD_FDP_EVENT_TIME_LIMIT, /* a reclaim unit open past fdp_time_limit was closed */
};
struct ssd_fdp_event {
	uint8_t type;
	uint16_t ruh, rg;
	uint64_t at_ns;
};
/* Moves up to `max` events, oldest first, into out (the device keeps the newest 64). */
size_t ssd_fdp_take_events(struct ssd *ssd, uint64_t now, struct ssd_fdp_event *out, size_t max);

/* The owner of the reclaim unit holding lpn, for tests: a handle, SSD_FDP_SHARED (the GC unit
 * initially isolated handles share), or -1 when lpn is unmapped or the device has no FDP. */
#define SSD_FDP_SHARED SSD_FDP_MAX_HANDLES
int ssd_fdp_owner(struct ssd *ssd, uint64_t lpn);

/*
 * Parses a list of reclaim unit handles: "all", "none" (or empty), or ids and ranges separated
 * by commas or semicolons ("0,2,5-7"), each below nruh, none twice. Returns 0 with the ids in
 * order in ids[0 .. *count), or -1 with a message.
 */
int ssd_parse_handle_list(const char *text, uint32_t nruh, uint16_t *ids, uint32_t *count,
			  char *err, size_t errlen);

#endif
