/*
 * The zoned kind: ZNS on the flash model.  zone_state.c decides what a command
 * may do and moves write pointers; this file stores the data and asks
 * zone_flash.c when the command completes.
 */
#include "ns/zoned.h"

#include <stdio.h>
#include <stdlib.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

#include "media/media.h"
#include "ns/kinds.h"
#include "ns/store.h"
#include "ns/undo.h"
#include "ns/zone_flash.h"
#include "spec/nvme.h"
#include "util/util.h"

struct zoned_ns {
	struct media *media;
	struct zones *zones;
	struct zone_flash *flash;
	uint64_t append_limit;
	unsigned lba_shift, zone_shift; /* zone_shift: log2(LBAs per zone) */
	struct ns_undo *undo;		/* NULL with power-loss protection */
	/* The drive directory's tables, NULL in memory. */
	struct ns_store *store;
	void *zone_tables[ZONE_TABLES];
	void *flash_tables[ZONE_FLASH_TABLES];
	char geometry[160]; /* as described */
};

_Static_assert(sizeof(struct zone_write) <= sizeof(((struct ns_io *)0)->scratch),
	       "a zone reservation fits the command's scratch space");

/* An undo record's tag: the zone, and its reset count when the write reserved its LBAs. */
static uint64_t undo_tag(uint64_t zone, uint32_t resets) { return zone << 32 | resets; }

static struct zoned_ns *zoned_of(struct ns *ns) { return ns->kind_data; }

static uint64_t zone_first_lba(const struct zoned_ns *zn, uint64_t zone) { return zone << zn->zone_shift; }

/* A read over several zones is a read per zone; its breakdown is that of the last to end. */
static uint64_t zoned_read_time(struct zoned_ns *zn, const struct ns_io *io)
{
	uint64_t done = io->now_ns;
	uint64_t end = io->slba + io->nlb;
	uint64_t zones = ((end - 1) >> zn->zone_shift) - (io->slba >> zn->zone_shift) + 1;
	struct lat_pages lp;
	struct lat_parts *pp = lat_pages_begin(&lp, io->parts, zones);
	for (uint64_t lba = io->slba; lba < end;) {
		uint64_t zone = lba >> zn->zone_shift;
		uint64_t zone_end = zone_first_lba(zn, zone + 1);
		uint64_t to = end < zone_end ? end : zone_end;
		uint64_t from_off = lba - zone_first_lba(zn, zone), to_off = to - zone_first_lba(zn, zone);
		lat_page_begin(&lp);
		uint64_t t = zone_flash_read(zn->flash, zone, from_off << zn->lba_shift,
					     to_off << zn->lba_shift, io->now_ns, pp);
		lat_page_end(&lp, t, &done);
		lba = to;
	}
	lat_pages_end(&lp);
	return done;
}

static uint16_t zoned_read(struct ns *ns, struct ns_io *io)
{
	struct zoned_ns *zn = zoned_of(ns);
	uint16_t status = zones_check_read(zn->zones, io->slba, io->nlb);
	if (status)
		return status;
	io->done_ns = zoned_read_time(zn, io);
	return ns_media_fetch(ns, zn->media, io);
}

/* The data is stored: the reservation ends and the flash mapping places the pages. */
static uint64_t zoned_place(struct ns *ns, struct ns_io *io)
{
	struct zoned_ns *zn = zoned_of(ns);
	const struct zone_write *w = (const struct zone_write *)io->scratch;
	zones_write_end(zn->zones, w);
	uint64_t from = w->committed_from << zn->lba_shift, to = w->committed_to << zn->lba_shift;
	bool fua = io->fua || !atomic_load_explicit(&ns->write_cache, memory_order_relaxed);
	uint64_t done, on_nand = io->now_ns;
	if (w->conventional)
		done = zone_flash_overwrite_at(zn->flash, w->zone, from, to, fua, io->now_ns,
					       io->parts, &on_nand);
	else if (to > from)
		done = zone_flash_commit_at(zn->flash, w->zone, from, to, fua, io->now_ns,
					    io->parts, &on_nand);
	else /* held in the ZRWA: controller memory, no NAND yet */
		done = zone_flash_command(zn->flash, io->now_ns, io->parts);
	io->done_ns = done;
	return on_nand;
}

static void zoned_store_failed(struct ns *ns, struct ns_io *io)
{
	zones_write_end(zoned_of(ns)->zones, (const struct zone_write *)io->scratch);
}

