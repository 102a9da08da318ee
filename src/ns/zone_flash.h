/*
 * Zones on the flash model (ConfZNS-style): each zone owns fixed erase units
 * on a fixed set of dies, so sequential zones need no mapping table and no
 * garbage collection.  A zone spans `zone_channels` channels times
 * `zone_ways` dies per channel: one die (1 x 1), a few channels, or every
 * channel and die.  Zones take turns over the die groups, so consecutive
 * zones land on different dies.  Inside a zone, flash pages are striped over
 * its dies page by page.
 *
 * Costs: a write is admitted into the DRAM write buffer and programmed when
 * its pages are committed (a page half-written with 512-byte LBAs waits for
 * its other half); Reset erases the erase units that hold programmed pages;
 * Finish pads according to the finish policy; reads cost NAND reads of
 * programmed pages and the unmapped-read time elsewhere.  Every call takes
 * the mapping's mutex: flash/ is not thread-safe.
 */
#ifndef NVEMU_NS_ZONE_FLASH_H
#define NVEMU_NS_ZONE_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "drive/drive.h"
#include "flash/flash.h"

enum zone_finish_policy {
	ZONE_FINISH_NONE,  /* metadata only: the unwritten rest of the zone stays erased */
	ZONE_FINISH_BLOCK, /* pad each die's open erase unit to its end */
	ZONE_FINISH_ZONE,  /* pad every page up to the zone capacity */
};

struct zone_flash_layout {
	uint32_t channels; /* channels a zone spans; 0: all */
	uint32_t ways;	   /* dies per channel a zone spans; 0: all */
	uint64_t zone_cap_bytes;
	enum zone_finish_policy finish;
	uint64_t zones;	   /* zones to lay out; 0: as many as the flash holds */
};

struct zone_flash_counters {
	uint64_t host_pages; /* pages committed by host writes */
	uint64_t nand_pages; /* host pages plus Finish padding */
	uint64_t erases;     /* erase units */
	uint64_t erase_min, erase_max;
	double erase_mean;
};

struct zone_flash;

struct zone_flash *zone_flash_create(const struct ssd_params *params,
				     const struct zone_flash_layout *layout, char *err,
				     size_t errlen);
void zone_flash_destroy(struct zone_flash *zf);

/*
 * Sets params->blocks_per_plane to the fewest blocks per plane that hold `zones` zones of the
 * layout. Returns 0, or -1 with a message.
 */
int zone_flash_fit(struct ssd_params *params, const struct zone_flash_layout *layout,
		   uint64_t zones, char *err, size_t errlen);
/* How many zones of the layout the geometry holds; 0 and a message if none. */
uint64_t zone_flash_zones_held(const struct ssd_params *params,
			       const struct zone_flash_layout *layout, char *err, size_t errlen);

/* ---- Kept across runs: counters, programmed pages per zone, erases per unit ---- */
struct zone_flash_saved {
	uint64_t host_pages, nand_pages, erases;
};
enum zone_flash_table { ZONE_FLASH_SAVED, ZONE_FLASH_PAGES, ZONE_FLASH_ERASES, ZONE_FLASH_TABLES };
int zone_flash_table_specs(const struct ssd_params *params, const struct zone_flash_layout *layout,
			   struct drive_table_spec out[ZONE_FLASH_TABLES], char *err, size_t errlen);
/* On tables of zone_flash_table_specs() (NULL: in memory), checked; NULL and a message if not. */
struct zone_flash *zone_flash_open(const struct ssd_params *params,
				   const struct zone_flash_layout *layout,
				   void *const tables[ZONE_FLASH_TABLES], char *err, size_t errlen);
/* Copies the counters into the saved table. */
void zone_flash_checkpoint(struct zone_flash *zf);
/* A zone's data stops at `bytes` (a power loss or crash took the rest): fewer pages are on NAND. */
void zone_flash_rollback(struct zone_flash *zf, uint64_t zone, uint64_t bytes);
/* NAND work booked to end after `now` never happens. */
void zone_flash_power_loss(struct zone_flash *zf, uint64_t now);
/* Format: nothing programmed, counters at zero; units that held data count an erase. */
void zone_flash_format(struct zone_flash *zf);

/* How many zones of the layout's capacity the flash holds. */
uint64_t zone_flash_zones(const struct zone_flash *zf);
uint32_t zone_flash_page_bytes(const struct zone_flash *zf);

/*
 * Each call is one command arriving at `now` (firmware cores and the host link as for the ssd
 * kind, flash/front.h); `parts` (NULL, or zeroed) gets where its time went, as ssd_read's.
 * Writes return when the host may go on; the _at forms also give *programmed_at, when the
 * pages are on NAND (a power loss before then loses them).
 */
/* Sequential zones: bytes [from, to) of the zone were committed. */
uint64_t zone_flash_commit(struct zone_flash *zf, uint64_t zone, uint64_t from, uint64_t to,
			   bool fua, uint64_t now, struct lat_parts *parts);
uint64_t zone_flash_commit_at(struct zone_flash *zf, uint64_t zone, uint64_t from, uint64_t to,
			      bool fua, uint64_t now, struct lat_parts *parts,
			      uint64_t *programmed_at);
/* Conventional zones: bytes [from, to) were overwritten in place. */
uint64_t zone_flash_overwrite(struct zone_flash *zf, uint64_t zone, uint64_t from, uint64_t to,
			      bool fua, uint64_t now, struct lat_parts *parts);
uint64_t zone_flash_overwrite_at(struct zone_flash *zf, uint64_t zone, uint64_t from, uint64_t to,
				 bool fua, uint64_t now, struct lat_parts *parts,
				 uint64_t *programmed_at);
uint64_t zone_flash_read(struct zone_flash *zf, uint64_t zone, uint64_t from, uint64_t to,
			 uint64_t now, struct lat_parts *parts);
uint64_t zone_flash_erase(struct zone_flash *zf, uint64_t zone, uint64_t now,
			  struct lat_parts *parts);
uint64_t zone_flash_finish(struct zone_flash *zf, uint64_t zone, uint64_t now,
			   struct lat_parts *parts);
uint64_t zone_flash_flush(struct zone_flash *zf, uint64_t now, struct lat_parts *parts);
/* A command that needs only the controller (data held in controller memory). */
uint64_t zone_flash_command(struct zone_flash *zf, uint64_t now, struct lat_parts *parts);

void zone_flash_get_counters(struct zone_flash *zf, struct zone_flash_counters *out);

#endif
