/*
 * Namespace kinds behind one small ops table.
 *
 * The controller has already checked the command (opcode, NSID, LBA range,
 * transfer size) before a kind sees it, so a kind only stores, fetches and
 * times data.  Every call returns an NVMe status and says in io->done_ns
 * when the command completes in the model's own time ("now" for kinds
 * without a timing model); the controller takes the transport floor off.
 * Calls come from several reactor threads at once; a kind is thread-safe.
 *
 * A kind whose data is in a file (a drive directory, docs/persistence.md) may not have the
 * answer at once: it returns NS_IO_PENDING and later calls io->complete(io, status), once, on
 * the same thread, with io->done_ns (and io->data) set. In-memory kinds never do.
 */
#ifndef NVEMU_NS_NS_H
#define NVEMU_NS_NS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ftl/ftl.h" /* the FDP types of the ssd kind's model */
#include "media/media.h"
#include "spec/nvme.h" /* struct nvme_fdp_event */

struct ns;
struct lat_parts; /* flash/parts.h */
struct media;

/*
 * Pieces of a kind's storage a read held for a zero-copy send (media_hold):
 * until ns_release(), a write leaves the bytes already handed to the kernel
 * as they were.  Zeroed: nothing held.
 */
struct ns_hold {
	struct media *media;
	uint64_t offset, len;
};

/* Gives back what a read held, if anything; the hold is zeroed. */
void ns_release(struct ns_hold *hold);
struct ns_undo;

/* A kind's status for "the answer comes later, through io->complete". */
#define NS_IO_PENDING 0xFFFF

struct ns_io {
	uint64_t slba;
	uint32_t nlb; /* number of logical blocks, 1's based */
	bool fua;
	/* Write with FDP: the reclaim unit handle and group it goes to (else the model's default). */
	bool placed;
	uint32_t ruh, rg;
	/* Write: the host's data.  Read: a buffer of nlb blocks the kind may fill,
	 * or NULL when the host wants no data back (Verify). */
	void *buf;
	/* Read: where the data is once the call returns (buf, or storage the kind
	 * owns that stays valid until the data is sent)... */
	const void *data;
	/* ...or, when iov is given and the kind can, pieces of its own storage
	 * in order (zero-copy); iovcnt says how many were filled, 0 if none. */
	struct iovec *iov;
	unsigned iov_cap;
	unsigned iovcnt;
	/* With iov: where to record a hold on the pieces (NULL: take none). */
	struct ns_hold *hold;
	uint64_t now_ns;
	uint64_t done_ns;
	/* Kinds with a model fill in where [now_ns, done_ns) went when this is set (zeroed). */
	struct lat_parts *parts;
	/* Set by the caller: how a command answered NS_IO_PENDING completes. */
	void (*complete)(struct ns_io *io, uint16_t status);
	/* The kind's, while a command is in progress (ns/kinds.h). */
	struct media_io mio;
	uint16_t status;
	struct {
		struct ns *ns;
		struct media *media;
		struct ns_undo *undo;
		uint64_t rec; /* the undo record's number, 0 for none */
		bool async;
		uint64_t (*place)(struct ns *ns, struct ns_io *io);
		void (*fail)(struct ns *ns, struct ns_io *io);
		uint16_t (*synced)(struct ns *ns, struct ns_io *io, uint16_t status);
	} write;
	uint64_t scratch[8]; /* a kind's own state of the command (zoned: its zone reservation) */
};

/* Wear warnings (SMART critical warning bits 0 and 3 at the controller). */
#define NS_WEAR_SPARE_LOW 1u /* available spare below its threshold */
#define NS_WEAR_READ_ONLY 2u /* no spare left: the media are read-only */

/* What a kind with a device model can report; false when it has none. */
struct ns_model_counters {
	uint64_t host_pages_written;
	uint64_t nand_pages_written;
	uint64_t gc_runs;
	uint64_t erase_min, erase_max;
	double erase_mean;
	double waf;
	uint64_t media_bytes_written, media_bytes_erased; /* NAND pages programmed, units erased */
	/* Wear, when the model has it (wear set; else the drive never wears out): */
	bool wear;
	bool read_only;                 /* no spare left: writes are refused */
	uint32_t avail_spare_pcent;     /* SMART Available Spare */
	uint32_t spare_threshold_pcent; /* SMART Available Spare Threshold */
	double percent_used;            /* mean erases / endurance, in percent */
	uint64_t retired_blocks;
};