/* Write, Write Zeroes (buf NULL) and Zone Append share one path. */
static uint16_t zoned_store(struct ns *ns, struct ns_io *io, bool append)
{
	struct zoned_ns *zn = zoned_of(ns);
	struct zone_write *w = (struct zone_write *)io->scratch;
	*w = (struct zone_write){.slba = io->slba, .nlb = io->nlb, .append = append};
	uint16_t status = zones_write_begin(zn->zones, w);
	if (status)
		return status;
	io->slba = w->slba; /* an append's LBA */
	/* A sequential zone's LBAs above the write pointer hold nothing: only a conventional
	 * zone's old data must be kept for a power cut. */
	return ns_write_data(ns, zn->media, zn->undo, w->conventional,
			     undo_tag(w->zone, w->resets), io, zoned_place, zoned_store_failed);
}

static uint16_t zoned_write(struct ns *ns, struct ns_io *io) { return zoned_store(ns, io, false); }

static uint16_t zoned_write_zeroes(struct ns *ns, struct ns_io *io)
{
	io->buf = NULL;
	return zoned_store(ns, io, false);
}

static uint16_t zoned_append(struct ns *ns, struct ns_io *io) { return zoned_store(ns, io, true); }

/* Deallocate is a hint a zoned drive may ignore: only Reset frees a zone. */
static uint16_t zoned_deallocate(struct ns *ns, struct ns_io *io)
{
	(void)ns;
	io->done_ns = io->now_ns;
	return NVME_SC_SUCCESS;
}

/* The data a Flush covers is durable: so are the write pointers it saw begin. */
static uint16_t zoned_synced(struct ns *ns, struct ns_io *io, uint16_t status)
{
	(void)io;
	struct zoned_ns *zn = zoned_of(ns);
	/* A failed sync makes nothing durable; the flush still ends. */
	if (zones_flush_end(zn->zones) && !status) {
		zone_flash_checkpoint(zn->flash);
		char err[256];
		if (zn->store && ns_store_table_sync(zn->store, zn->zone_tables[ZONE_TABLE_ZONES], err,
						      sizeof(err)))
			status = NVME_SC_WRITE_FAULT | NVME_STATUS_DNR;
	}
	return status;
}

static uint16_t zoned_flush(struct ns *ns, struct ns_io *io)
{
	struct zoned_ns *zn = zoned_of(ns);
	io->done_ns = zone_flash_flush(zn->flash, io->now_ns, io->parts);
	if (zones_flush_begin(zn->zones))
		return NVME_SC_INTERNAL;
	return ns_flush_data(ns, zn->store ? zn->media : NULL, io, zoned_synced);
}

static uint64_t zoned_blocks_in_use(struct ns *ns) { return ns_media_blocks_in_use(ns, zoned_of(ns)->media); }

static bool zoned_model_counters(struct ns *ns, struct ns_model_counters *out)
{
	struct zone_flash_counters c;
	zone_flash_get_counters(zoned_of(ns)->flash, &c);
	*out = (struct ns_model_counters){
	    .host_pages_written = c.host_pages,
	    .nand_pages_written = c.nand_pages,
	    .erase_min = c.erase_min,
	    .erase_max = c.erase_max,
	    .erase_mean = c.erase_mean,
	    .waf = c.host_pages ? (double)c.nand_pages / (double)c.host_pages : 0,
	};
	return true;
}

/* ---- What zone transitions do to data and flash (zone_hooks) ---- */

static void raise_done(uint64_t *done, uint64_t t) { *done = t > *done ? t : *done; }

static void discard_zone(void *ctx, uint64_t zone)
{
	struct zoned_ns *zn = ctx;
	media_zero(zn->media, zone_first_lba(zn, zone) << zn->lba_shift, 1ull << (zn->zone_shift + zn->lba_shift));
}

static void erase_zone(void *ctx, uint64_t zone, uint64_t written, uint64_t now, uint64_t *done)
{
	struct zoned_ns *zn = ctx;
	media_zero(zn->media, zone_first_lba(zn, zone) << zn->lba_shift, written << zn->lba_shift);
	raise_done(done, zone_flash_erase(zn->flash, zone, now, NULL));
}

static void finish_zone(void *ctx, uint64_t zone, uint64_t wp, uint64_t now, uint64_t *done)
{
	(void)wp; /* the flash mapping knows which pages are programmed */
	struct zoned_ns *zn = ctx;
	raise_done(done, zone_flash_finish(zn->flash, zone, now, NULL));
}

