/*
 * Namespace kinds behind one small ops table.
 *
 * The controller has already checked the command (opcode, NSID, LBA range,
 * transfer size) before a kind sees it, so a kind only stores, fetches and
 * times data.  Every call returns an NVMe status and says in io->done_ns
 * when the command completes in the model's own time ("now" for kinds
 * without a timing model); the controller takes the transport floor off.
 * Calls come from several reactor threads at once; a kind is thread-safe.
 */
#ifndef NVEMU_NS_NS_H
#define NVEMU_NS_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ftl/ftl.h" /* the FDP types of the ssd kind's model */

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
};

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
	void (*destroy)(struct ns *ns);
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
	/* The controller subtracts it once from every completion time a kind returns (never
	 * before the command started), so the host-observed latency equals the model's. */
	uint64_t transport_floor_ns;
	void *kind_data;
};

enum ns_kind { NS_KIND_RAM, NS_KIND_NOSSD, NS_KIND_SSD, NS_KIND_ZONED };

struct ssd_params;
struct zoned_params;

struct ns_params {
	enum ns_kind kind;
	uint64_t bytes; /* ignored by ssd and zoned: the flash geometry sets the capacity */
	uint32_t lba_size; /* 512 or 4096 */
	/* ssd and zoned */
	const struct ssd_params *ssd;
	/* zoned only */
	const struct zoned_params *zoned;
	/* struct ns's transport_floor_ns; see docs/model.md. */
	uint64_t transport_floor_ns;
};


/* Returns NULL and a message naming the problem in err. */
struct ns *ns_create(const struct ns_params *params, char *err, size_t errlen);
void ns_destroy(struct ns *ns);
int ns_kind_parse(const char *name, enum ns_kind *kind);

/* Largest read a kind may answer without copying into io->buf. */
#define NS_ZERO_BUFFER_SIZE (1u << 20)
extern const uint8_t ns_zero_buffer[NS_ZERO_BUFFER_SIZE];

#endif
