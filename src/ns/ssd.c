/*
 * The ssd kind: user data kept by LBA in sparse memory or in a drive directory's data file,
 * completion times from the flash model (page-mapping FTL with GC over NAND timelines).  GC
 * moves no bytes: the model only decides when the host hears back.  Writes the model has not
 * programmed to NAND are kept in an undo log, so that a power cut loses exactly those.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ftl/ftl.h"
#include "media/media.h"
#include "ns/kinds.h"
#include "ns/store.h"
#include "ns/undo.h"
#include "spec/nvme.h"
#include "util/util.h"

struct ssd_ns {
	struct media *media;
	struct ssd *model;
	uint32_t page_bytes;
	struct ns_fdp fdp;
	struct ns_undo *undo; /* NULL with power-loss protection */
	void *tables[SSD_TABLES]; /* the drive directory's, NULL in memory */
	struct ns_store *store;
	char geometry[160]; /* as described */
	bool wear; /* the model's blocks wear out */
	uint32_t spare_threshold_pcent;
};

static struct ssd_ns *ssd_of(struct ns *ns) { return ns->kind_data; }

/* The flash pages an LBA range touches: partial pages cost whole pages. */
static void page_span(const struct ns *ns, const struct ssd_ns *s, uint64_t slba, uint32_t nlb,
		      uint64_t *lpn, uint32_t *npages)
{
	uint64_t first = (slba << ns->lba_shift) / s->page_bytes;
	uint64_t end = (((slba + nlb) << ns->lba_shift) + s->page_bytes - 1) / s->page_bytes;
	*lpn = first;
	*npages = (uint32_t)(end - first);
}

int ns_ssd_fit(struct ssd_params *ssd, uint64_t bytes, bool geometry_given, char *err,
	       size_t errlen)
{
	/* A geometry given with the size must be the fewest blocks that hold the size, or hold
	 * exactly that size (as a size taken from the geometry does, which a drive directory records). */
	if (geometry_given && ssd_capacity(ssd) == bytes)
		return 0;
	struct ssd_params fit = *ssd;
	if (ssd_fit_capacity(&fit, bytes, err, errlen))
		return -1;
	if (geometry_given && fit.blocks_per_plane != ssd->blocks_per_plane)
		return errorf(err, errlen,
			      "size %" PRIu64 " and blocks_per_plane=%u disagree: that geometry holds "
			      "%" PRIu64 " bytes at op_pcent=%g, the size needs blocks_per_plane=%u "
			      "(give one or the other)", bytes, ssd->blocks_per_plane,
			      ssd_capacity(ssd), ssd->op_pcent, fit.blocks_per_plane);
	*ssd = fit;
	return 0;
}

static uint16_t ssd_ns_read(struct ns *ns, struct ns_io *io)
{
	struct ssd_ns *s = ssd_of(ns);
	uint64_t lpn;
	uint32_t npages;
	page_span(ns, s, io->slba, io->nlb, &lpn, &npages);
	io->done_ns = ssd_read(s->model, lpn, npages, io->now_ns, io->parts);
	return ns_media_fetch(ns, s->media, io);
}

/* The data is stored: the model places the write and says when its pages are on NAND. */
static uint64_t place_write(struct ns *ns, struct ns_io *io)
{
	struct ssd_ns *s = ssd_of(ns);
	uint64_t lpn, on_nand;
	uint32_t npages;
	page_span(ns, s, io->slba, io->nlb, &lpn, &npages);
	bool fua = io->fua || !atomic_load_explicit(&ns->write_cache, memory_order_relaxed);
	io->done_ns = ssd_write_placed_at(s->model, lpn, npages, io->placed ? io->ruh : 0,
					  io->placed ? io->rg : 0, fua, io->now_ns, io->parts, &on_nand);
	return on_nand;
}

/*
 * A worn-out drive is read-only: commands that would change data get the status the
 * specification has for media in read-only mode (Attempted Write to Read Only Range; Namespace
 * is Write Protected is for write protection the host set).
 */
static uint16_t ssd_ns_write(struct ns *ns, struct ns_io *io)
{
	struct ssd_ns *s = ssd_of(ns);
	if (ssd_read_only(s->model))
		return NVME_SC_READ_ONLY | NVME_STATUS_DNR;
	return ns_write_data(ns, s->media, s->undo, true, 0, io, place_write, NULL);
}

