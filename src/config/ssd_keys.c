/*
 * The SSD model's keys. Defaults describe a 16 GiB device with FEMU's NAND latencies but few
 * dies and many blocks per die, so the blocks the FTL must keep open or free per die cost little
 * of the spare area (see docs/model.md, "Over-provisioning"). Presets in presets/ override them.
 */
#include "config/config.h"
#include "util/util.h"

#include <stddef.h>

#define FIELD(name) offsetof(struct ssd_params, name)
#define NO_ALIAS {NULL, NULL, NULL}
#define MAX_U32 4294967295.0
#define MAX_U64 1.8e19

static const char *const gc_policy_names[] = {"greedy", "cost-benefit", "random", "fifo",
					      "d-choice", NULL};

static const char *const read_planes_names[] = {"die", "multi", "independent", NULL};

static const char *const slc_when_full_names[] = {"direct", "fold", NULL};

static const char *const wear_levelling_names[] = {"none", "dynamic", "static", NULL};

static const struct config_key ssd_keys[] = {
	{"channels", {"nchs"}, CONFIG_U32, FIELD(channels), "4", 1, 1024, NULL,
	 "flash channels (buses)"},
	{"luns_per_channel", {"luns_per_ch"}, CONFIG_U32, FIELD(luns_per_channel), "2", 1, 1024, NULL,
	 "dies (LUNs) on each channel"},
	{"planes_per_lun", {"pls_per_lun"}, CONFIG_U32, FIELD(planes_per_lun), "1", 1, 16, NULL,
	 "planes per die; a multi-plane program or erase covers one block per plane"},
	{"blocks_per_plane", {"blks_per_pl"}, CONFIG_U32, FIELD(blocks_per_plane), "2048", 4, 1 << 24,
	 NULL, "erase blocks per plane"},
	{"pages_per_block", {"pgs_per_blk"}, CONFIG_U32, FIELD(pages_per_block), "256", 1, 65536,
	 NULL, "pages per block"},
	{"sector_size", {"secsz"}, CONFIG_U32, FIELD(sector_size), "512", 512, 65536, NULL,
	 "bytes per sector"},
	{"sectors_per_page", {"secs_per_pg"}, CONFIG_U32, FIELD(sectors_per_page), "8", 1, 256, NULL,
	 "sectors per flash page; the page is the mapping unit"},
	{"pages_per_nand_page", NO_ALIAS, CONFIG_U32, FIELD(pages_per_nand_page), "1", 1, 64, NULL,
	 "pages in one NAND page of a plane (16 KiB NAND pages with 4 KiB pages: 4): one sense reads "
	 "them all, one program writes them all, each page crosses the channel alone"},
	{"read_planes", NO_ALIAS, CONFIG_ENUM, FIELD(read_planes), "independent", 0, 0,
	 read_planes_names,
	 "how a die's planes read: die (one at a time), multi (reads of the same page on several "
	 "planes share one sense), independent (each plane senses on its own)"},
	{"page_read_ns", {"pg_rd_lat"}, CONFIG_U64, FIELD(page_read_ns), "40000", 0, 1e12, NULL,
	 "die busy time to sense a page (tR)"},
	{"page_program_ns", {"pg_wr_lat"}, CONFIG_U64, FIELD(page_program_ns), "200000", 0, 1e12,
	 NULL, "die busy time to program a page, or one page per plane (tPROG)"},
	{"block_erase_ns", {"blk_er_lat"}, CONFIG_U64, FIELD(block_erase_ns), "2000000", 0, 1e12,
	 NULL, "die busy time to erase a block, or one block per plane (tBERS)"},
	{"channel_xfer_ns", {"ch_xfer_lat"}, CONFIG_U64, FIELD(channel_xfer_ns), "0", 0, 1e12, NULL,
	 "fixed channel time per page transfer (command/address cycles), added to bytes/rate"},
	{"channel_mbps", NO_ALIAS, CONFIG_F64, FIELD(channel_mbps), "800", 0, 1e6, NULL,
	 "channel bus rate in MB/s (10^6 bytes/s); 0 = transfers cost only channel_xfer_ns"},
	{"controller_ns", NO_ALIAS, CONFIG_U64, FIELD(controller_ns), "2000", 0, 1e12, NULL,
	 "controller latency added to every command (a pipeline: commands do not queue for it)"},
	{"controller_read_ns", NO_ALIAS, CONFIG_U64, FIELD(controller_read_ns), "0", 0, 1e12, NULL,
	 "more controller latency on a read's data path (ECC decoding, DMA setup), per page"},
	{"unmapped_read_ns", NO_ALIAS, CONFIG_U64, FIELD(unmapped_read_ns), "3000", 0, 1e12, NULL,
	 "extra time to answer a read of a never-written or trimmed page (map lookup, zero fill)"},
	{"read_suspend", NO_ALIAS, CONFIG_BOOL, FIELD(read_suspend), "off", 0, 1, NULL,
	 "host reads suspend the program or erase in progress on their die, once per burst of reads"},
	{"suspend_ns", NO_ALIAS, CONFIG_U64, FIELD(suspend_ns), "20000", 0, 1e12, NULL,
	 "cost of one suspend/resume, added to the read and to the suspended operation"},
	{"suspend_max", NO_ALIAS, CONFIG_U32, FIELD(suspend_max), "5", 1, MAX_U32, NULL,
	 "suspends one program or erase allows; later reads wait for it to end"},
	{"write_buffer_kib", NO_ALIAS, CONFIG_U64, FIELD(write_buffer_kib), "4096", 0, 1 << 30, NULL,
	 "DRAM write buffer; 0 = writes complete when programmed"},
	{"fw_cores", NO_ALIAS, CONFIG_U32, FIELD(fw_cores), "0", 0, 1024, NULL,
	 "firmware cores: each command takes fw_core_ns of the one that frees first, waiting for it "
	 "when all are busy (high-IOPS drives are often firmware-bound); 0 = no core model"},
	{"fw_core_ns", NO_ALIAS, CONFIG_U64, FIELD(fw_core_ns), "0", 0, 1e12, NULL,
	 "firmware-core time of one command (with fw_cores), on top of controller_ns"},
	{"link_gen", NO_ALIAS, CONFIG_U32, FIELD(link_gen), "0", 0, 5, NULL,
	 "PCIe generation of the host link (1-5: 2.5, 5, 8, 16, 32 GT/s a lane); 0 = no link model"},
	{"link_lanes", NO_ALIAS, CONFIG_U32, FIELD(link_lanes), "4", 1, 32, NULL,
	 "PCIe lanes of the host link"},
	{"link_efficiency", NO_ALIAS, CONFIG_F64, FIELD(link_efficiency), "0.9", 0.1, 1, NULL,
	 "share of the link's encoded rate left for data (TLP headers, DLLPs, flow control)"},
	{"link_write_efficiency", NO_ALIAS, CONFIG_F64, FIELD(link_write_efficiency), "0", 0, 1, NULL,
	 "the same for written data, which the drive fetches with read requests to host memory; "
	 "0 = link_efficiency"},
	{"read_retry_pcent", NO_ALIAS, CONFIG_F64, FIELD(read_retry_pcent), "0", 0, 100, NULL,
	 "percent of NAND reads that need read retries"},
	{"read_retry_ns", NO_ALIAS, CONFIG_U64, FIELD(read_retry_ns), "0", 0, 1e12, NULL,
	 "extra die time of a read that needs retries (its extra senses)"},
	{"endurance", NO_ALIAS, CONFIG_U32, FIELD(endurance), "0", 0, MAX_U32, NULL,
	 "program/erase cycles a block endures, on average; a block is retired as a grown bad block "
	 "at the erase that reaches its own endurance, and the drive turns read-only when no spare "
	 "is left; 0 = blocks never wear out"},
	{"endurance_spread_pcent", NO_ALIAS, CONFIG_F64, FIELD(endurance_spread_pcent), "10", 0, 100,
	 NULL, "standard deviation of the blocks' endurance around `endurance`, in percent (normal, "
	 "drawn per block from `seed`)"},
	{"read_retry_worn_pcent", NO_ALIAS, CONFIG_F64, FIELD(read_retry_worn_pcent), "0", 0, 100,
	 NULL, "percent of NAND reads that need read retries on a block at its endurance: the share "
	 "grows linearly with the block's erases from read_retry_pcent (fresh); 0 = no growth"},
	{"spare_threshold_pcent", NO_ALIAS, CONFIG_U32, FIELD(spare_threshold_pcent), "10", 0, 100,
	 NULL, "SMART Available Spare Threshold: below it the critical warning's spare bit is set"},
	{"wear_levelling", NO_ALIAS, CONFIG_ENUM, FIELD(wear_levelling), "none", 0, 0,
	 wear_levelling_names,
	 "free-block choice: none (the block erased last), dynamic (the least worn), static "
	 "(dynamic, and the data of a block wear_gap erases younger than the block just erased "
	 "is moved to the most worn free block)"},
	{"wear_gap", NO_ALIAS, CONFIG_U32, FIELD(wear_gap), "50", 1, MAX_U32, NULL,
	 "static wear levelling: erase-count gap between a block just erased and the least worn "
	 "closed block of its die over which that block's (cold) data is moved"},
	{"slc_static_bytes", NO_ALIAS, CONFIG_U64, FIELD(slc_static_bytes), "0", 0, MAX_U64, NULL,
	 "SLC cache that is always there: host writes go to blocks in SLC mode while it has room"},
	{"slc_dynamic_bytes", NO_ALIAS, CONFIG_U64, FIELD(slc_dynamic_bytes), "0", 0, MAX_U64, NULL,
	 "SLC cache taken from free space on top of the static part, at most this much and at "
	 "most the unwritten capacity / cell_bits, so it shrinks as the drive fills"},
	{"cell_bits", NO_ALIAS, CONFIG_U32, FIELD(cell_bits), "3", 1, 4, NULL,
	 "bits per cell of the native mode (2 MLC, 3 TLC, 4 QLC): a block in SLC mode holds that "
	 "many times less"},
	{"slc_read_ns", NO_ALIAS, CONFIG_U64, FIELD(slc_read_ns), "0", 0, 1e12, NULL,
	 "tR of a page in an SLC-mode block; 0 = page_read_ns"},
	{"slc_program_ns", NO_ALIAS, CONFIG_U64, FIELD(slc_program_ns), "0", 0, 1e12, NULL,
	 "tPROG of an SLC-mode program group; 0 = page_program_ns"},
	{"slc_when_full", NO_ALIAS, CONFIG_ENUM, FIELD(slc_when_full), "direct", 0, 0,
	 slc_when_full_names,
	 "host writes once the SLC cache is full: direct (to native blocks) or fold (wait while "
	 "an SLC block is folded, keep writing SLC); idle time folds the cache either way"},
	{"map_cache_bytes", NO_ALIAS, CONFIG_U64, FIELD(map_cache_bytes), "0", 0, MAX_U64, NULL,
	 "controller memory (DRAM or HMB) for the mapping table; a miss reads a translation page "
	 "from flash, an evicted dirty one is programmed back; 0 = the whole table fits"},
	{"map_entry_bytes", NO_ALIAS, CONFIG_U32, FIELD(map_entry_bytes), "4", 1, 64, NULL,
	 "bytes per mapping entry (a translation page holds page size / this many)"},
	{"in_place_writes", NO_ALIAS, CONFIG_BOOL, FIELD(in_place_writes), "off", 0, 1, NULL,
	 "the media is written in place (3D XPoint): an overwrite programs the page where it is, "
	 "so random overwrites need no GC"},
	{"op_pcent", NO_ALIAS, CONFIG_F64, FIELD(op_pcent), "7", 0.1, 1000, NULL,
	 "over-provisioning, (physical - logical) / logical, in percent"},
	{"gc_bg_pcent", {"gc_thres_pcent"}, CONFIG_F64, FIELD(gc_bg_pcent), "75", 0, 100, NULL,
	 "background GC (in idle time) on a die once this % of its blocks is not free"},
	{"gc_fg_pcent", {"gc_thres_pcent_high"}, CONFIG_F64, FIELD(gc_fg_pcent), "100", 0, 100, NULL,
	 "foreground GC (host waits) on a die once this % of its blocks is not free; at least the reserve"},
	{"bg_idle_ns", NO_ALIAS, CONFIG_U64, FIELD(bg_idle_ns), "0", 0, 1e12, NULL,
	 "how long the device must be idle before background GC and SLC folding start"},
	{"gc_reserve_blocks", NO_ALIAS, CONFIG_U32, FIELD(gc_reserve_blocks), "1", 1, MAX_U32, NULL,
	 "free blocks per die (of planes_per_lun blocks each) always kept for GC"},
	{"gc_policy", NO_ALIAS, CONFIG_ENUM, FIELD(gc_policy), "greedy", 0, 0, gc_policy_names,
	 "GC victim choice"},
	{"gc_dchoice", NO_ALIAS, CONFIG_U32, FIELD(gc_dchoice), "8", 1, 1024, NULL,
	 "candidates sampled by the d-choice policy"},
	{"gc_separate", NO_ALIAS, CONFIG_BOOL, FIELD(gc_separate), "on", 0, 1, NULL,
	 "GC writes go to their own open blocks, apart from host writes (hot/cold)"},
	{"seed", NO_ALIAS, CONFIG_U64, FIELD(seed), "1", 0, MAX_U64, NULL,
	 "random seed of the random and d-choice GC policies, read retries and the blocks' endurance"},
	{"fdp", NO_ALIAS, CONFIG_BOOL, FIELD(fdp), "off", 0, 1, NULL,
	 "Flexible Data Placement: the drive starts with FDP enabled in its endurance group "
	 "(docs/fdp.md)"},
	{"fdp_nruh", {"fdp.nruh"}, CONFIG_U32, FIELD(fdp_nruh), "8", 1, SSD_FDP_MAX_HANDLES, NULL,
	 "FDP reclaim unit handles (write points the host can place data on)"},
	{"fdp_nrg", {"fdp.nrg"}, CONFIG_U32, FIELD(fdp_nrg), "1", 1, 1024, NULL,
	 "FDP reclaim groups: the dies split into this many equal sets, each its own GC domain"},
	{"fdp_runs", {"fdp.runs"}, CONFIG_U64, FIELD(fdp_runs), "0", 0, MAX_U64, NULL,
	 "FDP reclaim unit size in bytes, rounded up to whole erase units on every die of a group; "
	 "0: one erase unit on each die of the group"},
	{"fdp_time_limit", {"fdp.erutl"}, CONFIG_U32, FIELD(fdp_time_limit_s), "0", 0, MAX_U32, NULL,
	 "seconds a reclaim unit may stay open before the drive closes it (ERUTL); 0: no limit"},
	{"fdp_initially_isolated", NO_ALIAS, CONFIG_STR, FIELD(fdp_initially_isolated), "none", 0,
	 128, NULL,
	 "reclaim unit handles of type Initially Isolated (GC may mix their data), e.g. 6,7 or "
	 "4-7; none or all; the others are Persistently Isolated"},
	{"fdp_handles", {"fdp.ruhs"}, CONFIG_STR, FIELD(fdp_handles), "all", 0, 256, NULL,
	 "a namespace's Placement Handle List: the reclaim unit handles it may use, in placement "
	 "handle order, e.g. 0,1,2,3 or 0-3; all"},
};

const struct config_table ssd_config_table = {"ssd", ssd_keys, ARRAY_SIZE(ssd_keys)};