/*
 * Flexible Data Placement of the namespace's endurance group (docs/fdp.md). Each namespace of
 * the ssd kind is a drive of its own, so it is an endurance group of its own too.
 */
struct ns_fdp {
	struct ssd_fdp_config config;         /* enabled or not, handles, groups, their types */
	uint64_t ru_bytes;                    /* Reclaim Unit Nominal Size */
	uint32_t nph;                         /* the namespace's Placement Handle List: */
	uint16_t ph_ruh[SSD_FDP_MAX_HANDLES]; /* placement handle -> reclaim unit handle */
};

/*
 * The FDP events logs (log page 23h: the newest NVME_FDP_MAX_EVENTS host and controller events)
 * and the event types each reclaim unit handle reports (Features 1Eh), of a namespace with FDP
 * enabled. The controller core writes them under its lock; a drive directory keeps them (table
 * "fdp-events", ns_fdp_events_table): a change to this layout is a new version of the table.
 * Format NVM empties the logs.
 */
#define NS_FDP_EVENT_TYPES 6 /* the types nvme/fdp.c reports, in its order */
struct ns_fdp_event_log {
	struct nvme_fdp_event ev[NVME_FDP_MAX_EVENTS];
	uint32_t head, count; /* the oldest entry, and how many */
};
struct ns_fdp_events {
	struct ns_fdp_event_log host, ctrl;
	uint8_t disabled[SSD_FDP_MAX_HANDLES]; /* per handle: bit i = event type i turned off */
};

struct ns_fdp_ops {
	/* Reclaim Unit Handle Status: logical blocks the handle's unit in group rg still takes,
	 * and the seconds left of its time limit (0: none). */
	void (*ruh_status)(struct ns *ns, uint32_t ruh, uint32_t rg, uint64_t now,
			   uint64_t *available_blocks, uint32_t *seconds_left);
	/* Reclaim Unit Handle Update; true when the unit left was written in part. */
	bool (*update)(struct ns *ns, uint32_t ruh, uint32_t rg, uint64_t now);
	void (*handle_counters)(struct ns *ns, uint32_t ruh, struct ssd_fdp_counters *out);
	void (*group_counters)(struct ns *ns, uint32_t rg, struct ssd_fdp_counters *out);
	/* The device's own events (time limits), oldest first; times are the model's. */
	size_t (*take_events)(struct ns *ns, uint64_t now, struct ssd_fdp_event *out, size_t max);
};

struct ns_zone_ops; /* ns/zoned.h */

struct ns_ops {
	const char *kind;
	uint16_t (*read)(struct ns *ns, struct ns_io *io);
	uint16_t (*write)(struct ns *ns, struct ns_io *io);
	uint16_t (*write_zeroes)(struct ns *ns, struct ns_io *io);
	uint16_t (*deallocate)(struct ns *ns, struct ns_io *io);
	uint16_t (*flush)(struct ns *ns, struct ns_io *io);
	/* Logical blocks that hold data (Identify Namespace NUSE). */
	uint64_t (*blocks_in_use)(struct ns *ns);
	/* Optional: the device model's counters. */
	bool (*model_counters)(struct ns *ns, struct ns_model_counters *out);
	/* Optional, models that wear: NS_WEAR_* warnings raised now; cheap (asked after writes). */
	uint32_t (*wear_warnings)(struct ns *ns);
	void (*destroy)(struct ns *ns);
	/*
	 * Format NVM: every block reads as zeroes and the model is as out of the box (wear
	 * kept). The controller keeps I/O away from the namespace meanwhile.
	 */
	uint16_t (*format)(struct ns *ns);
	/*
	 * Power cut at `now` (no I/O in flight): writes the model had not programmed to NAND by
	 * then are lost and their LBAs read back what they held before; the NAND work pending
	 * never happens. Returns the LBAs lost. Optional: kinds without a write buffer lose nothing.
	 */
	uint64_t (*power_cut)(struct ns *ns, uint64_t now);
	/* Optional: the model's full consistency check (nvemu check); 0 or -1 with a message. */
	int (*check)(struct ns *ns, char *err, size_t errlen);
	/* Optional: the geometry the kind chose, for --check-config. */
	void (*describe)(struct ns *ns, char *out, size_t outlen);
	/* Optional, kinds with a flash model (ssd): one of its dies offline or back (die-offline
	 * faults, nested; 0 or -1 with a message), and the first block of [slba, slba + nlb)
	 * whose data an offline die holds, UINT64_MAX for none. */
	int (*set_die_offline)(struct ns *ns, uint32_t die, bool offline, char *err, size_t errlen);
	uint64_t (*first_lost_block)(struct ns *ns, uint64_t slba, uint32_t nlb);
	/* Zone management and Zone Append; NULL unless the kind is zoned (CSI 2). */
	const struct ns_zone_ops *zone;
	/* Flexible Data Placement; NULL unless ns->fdp is set. */
	const struct ns_fdp_ops *fdp;
};