static void commit_zone(void *ctx, uint64_t zone, uint64_t from, uint64_t to, uint64_t now,
			uint64_t *done)
{
	struct zoned_ns *zn = ctx;
	raise_done(done, zone_flash_commit(zn->flash, zone, from << zn->lba_shift,
					   to << zn->lba_shift, false, now, NULL));
}

static uint16_t zoned_send(struct ns *ns, struct zone_send *cmd)
{
	struct zoned_ns *zn = zoned_of(ns);
	const struct zone_hooks hooks = {.ctx = zn, .erase = erase_zone, .finish = finish_zone,
					 .commit = commit_zone, .discard = discard_zone};
	return zones_send(zn->zones, cmd, &hooks);
}

static uint16_t zoned_report(struct ns *ns, const struct zone_report *rep)
{
	return zones_report(zoned_of(ns)->zones, rep);
}

static void zoned_changed_list(struct ns *ns, uint8_t page[4096])
{
	zones_changed_list(zoned_of(ns)->zones, page);
}

static const struct zone_config *zoned_config(struct ns *ns) { return zones_config(zoned_of(ns)->zones); }

static uint64_t zoned_append_limit(struct ns *ns) { return zoned_of(ns)->append_limit; }

static void zoned_destroy(struct ns *ns)
{
	struct zoned_ns *zn = zoned_of(ns);
	if (zn->flash)
		zone_flash_checkpoint(zn->flash);
	media_destroy(zn->media);
	zones_destroy(zn->zones);
	zone_flash_destroy(zn->flash);
	ns_undo_destroy(zn->undo);
	free(zn);
}

static uint16_t zoned_format(struct ns *ns)
{
	struct zoned_ns *zn = zoned_of(ns);
	zones_format(zn->zones);
	zone_flash_format(zn->flash);
	media_zero(zn->media, 0, ns->nlbas << ns->lba_shift);
	return NVME_SC_SUCCESS;
}

/* A lost write: a sequential zone's write pointer moves back over it, a conventional zone's
 * LBAs get their old data back. */
static void restore(void *ctx, uint64_t slba, uint32_t nlb, const uint8_t *old, uint64_t tag)
{
	struct ns *ns = ctx;
	struct zoned_ns *zn = zoned_of(ns);
	uint64_t offset = slba << zn->lba_shift, len = (uint64_t)nlb << zn->lba_shift;
	uint64_t zone = tag >> 32;
	if (old) {
		media_write(zn->media, offset, old, len);
		return;
	}
	media_zero(zn->media, offset, len);
	uint64_t wp = slba - zone_first_lba(zn, zone);
	zones_rollback(zn->zones, zone, (uint32_t)tag, wp);
	zone_flash_rollback(zn->flash, zone, wp << zn->lba_shift);
}

static uint64_t zoned_power_cut(struct ns *ns, uint64_t now)
{
	struct zoned_ns *zn = zoned_of(ns);
	uint64_t lost = zn->undo ? ns_undo_power_cut(zn->undo, now, restore, ns) : 0;
	zones_power_cycle(zn->zones);
	zone_flash_power_loss(zn->flash, now);
	return lost;
}

static void zoned_describe(struct ns *ns, char *out, size_t outlen)
{
	const struct zone_config *c = zones_config(zoned_of(ns)->zones);
	snprintf(out, outlen, "zoned: %" PRIu64 " zones of %" PRIu64 " LBAs, %" PRIu64 " writable; flash: %s",
		 c->nzones, c->zone_size, c->zone_cap, zoned_of(ns)->geometry);
}

static const struct ns_zone_ops zone_ops = {
    .config = zoned_config,
    .append_limit = zoned_append_limit,
    .append = zoned_append,
    .send = zoned_send,
    .report = zoned_report,
    .changed_list = zoned_changed_list,
};

static const struct ns_ops zoned_ops = {
    .kind = "zoned",
    .read = zoned_read,
    .write = zoned_write,
    .write_zeroes = zoned_write_zeroes,
    .deallocate = zoned_deallocate,
    .flush = zoned_flush,
    .blocks_in_use = zoned_blocks_in_use,
    .model_counters = zoned_model_counters,
    .destroy = zoned_destroy,
    .format = zoned_format,
    .power_cut = zoned_power_cut,
    .describe = zoned_describe,
    .zone = &zone_ops,
};

static bool power_of_two(uint64_t v) { return v && !(v & (v - 1)); }