/* Write Zeroes and Deallocate both unmap: the drive then reads zeroes there. */
static uint16_t ssd_ns_unmap(struct ns *ns, struct ns_io *io)
{
	struct ssd_ns *s = ssd_of(ns);
	if (ssd_read_only(s->model))
		return NVME_SC_READ_ONLY | NVME_STATUS_DNR;
	media_zero(s->media, io->slba << ns->lba_shift, (uint64_t)io->nlb << ns->lba_shift);
	uint64_t first = ((io->slba << ns->lba_shift) + s->page_bytes - 1) / s->page_bytes;
	uint64_t end = ((io->slba + io->nlb) << ns->lba_shift) / s->page_bytes;
	uint64_t done = io->now_ns;
	/* Only whole pages leave the mapping; a partial page stays mapped, now partly zero. */
	if (end > first)
		done = ssd_trim(s->model, first, (uint32_t)(end - first), io->now_ns, io->parts);
	io->done_ns = done;
	return NVME_SC_SUCCESS;
}

static uint16_t ssd_ns_flush(struct ns *ns, struct ns_io *io)
{
	struct ssd_ns *s = ssd_of(ns);
	io->done_ns = ssd_flush(s->model, io->now_ns, io->parts);
	/* Counters are checkpointed too (approximate after a crash until the next one). */
	ssd_checkpoint(s->model);
	return ns_flush_data(ns, s->media, io, NULL);
}

static uint64_t ssd_ns_blocks_in_use(struct ns *ns) { return ns_media_blocks_in_use(ns, ssd_of(ns)->media); }

static bool ssd_ns_model_counters(struct ns *ns, struct ns_model_counters *out)
{
	struct ssd_ns *s = ssd_of(ns);
	struct ssd_counters c;
	ssd_get_counters(s->model, &c);
	out->host_pages_written = c.host_pages_written;
	out->nand_pages_written = c.nand_pages_written;
	out->gc_runs = c.gc_runs;
	out->erase_min = c.erase_min;
	out->erase_max = c.erase_max;
	out->erase_mean = c.erase_mean;
	out->waf = c.waf;
	out->media_bytes_written = c.nand_pages_written * s->page_bytes;
	out->media_bytes_erased = c.erases * ssd_erase_unit_bytes(s->model);
	out->wear = s->wear;
	out->read_only = c.read_only;
	out->avail_spare_pcent = c.avail_spare_pcent;
	out->spare_threshold_pcent = s->spare_threshold_pcent;
	out->percent_used = c.percent_used;
	out->retired_blocks = c.retired_blocks;
	return true;
}

static uint32_t ssd_ns_wear_warnings(struct ns *ns)
{
	struct ssd_ns *s = ssd_of(ns);
	if (!s->wear)
		return 0;
	return (ssd_avail_spare_pcent(s->model) < s->spare_threshold_pcent ? NS_WEAR_SPARE_LOW : 0) |
	       (ssd_read_only(s->model) ? NS_WEAR_READ_ONLY : 0);
}

static void ssd_ns_ruh_status(struct ns *ns, uint32_t ruh, uint32_t rg, uint64_t now,
			      uint64_t *available_blocks, uint32_t *seconds_left)
{
	struct ssd_ns *s = ssd_of(ns);
	uint64_t pages;
	ssd_fdp_ruh_status(s->model, ruh, rg, now, &pages, seconds_left);
	*available_blocks = pages * s->page_bytes >> ns->lba_shift;
}

static bool ssd_ns_update(struct ns *ns, uint32_t ruh, uint32_t rg, uint64_t now)
{
	return ssd_fdp_update(ssd_of(ns)->model, ruh, rg, now);
}

static void ssd_ns_handle_counters(struct ns *ns, uint32_t ruh, struct ssd_fdp_counters *out)
{
	ssd_fdp_handle_counters(ssd_of(ns)->model, ruh, out);
}

static void ssd_ns_group_counters(struct ns *ns, uint32_t rg, struct ssd_fdp_counters *out)
{
	ssd_fdp_group_counters(ssd_of(ns)->model, rg, out);
}

static size_t ssd_ns_take_events(struct ns *ns, uint64_t now, struct ssd_fdp_event *out, size_t max)
{
	return ssd_fdp_take_events(ssd_of(ns)->model, now, out, max);
}