struct ns {
	const struct ns_ops *ops;
	uint8_t csi;
	uint8_t lba_shift;
	uint64_t nlbas;
	/* What the kind reads as zeroes after Deallocate (Identify DLFEAT). */
	bool deallocated_reads_zero;
	/* The endurance group's FDP configuration; NULL when the kind has none. */
	const struct ns_fdp *fdp;
	/* Its events logs, when FDP is enabled (a drive directory's table, or memory). */
	struct ns_fdp_events *fdp_events;
	/* The controller subtracts it once from every completion time a kind returns (never
	 * before the command started), so the host-observed latency equals the model's. */
	uint64_t transport_floor_ns;
	void *kind_data;
	/* Volatile write cache enabled (Set Features 06h): else every write is durable when done. */
	atomic_bool write_cache;
	/* Power-loss protection: a power cut loses nothing. */
	bool plp;
	/* The drive directory behind the namespace (ns/store.h); NULL for one in memory. */
	struct ns_store *store;
	/* A drive directory's own identifiers (NGUID, UUID), kept across restarts. */
	bool has_ids;
	uint8_t nguid[16], uuid[16];
	/* Power cuts suffered and the LBAs they took back (kept in a drive directory). */
	_Atomic uint64_t power_cuts, lbas_lost;
	/* Host activity of earlier runs (a drive directory's), read when it opened. */
	uint64_t earlier[4];
	/* A drive directory's error log (table "error-log"); NULL in memory. */
	struct ns_error *errors;
	pthread_mutex_t errors_lock;
	uint64_t errors_total;
};

enum ns_kind { NS_KIND_RAM, NS_KIND_NOSSD, NS_KIND_SSD, NS_KIND_ZONED };

struct ssd_params;
struct zoned_params;

struct ns_params {
	enum ns_kind kind;
	/* 0: the kind's default (ram, nossd: 1 GiB; ssd, zoned: what the flash geometry holds).
	 * For ssd and zoned a size chooses the geometry (blocks_per_plane), unless given. */
	uint64_t bytes;
	uint32_t lba_size; /* 512 or 4096; 0: 4096, or a kept drive's */
	/* ssd and zoned */
	const struct ssd_params *ssd;
	/* zoned only */
	const struct zoned_params *zoned;
	/* struct ns's transport_floor_ns; see docs/model.md. */
	uint64_t transport_floor_ns;
	/* blocks_per_plane was given: a size must agree with the geometry, not choose it. */
	bool geometry_given;
	/* A drive directory (docs/persistence.md); NULL: the namespace lives in memory. */
	const char *path;
	const char *data; /* the data file or block device; NULL: DIR/data (or the drive's) */
	int plp;	  /* power_loss_protection: 1 on, 0 off, -1 not given (off, or the drive's) */
	bool kind_given;  /* a kept drive is of its own kind unless one is given */
	/* The model and zone keys given ("key=value", in order, presets expanded): a kept drive
	 * applies them over its own, and refuses those that change its geometry. */
	const char *const *keys;
	unsigned nkeys;
	/* Only check: a kept drive is read and compared, nothing is written; the namespace
	 * built is in memory. */
	bool check_only;
};


