/*
 * Parameter registry: every tunable of the SSD model is a key with a type, a default, a range,
 * a doc string and the FEMU names it also answers to. The same table serves config files,
 * `-o key=value` flags, `--help` output and the docs, so they cannot drift apart.
 *
 * The registry is generic (a table describes fields of any struct), so `nvemu sim` registers its
 * workload keys with the same machinery; struct ssd_params is the model's own table.
 * Parsing text into key/value pairs (config_parse_text) is kept apart from applying them
 * (config_set), so a richer file format can feed the same setter later.
 */
#ifndef NVEMU_CONFIG_CONFIG_H
#define NVEMU_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum config_type {
	CONFIG_U32,  /* uint32_t, written as parse_u64 takes it (util/util.h): 4096, 0x1000, 4K */
	CONFIG_U64,  /* uint64_t, likewise */
	CONFIG_F64,  /* double */
	CONFIG_BOOL, /* bool: 1/0, true/false, on/off, yes/no */
	CONFIG_ENUM, /* uint32_t index into `choices` */
	CONFIG_STR,  /* char[max]: `max` is the buffer size */
};

struct config_key {
	const char *name;
	const char *aliases[3]; /* FEMU (or fio) spellings; unused slots NULL */
	enum config_type type;
	size_t offset; /* of the field inside the described struct */
	const char *default_value; /* text, parsed like user input */
	double min, max;           /* inclusive range for numbers */
	const char *const *choices; /* CONFIG_ENUM: NULL-terminated */
	const char *doc;
};

struct config_table {
	const char *name; /* "ssd", "sim", ... used in messages */
	const struct config_key *keys;
	size_t count;
};

enum gc_policy { GC_GREEDY, GC_COST_BENEFIT, GC_RANDOM, GC_FIFO, GC_DCHOICE };
/* How the planes of a die read: one at a time, several at once when they read the same page
 * (multi-plane read), or each on its own (independent plane reads). */
enum read_planes { READ_PLANES_DIE, READ_PLANES_MULTI, READ_PLANES_INDEPENDENT };
/* What host writes do once the SLC cache is full: go to native (TLC/QLC) blocks, or wait for
 * an SLC block to be folded and keep writing SLC. */
enum slc_when_full { SLC_FULL_DIRECT, SLC_FULL_FOLD };
/* Which free block a write stream takes: the last one erased (none), the least worn (dynamic),
 * or that and cold data moved off young blocks to the most worn (static). */
enum wear_levelling { WEAR_LEVELLING_NONE, WEAR_LEVELLING_DYNAMIC, WEAR_LEVELLING_STATIC };

/* The SSD model's parameters (flash geometry and timing, FTL). Times in ns. */
struct ssd_params {
	uint32_t channels;
	uint32_t luns_per_channel;
	uint32_t planes_per_lun;
	uint32_t blocks_per_plane;
	uint32_t pages_per_block;
	uint32_t sector_size;
	uint32_t sectors_per_page;
	uint32_t pages_per_nand_page; /* mapping pages sensed and programmed together per plane */
	uint32_t read_planes;         /* enum read_planes */

	uint64_t page_read_ns;
	uint64_t page_program_ns;
	uint64_t block_erase_ns;
	uint64_t channel_xfer_ns; /* fixed cost per page transfer, added to bytes / bus rate */
	double channel_mbps;      /* bus rate in MB/s (10^6 B/s); 0 = no rate limit */
	uint64_t controller_ns;   /* per-command controller latency (no queueing) */
	uint64_t controller_read_ns; /* more of it on a read's data path (ECC decode, DMA) */
	uint64_t unmapped_read_ns;
	bool read_suspend;
	uint64_t suspend_ns;
	uint32_t suspend_max; /* suspends of one program or erase */
	uint64_t write_buffer_kib;

	/* Controller front end (flash/front.h): firmware cores and the host link. */
	uint32_t fw_cores;   /* 0: no firmware-core model */
	uint64_t fw_core_ns; /* core time per command */
	uint32_t link_gen;   /* PCIe generation; 0: no link model */
	uint32_t link_lanes;
	double link_efficiency;       /* share of the raw rate left for data */
	double link_write_efficiency; /* host to drive; 0: link_efficiency */

	double read_retry_pcent; /* reads that need retries */
	uint64_t read_retry_ns;  /* extra die time of such a read */

	/* Wear (ftl/wear.c). */
	uint32_t endurance;             /* P/E cycles of a block, mean; 0 = blocks never wear out */
	double endurance_spread_pcent;  /* standard deviation of the blocks' endurance, % of it */
	double read_retry_worn_pcent;   /* read_retry_pcent of a block at its endurance */
	uint32_t spare_threshold_pcent; /* SMART Available Spare Threshold */
	uint32_t wear_levelling;        /* enum wear_levelling */
	uint32_t wear_gap;              /* static: erase-count gap that moves cold data */

