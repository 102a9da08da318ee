/*
 * What the simulator drives: the ssd model (ftl/), or zones on the flash model (the zoned kind's
 * ns/zone_flash.c). For zones, the logical pages are the zones' capacities end to end; the
 * workloads that reach them write each zone sequentially (sim_main.c refuses others).
 */
#include <stdio.h>
#include <stdlib.h>

#include "ns/ns.h"
#include "ns/zone_flash.h"
#include "ns/zoned.h"
#include "sim/sim_internal.h"
#include "util/util.h"

int target_open(struct sim_target *t, const struct ssd_params *sp, const struct zoned_params *zp,
		char *err, size_t errlen)
{
	*t = (struct sim_target){0};
	if (!zp) {
		t->ssd = ssd_create(sp, err, errlen);
		if (!t->ssd)
			return -1;
		ssd_single_thread(t->ssd);
		t->logical_pages = ssd_logical_pages(t->ssd);
		t->page_bytes = ssd_page_bytes(t->ssd);
		return 0;
	}
	uint64_t cap = zoned_capacity_bytes(zp, sp);
	struct zone_flash_layout layout = {.channels = zp->zone_channels,
					   .ways = zp->zone_ways,
					   .zone_cap_bytes = cap,
					   .finish = (enum zone_finish_policy)zp->finish};
	t->zones = zone_flash_create(sp, &layout, err, errlen);
	if (!t->zones)
		return -1;
	t->page_bytes = zone_flash_page_bytes(t->zones);
	t->zone_pages = cap / t->page_bytes;
	if (t->zone_pages == 0) {
		target_close(t);
		return errorf(err, errlen, "a zone capacity of %llu bytes holds no %u-byte page",
			      (unsigned long long)cap, t->page_bytes);
	}
	t->logical_pages = zone_flash_zones(t->zones) * t->zone_pages;
	return 0;
}

void target_load(struct sim_target *t, struct ns_model_drive *drive)
{
	*t = (struct sim_target){.ssd = ns_model_drive_ssd(drive), .drive = drive};
	ssd_single_thread(t->ssd);
	t->logical_pages = ssd_logical_pages(t->ssd);
	t->page_bytes = ssd_page_bytes(t->ssd);
}

void target_close(struct sim_target *t)
{
	if (t->drive)
		ns_model_drive_close(t->drive);
	else
		ssd_destroy(t->ssd);
	t->drive = NULL;
	zone_flash_destroy(t->zones);
	t->ssd = NULL;
	t->zones = NULL;
}

/*
 * Pages [lpn, lpn + npages) zone by zone; returns when the last part completes, and its parts
 * (a part per zone, each its own command for the zone mapping).
 */
static uint64_t by_zone(struct sim_target *t, uint64_t lpn, uint32_t npages, uint64_t now,
			struct lat_parts *parts, bool write)
{
	uint64_t done = now, end = lpn + npages;
	struct lat_pages lp;
	uint64_t zones = (end - 1) / t->zone_pages - lpn / t->zone_pages + 1;
	struct lat_parts *pp = lat_pages_begin(&lp, parts, zones);
	while (lpn < end) {
		uint64_t zone = lpn / t->zone_pages, off = lpn % t->zone_pages;
		uint64_t n = end - lpn < t->zone_pages - off ? end - lpn : t->zone_pages - off;
		uint64_t from = off * t->page_bytes, to = (off + n) * t->page_bytes;
		lat_page_begin(&lp);
		uint64_t part_done =
		    write ? zone_flash_commit(t->zones, zone, from, to, false, now, pp)
			  : zone_flash_read(t->zones, zone, from, to, now, pp);
		lat_page_end(&lp, part_done, &done);
		lpn += n;
	}
	lat_pages_end(&lp);
	return done;
}

uint64_t target_zoned_io(struct sim_target *t, uint8_t op, uint64_t lpn, uint32_t npages,
			 uint64_t now, struct lat_parts *parts)
{
	switch (op) {
	case IO_READ:
		return by_zone(t, lpn, npages, now, parts, false);
	case IO_WRITE:
		return by_zone(t, lpn, npages, now, parts, true);
	case IO_FLUSH:
		return zone_flash_flush(t->zones, now, parts);
	default:
		return zone_flash_command(t->zones, now, parts); /* trims: refused earlier */
	}
}

void target_counters(struct sim_target *t, struct ssd_counters *out)
{
	if (t->ssd) {
		ssd_get_counters(t->ssd, out);
		return;
	}
	struct zone_flash_counters c;
	zone_flash_get_counters(t->zones, &c);
	*out = (struct ssd_counters){
	    .host_pages_written = c.host_pages,
	    .nand_pages_written = c.nand_pages,
	    .erases = c.erases,
	    .erase_min = c.erase_min,
	    .erase_max = c.erase_max,
	    .erase_mean = c.erase_mean,
	    .waf = c.host_pages ? (double)c.nand_pages / (double)c.host_pages : 0,
	};
}