static const struct ns_fdp_ops ssd_fdp_ops = {
    .ruh_status = ssd_ns_ruh_status,
    .update = ssd_ns_update,
    .handle_counters = ssd_ns_handle_counters,
    .group_counters = ssd_ns_group_counters,
    .take_events = ssd_ns_take_events,
};

static void zero_table(void *ctx, enum ssd_table table)
{
	struct ssd_ns *s = ctx;
	ns_store_table_zero(s->store, s->tables[table]);
}

static uint16_t ssd_ns_format(struct ns *ns)
{
	struct ssd_ns *s = ssd_of(ns);
	/* The model first: it fails (out of memory) before changing anything. */
	if (s->store ? ssd_format(s->model, zero_table, s) : ssd_format(s->model, NULL, NULL))
		return NVME_SC_INTERNAL;
	media_zero(s->media, 0, ns->nlbas << ns->lba_shift);
	return NVME_SC_SUCCESS;
}

static void restore(void *ctx, uint64_t slba, uint32_t nlb, const uint8_t *old, uint64_t tag)
{
	(void)tag;
	struct ns *ns = ctx;
	struct media *m = ssd_of(ns)->media;
	uint64_t offset = slba << ns->lba_shift, len = (uint64_t)nlb << ns->lba_shift;
	if (old)
		media_write(m, offset, old, len);
	else
		media_zero(m, offset, len);
}

static uint64_t ssd_ns_power_cut(struct ns *ns, uint64_t now)
{
	struct ssd_ns *s = ssd_of(ns);
	uint64_t lost = s->undo ? ns_undo_power_cut(s->undo, now, restore, ns) : 0;
	ssd_power_loss(s->model, now);
	return lost;
}

static int ssd_ns_check(struct ns *ns, char *err, size_t errlen)
{
	return ssd_check(ssd_of(ns)->model, err, errlen);
}

static void ssd_ns_describe(struct ns *ns, char *out, size_t outlen)
{
	struct ssd_ns *s = ssd_of(ns);
	struct ssd_counters c;
	ssd_get_counters(s->model, &c);
	snprintf(out, outlen,
		 "ssd of %" PRIu64 " logical pages of %u bytes (%" PRIu64 " blocks free); flash: %s",
		 ssd_logical_pages(s->model), s->page_bytes, c.free_blocks, s->geometry);
}

static int ssd_ns_set_die_offline(struct ns *ns, uint32_t die, bool offline, char *err,
				  size_t errlen)
{
	return ssd_set_die_offline(ssd_of(ns)->model, die, offline, err, errlen);
}

static uint64_t ssd_ns_first_lost_block(struct ns *ns, uint64_t slba, uint32_t nlb)
{
	struct ssd_ns *s = ssd_of(ns);
	uint64_t lpn;
	uint32_t npages;
	page_span(ns, s, slba, nlb, &lpn, &npages);
	uint64_t lost = ssd_first_lost_page(s->model, lpn, npages);
	if (lost == UINT64_MAX)
		return UINT64_MAX;
	uint64_t block = (lost * s->page_bytes) >> ns->lba_shift;
	return block > slba ? block : slba;
}

static void ssd_ns_destroy(struct ns *ns)
{
	struct ssd_ns *s = ssd_of(ns);
	if (s->model)
		ssd_checkpoint(s->model);
	ssd_destroy(s->model);
	media_destroy(s->media);
	ns_undo_destroy(s->undo);
	free(s);
}

static const struct ns_ops ssd_ops = {
    .kind = "ssd",
    .read = ssd_ns_read,
    .write = ssd_ns_write,
    .write_zeroes = ssd_ns_unmap,
    .deallocate = ssd_ns_unmap,
    .flush = ssd_ns_flush,
    .blocks_in_use = ssd_ns_blocks_in_use,
    .model_counters = ssd_ns_model_counters,
    .wear_warnings = ssd_ns_wear_warnings,
    .destroy = ssd_ns_destroy,
    .fdp = &ssd_fdp_ops,
    .format = ssd_ns_format,
    .power_cut = ssd_ns_power_cut,
    .describe = ssd_ns_describe,
    .check = ssd_ns_check,
    .set_die_offline = ssd_ns_set_die_offline,
    .first_lost_block = ssd_ns_first_lost_block,
};