	/* SLC cache (ftl/): host writes in SLC mode while it has room. */
	uint64_t slc_static_bytes;
	uint64_t slc_dynamic_bytes; /* at most; shrinks as the drive fills */
	uint32_t cell_bits;         /* native bits per cell */
	uint64_t slc_read_ns, slc_program_ns;
	uint32_t slc_when_full; /* enum slc_when_full */

	/* Mapping cache (ftl/): the part of the L2P table in controller memory. */
	uint64_t map_cache_bytes; /* 0: all of it */
	uint32_t map_entry_bytes;

	bool in_place_writes; /* media written in place (3D XPoint): overwrites need no GC */

	double op_pcent;
	double gc_bg_pcent; /* background GC when more than this % of blocks are in use */
	double gc_fg_pcent; /* foreground GC (host waits) above this % */
	uint64_t bg_idle_ns; /* idle time before background GC and folding start */
	uint32_t gc_reserve_blocks;
	uint32_t gc_policy; /* enum gc_policy */
	uint32_t gc_dchoice;
	bool gc_separate;
	uint64_t seed;

	/* Flexible Data Placement (docs/fdp.md) */
	bool fdp;
	uint32_t fdp_nruh;	   /* reclaim unit handles */
	uint32_t fdp_nrg;	   /* reclaim groups: the dies split into this many sets */
	uint64_t fdp_runs;	   /* reclaim unit bytes; 0: an erase unit on each die of a group */
	uint32_t fdp_time_limit_s; /* ERUTL: an open reclaim unit is closed after this; 0: never */
	/* The handles of type Initially Isolated (the others: Persistently), and a namespace's
	 * Placement Handle List (reclaim unit handles, "all" by default). */
	char fdp_initially_isolated[128];
	char fdp_handles[256];
};

/* Most reclaim unit handles an FDP device can have (a handle is a byte in the FDP event). */
#define SSD_FDP_MAX_HANDLES 128

extern const struct config_table ssd_config_table;

/* Fills every field of `obj` described by `table` with its default. */
void config_defaults(const struct config_table *table, void *obj);

/* Looks `key` (or an alias) up in `table`; NULL if absent. */
const struct config_key *config_find(const struct config_table *table, const char *key);

/*
 * Parses `value` for `key` and stores it. Returns 0, or -1 with a message naming the key in
 * `err` (unknown key, malformed value, out of range).
 */
int config_set_in(const struct config_table *table, void *obj, const char *key, const char *value,
		  char *err, size_t errlen);

static inline void ssd_params_defaults(struct ssd_params *params)
{
	config_defaults(&ssd_config_table, params);
}

static inline int config_set(struct ssd_params *params, const char *key, const char *value,
			     char *err, size_t errlen)
{
	return config_set_in(&ssd_config_table, params, key, value, err, errlen);
}

/* 1, true, on, yes and 0, false, off, no in any case: false for anything else. */
bool config_parse_bool(const char *text, bool *out);

/* Splits "key=value" at the first '=' and applies it with config_set_in. */
int config_set_assignment(const struct config_table *table, void *obj, const char *assignment,
			  char *err, size_t errlen);

/*
 * Called for each `key = value` line; returns 0 to go on, or -1 having written a message to err
 * (the parser prefixes it with the line number).
 */
typedef int (*config_line_fn)(const char *key, const char *value, void *ctx, char *err,
			      size_t errlen);

/* Parses `key = value` lines; '#' and ';' start comments; blank lines are skipped. */
int config_parse_text(const char *text, config_line_fn on_line, void *ctx, char *err,
		      size_t errlen);

/* Reads a file and feeds it to config_parse_text; messages are prefixed with the path. */
int config_parse_file(const char *path, config_line_fn on_line, void *ctx, char *err,
		      size_t errlen);

/* Applies a preset file of ssd keys only. */
int config_load_ssd_file(struct ssd_params *params, const char *path, char *err, size_t errlen);

/*
 * Resolves a preset name ("femu-bbssd") or a path to a readable file. Names are looked up in
 * $NVEMU_PRESET_DIR, then in nvemu's presets (data_dir in util/util.h: share/nvemu/presets of the
 * installed or the build tree).
 */
int config_preset_path(const char *name_or_path, char *path, size_t pathlen);

/* Prints one line per key: name, aliases, default, range, doc. */
void config_print_keys(const struct config_table *table, FILE *stream);

/* The value of `key` in obj as text that config_set_in reads back to the same value. */
void config_format_value(const struct config_key *key, const void *obj, char *out, size_t outlen);

#endif