/* Returns NULL and a message naming the problem in err. */
struct ns *ns_create(const struct ns_params *params, char *err, size_t errlen);
/* A namespace kept in a drive directory is closed cleanly (docs/persistence.md). */
void ns_destroy(struct ns *ns);
/*
 * Format NVM (docs/persistence.md): the kind's format, then the FDP events logs emptied (the
 * handles' event settings stay). The caller keeps I/O away meanwhile. An NVMe status.
 */
uint16_t ns_format(struct ns *ns);

/*
 * What SMART reports across runs (a drive directory keeps it; in memory everything starts at
 * zero and one power cycle). ns_lifetime gives the totals of earlier runs and the power
 * figures; ns_save_host_counters stores this run's host totals (earlier runs' included) for
 * the next, at the next state file write (close, power cut, feature change).
 */
struct ns_lifetime {
	uint64_t read_bytes, write_bytes, read_cmds, write_cmds; /* of earlier runs */
	uint64_t power_cycles, unsafe_shutdowns, power_on_seconds;
};
void ns_lifetime(const struct ns *ns, struct ns_lifetime *out);
void ns_save_host_counters(struct ns *ns, uint64_t read_bytes, uint64_t write_bytes,
			   uint64_t read_cmds, uint64_t write_cmds);

/*
 * A drive directory's error log: the newest NS_ERRORS_KEPT Error Information Log entries of
 * commands for the namespace, kept across runs with the time each happened; a new controller
 * starts its log with them (docs/persistence.md). Nothing is kept for a namespace in memory.
 */
#define NS_ERRORS_KEPT 64
#define NS_ERROR_ENTRY_BYTES 64
struct ns_error {
	uint64_t number;  /* 1, 2, ... over the drive's life; 0: an empty slot */
	uint64_t time_ns; /* wall clock */
	uint8_t entry[NS_ERROR_ENTRY_BYTES];
};
void ns_record_error(struct ns *ns, const void *entry);
/* The kept errors in the order they happened (at most NS_ERRORS_KEPT); *total: all errors over
 * the drive's life. Returns how many. */
unsigned ns_kept_errors(struct ns *ns, struct ns_error *out, uint64_t *total);

/*
 * A power cut at `now`, with no I/O in flight (docs/persistence.md): the kind loses what it
 * had not programmed to NAND, and the namespace counts the cut, an unsafe shutdown and a power
 * cycle. Returns the LBAs lost.
 */
uint64_t ns_power_cut(struct ns *ns, uint64_t now);

/*
 * Set Features 06h: the volatile write cache on or off. Turning it off first makes what it
 * held durable; a drive directory remembers the setting.
 */
void ns_set_write_cache(struct ns *ns, bool on);

/* Is `key` of a --ns-o / [namespace] assignment one of the namespace's own (path, data,
 * power_loss_protection) rather than a model or zone key? */
bool ns_key_is_own(const char *key);
/* Applies one of those; -1 with a message when the value is unfit. */
int ns_set_own_key(struct ns_params *params, const char *key, const char *value, char *err,
		   size_t errlen);
const char *ns_kind_name(enum ns_kind kind);
int ns_kind_parse(const char *name, enum ns_kind *kind);

/*
 * ---- Drives nvemu sim makes and replays (docs/persistence.md) ----
 * ns_model_drive_load opens DIR, an ssd drive, for a simulation: its model on a copy-on-write
 * view of its tables (DIR does not change), with `keys` (key=value) over its own model keys;
 * keys that change its geometry are refused. ns_model_drive_save writes a new drive DIR
 * serving `ssd` (its tables copied, its data all zeroes: the simulator moves no data).
 */
struct ns_model_drive;
struct ssd;
struct ns_model_drive *ns_model_drive_load(const char *dir, const char *const *keys,
					   unsigned nkeys, char *err, size_t errlen);
struct ssd *ns_model_drive_ssd(struct ns_model_drive *md);
const struct ssd_params *ns_model_drive_params(const struct ns_model_drive *md);
void ns_model_drive_close(struct ns_model_drive *md);
int ns_model_drive_save(const char *dir, struct ssd *ssd, const struct ssd_params *params,
			char *err, size_t errlen);

/* Largest read a kind may answer without copying into io->buf. */
#define NS_ZERO_BUFFER_SIZE (1u << 20)
extern const uint8_t ns_zero_buffer[NS_ZERO_BUFFER_SIZE];

#endif