/* Zone capacity in bytes: as asked, or the whole flash stripes that fit in a zone. */
uint64_t zoned_capacity_bytes(const struct zoned_params *zp, const struct ssd_params *sp)
{
	if (zp->zone_cap)
		return zp->zone_cap;
	uint64_t channels = zp->zone_channels ? zp->zone_channels : sp->channels;
	uint64_t ways = zp->zone_ways ? zp->zone_ways : sp->luns_per_channel;
	uint64_t stripe = channels * ways * sp->planes_per_lun * sp->pages_per_block *
			  sp->sectors_per_page * sp->sector_size;
	uint64_t whole = zp->zone_size / stripe * stripe;
	return whole ? whole : zp->zone_size;
}

static int check_params(const struct zoned_params *zp, uint32_t lba_size, uint64_t cap, char *err,
			size_t errlen)
{
	if (!power_of_two(zp->zone_size) || zp->zone_size < lba_size)
		return errorf(err, errlen,
			      "zone_size=%llu is not a power of two of at least one LBA (%u)",
			      (unsigned long long)zp->zone_size, lba_size);
	if (cap % lba_size || cap > zp->zone_size)
		return errorf(err, errlen,
			      "zone_cap=%llu is not a multiple of the LBA size up to zone_size",
			      (unsigned long long)cap);
	if (zp->zasl && (!power_of_two(zp->zasl) || zp->zasl < 4096))
		return errorf(err, errlen, "zasl=%llu is not a power of two of at least 4096",
			      (unsigned long long)zp->zasl);
	if (zp->zrwa_size && (zp->zrwa_size % lba_size || zp->zrwa_fg % lba_size ||
			      zp->zrwa_size / lba_size > UINT16_MAX))
		return errorf(err, errlen,
			      "zrwa_size and zrwa_fg must be multiples of the LBA size, "
			      "zrwa_size at most 65535 LBAs");
	return 0;
}

static struct zone_flash_layout layout_of(const struct zoned_params *zp, uint64_t cap, uint64_t zones)
{
	return (struct zone_flash_layout){.channels = zp->zone_channels, .ways = zp->zone_ways,
					  .zone_cap_bytes = cap,
					  .finish = (enum zone_finish_policy)zp->finish,
					  .zones = zones};
}

int ns_zoned_fit(struct ssd_params *ssd, const struct zoned_params *zp, uint64_t bytes,
		 bool geometry_given, char *err, size_t errlen)
{
	if (!power_of_two(zp->zone_size) || bytes % zp->zone_size)
		return errorf(err, errlen, "size %" PRIu64 " is not a whole number of %" PRIu64
					   "-byte zones", bytes, zp->zone_size);
	uint64_t zones = bytes / zp->zone_size;
	struct zone_flash_layout layout = layout_of(zp, zoned_capacity_bytes(zp, ssd), zones);
	/* A geometry given with the size must be the fewest blocks that hold the zones, or hold
	 * exactly that many (as a size taken from the geometry does, which a drive directory records). */
	if (geometry_given && zone_flash_zones_held(ssd, &layout, err, errlen) == zones)
		return 0;
	struct ssd_params fit = *ssd;
	if (zone_flash_fit(&fit, &layout, zones, err, errlen))
		return -1;
	if (geometry_given && fit.blocks_per_plane != ssd->blocks_per_plane)
		return errorf(err, errlen,
			      "size %" PRIu64 " (%" PRIu64 " zones) and blocks_per_plane=%u disagree: "
			      "the zones need blocks_per_plane=%u (give one or the other)", bytes,
			      zones, ssd->blocks_per_plane, fit.blocks_per_plane);
	*ssd = fit;
	return 0;
}

/* After a machine crash, data above a write pointer that moved back is not the zone's. */
static void rolled_back(void *ctx, uint64_t zone, uint64_t from, uint64_t to)
{
	struct zoned_ns *zn = ctx;
	uint64_t first = zone_first_lba(zn, zone);
	media_zero(zn->media, (first + from) << zn->lba_shift, (to - from) << zn->lba_shift);
	zone_flash_rollback(zn->flash, zone, from << zn->lba_shift);
}

static int map_tables(struct ns_store *store, const struct drive_table_spec *specs, unsigned n,
		      void **mem, char *err, size_t errlen)
{
	for (unsigned t = 0; t < n; t++)
		if (ns_store_table(store, &specs[t], &mem[t], err, errlen))
			return -1;
	return 0;
}