/* The endurance group's FDP configuration and the namespace's Placement Handle List. */
static int init_fdp(struct ns *ns, struct ssd_ns *s, const struct ssd_params *params, char *err,
		    size_t errlen)
{
	struct ns_fdp *fdp = &s->fdp;
	if (!ssd_fdp_config(s->model, &fdp->config))
		return 0; /* FDP off, and the geometry could not carry it anyway */
	fdp->ru_bytes = fdp->config.ru_pages * s->page_bytes;
	char why[160];
	if (ssd_parse_handle_list(params->fdp_handles, fdp->config.nruh, fdp->ph_ruh, &fdp->nph,
				  why, sizeof(why)) ||
	    fdp->nph == 0) {
		if (fdp->config.enabled)
			return errorf(err, errlen, "fdp_handles: %s",
				      fdp->nph ? why : "a namespace needs at least one handle");
		ssd_parse_handle_list("all", fdp->config.nruh, fdp->ph_ruh, &fdp->nph, why,
				      sizeof(why));
	}
	ns->fdp = fdp;
	return 0;
}

/* The model on the drive directory's tables: new, reopened after a clean stop, or recovered. */
static struct ssd *open_model(struct ssd_ns *s, const struct ssd_params *p, char *err,
			      size_t errlen)
{
	struct ssd_table_shape shapes[SSD_TABLES];
	if (ssd_table_shapes(p, shapes, err, errlen))
		return NULL;
	for (int t = 0; t < SSD_TABLES; t++) {
		struct drive_table_spec spec = {shapes[t].name, shapes[t].version, shapes[t].elem_bytes,
						shapes[t].count};
		if (ns_store_table(s->store, &spec, &s->tables[t], err, errlen))
			return NULL;
	}
	static const enum ssd_tables_state states[] = {
	    [NS_STORE_NEW] = SSD_TABLES_ZERO,
	    [NS_STORE_CLEAN] = SSD_TABLES_CLEAN,
	    [NS_STORE_CRASHED] = SSD_TABLES_CRASHED,
	    [NS_STORE_MACHINE_CRASH] = SSD_TABLES_CRASHED,
	};
	int bad;
	char why[512];
	struct ssd *model = ssd_open(p, s->tables, states[ns_store_state(s->store)], &bad, why,
				     sizeof(why));
	if (!model && bad >= 0)
		errorf(err, errlen, "%s/%s", ns_store_path(s->store), why);
	else if (!model)
		errorf(err, errlen, "%s", why);
	return model;
}

int ns_ssd_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen)
{
	if (!params->ssd)
		return errorf(err, errlen, "an ssd namespace needs model parameters");
	struct ssd_ns *s = calloc(1, sizeof(*s));
	if (!s)
		return errorf(err, errlen, "out of memory");
	s->store = ns->store;
	ns_describe_geometry(params->ssd, true, s->geometry, sizeof(s->geometry));
	s->model = s->store ? open_model(s, params->ssd, err, errlen)
			    : ssd_create(params->ssd, err, errlen);
	if (!s->model)
		goto fail;
	s->page_bytes = ssd_page_bytes(s->model);
	s->wear = params->ssd->endurance > 0;
	s->spare_threshold_pcent = params->ssd->spare_threshold_pcent;
	if (s->page_bytes % params->lba_size) {
		errorf(err, errlen, "flash page of %u bytes is not a multiple of the %u-byte LBA",
		       s->page_bytes, params->lba_size);
		goto fail;
	}
	uint64_t capacity = ssd_logical_pages(s->model) * s->page_bytes;
	if (!ns->nlbas)
		ns->nlbas = capacity >> ns->lba_shift;
	uint64_t bytes = ns->nlbas << ns->lba_shift;
	s->media = s->store ? ns_store_media(s->store, bytes, err, errlen) : media_ram_create(bytes);
	if (!s->media) {
		if (!s->store)
			errorf(err, errlen, "out of memory for the page table");
		goto fail;
	}
	if (!ns->plp && !(s->undo = ns_undo_create(ns->lba_shift))) {
		errorf(err, errlen, "out of memory");
		goto fail;
	}
	ns->kind_data = s;
	ns->ops = &ssd_ops;
	ns->csi = NVME_CSI_NVM;
	ns->deallocated_reads_zero = true;
	if (init_fdp(ns, s, params->ssd, err, errlen))
		goto fail;
	return 0;
fail:
	ns->kind_data = s;
	ssd_ns_destroy(ns);
	ns->kind_data = NULL;
	return -1;
}