/* The flash mapping, the data and the zones, in memory or on the drive directory's files. */
static int open_parts(struct ns *ns, struct zoned_ns *zn, const struct ns_params *params,
		      const struct zone_flash_layout *layout, struct zone_config *zc, char *err,
		      size_t errlen)
{
	struct drive_table_spec specs[(int)ZONE_FLASH_TABLES + (int)ZONE_TABLES];
	if (zn->store && (zone_flash_table_specs(params->ssd, layout, specs, err, errlen) ||
			  map_tables(zn->store, specs, ZONE_FLASH_TABLES, zn->flash_tables, err, errlen)))
		return -1;
	zn->flash = zone_flash_open(params->ssd, layout, zn->store ? zn->flash_tables : NULL, err,
				    errlen);
	if (!zn->flash)
		return -1;
	zc->nzones = zone_flash_zones(zn->flash);
	uint64_t bytes = zc->nzones * params->zoned->zone_size;
	zn->media = zn->store ? ns_store_media(zn->store, bytes, err, errlen) : media_ram_create(bytes);
	if (!zn->media)
		return zn->store ? -1 : errorf(err, errlen, "out of memory for the page table");
	ns->nlbas = bytes >> ns->lba_shift;
	if (!zn->store) {
		zn->zones = zones_create(zc, err, errlen);
		return zn->zones ? 0 : -1;
	}
	zones_table_specs(zc, specs);
	if (map_tables(zn->store, specs, ZONE_TABLES, zn->zone_tables, err, errlen))
		return -1;
	static const enum zones_open_state states[] = {
	    [NS_STORE_NEW] = ZONES_NEW,
	    [NS_STORE_CLEAN] = ZONES_KEPT,
	    [NS_STORE_CRASHED] = ZONES_KEPT,
	    [NS_STORE_MACHINE_CRASH] = ZONES_MACHINE_CRASH,
	};
	char why[512];
	zn->zones = zones_open(zc, zn->zone_tables, states[ns_store_state(zn->store)], rolled_back,
			       zn, why, sizeof(why));
	if (!zn->zones)
		return errorf(err, errlen, "%s/%s", ns_store_path(zn->store), why);
	return 0;
}

int ns_zoned_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen)
{
	const struct zoned_params *zp = params->zoned;
	if (!zp || !params->ssd)
		return errorf(err, errlen,
			      "a zoned namespace needs zoned and flash model parameters");
	uint64_t cap = zoned_capacity_bytes(zp, params->ssd);
	if (check_params(zp, params->lba_size, cap, err, errlen))
		return -1;
	struct zoned_ns *zn = calloc(1, sizeof(*zn));
	if (!zn)
		return errorf(err, errlen, "out of memory");
	zn->store = ns->store;
	ns_describe_geometry(params->ssd, false, zn->geometry, sizeof(zn->geometry));
	struct zone_flash_layout layout = layout_of(zp, cap, params->bytes / zp->zone_size);
	zn->lba_shift = ns->lba_shift;
	uint64_t zone_lbas = zp->zone_size >> ns->lba_shift;
	zn->zone_shift = (unsigned)__builtin_ctzll(zone_lbas);
	struct zone_config zc = {
	    .zone_size = zone_lbas,
	    .zone_cap = cap >> ns->lba_shift,
	    .nr_conv = zp->conv_zones,
	    .max_open = zp->max_open,
	    .max_active = zp->max_active,
	    .zrwa_size = (uint32_t)(zp->zrwa_size >> ns->lba_shift),
	    .zrwa_fg = (uint32_t)(zp->zrwa_fg >> ns->lba_shift),
	    .zrwa_resources = zp->zrwa_count,
	    .zde_bytes = zp->zde_size,
	    .reset_limit = zp->max_resets,
	    .cross_zone_read = zp->cross_zone_read,
	};
	if (open_parts(ns, zn, params, &layout, &zc, err, errlen))
		goto fail;
	if (!ns->plp && !(zn->undo = ns_undo_create(ns->lba_shift))) {
		errorf(err, errlen, "out of memory");
		goto fail;
	}
	zn->append_limit = zp->zasl;
	ns->kind_data = zn;
	ns->ops = &zoned_ops;
	ns->csi = NVME_CSI_ZNS;
	ns->deallocated_reads_zero = false;
	return 0;
fail:
	ns->kind_data = zn;
	zoned_destroy(ns);
	ns->kind_data = NULL;
	return -1;
}
