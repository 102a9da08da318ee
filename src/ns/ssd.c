/*
 * The ssd kind: user data kept in sparse memory by LBA, completion times from
 * the flash model (page-mapping FTL with GC over NAND timelines).  GC moves no
 * bytes: the model only decides when the host hears back.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ftl/ftl.h"
#include "media/media.h"
#include "ns/kinds.h"
#include "spec/nvme.h"
#include "util/util.h"

struct ssd_ns {
	struct media *media;
	struct ssd *model;
	uint32_t page_bytes;
	struct ns_fdp fdp;
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

static uint16_t ssd_ns_read(struct ns *ns, struct ns_io *io)
{
	struct ssd_ns *s = ssd_of(ns);
	uint64_t lpn;
	uint32_t npages;
	page_span(ns, s, io->slba, io->nlb, &lpn, &npages);
	io->done_ns = ssd_read(s->model, lpn, npages, io->now_ns, io->parts);
	ns_media_fetch(ns, s->media, io);
	return NVME_SC_SUCCESS;
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
	if (media_write(s->media, io->slba << ns->lba_shift, io->buf, (uint64_t)io->nlb << ns->lba_shift))
		return NVME_SC_CAP_EXCEEDED | NVME_STATUS_DNR;
	uint64_t lpn;
	uint32_t npages;
	page_span(ns, s, io->slba, io->nlb, &lpn, &npages);
	io->done_ns = io->placed ? ssd_write_placed(s->model, lpn, npages, io->ruh, io->rg, io->fua,
						    io->now_ns, io->parts)
				 : ssd_write(s->model, lpn, npages, io->fua, io->now_ns, io->parts);
	return NVME_SC_SUCCESS;
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
	io->done_ns = io->now_ns;
	/* Only whole pages leave the mapping; a partial page stays mapped, now partly zero. */
	if (end > first)
		io->done_ns =
		    ssd_trim(s->model, first, (uint32_t)(end - first), io->now_ns, io->parts);
	return NVME_SC_SUCCESS;
}

static uint16_t ssd_ns_flush(struct ns *ns, struct ns_io *io)
{
	struct ssd_ns *s = ssd_of(ns);
	io->done_ns = ssd_flush(s->model, io->now_ns, io->parts);
	return NVME_SC_SUCCESS;
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
	ssd_destroy(s->model);
	media_destroy(s->media);
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
    .destroy = ssd_ns_destroy,
    .fdp = &ssd_fdp_ops,
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

int ns_ssd_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen)
{
	if (!params->ssd) {
		snprintf(err, errlen, "an ssd namespace needs model parameters");
		return -1;
	}
	struct ssd_ns *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->model = ssd_create(params->ssd, err, errlen);
	if (!s->model)
		goto free_ns;
	s->page_bytes = ssd_page_bytes(s->model);
	s->wear = params->ssd->endurance > 0;
	s->spare_threshold_pcent = params->ssd->spare_threshold_pcent;
	if (s->page_bytes % params->lba_size) {
		snprintf(err, errlen, "flash page of %u bytes is not a multiple of the %u-byte LBA",
			 s->page_bytes, params->lba_size);
		goto destroy_model;
	}
	uint64_t bytes = ssd_logical_pages(s->model) * s->page_bytes;
	s->media = media_ram_create(bytes);
	if (!s->media) {
		snprintf(err, errlen, "out of memory for the page table");
		goto destroy_model;
	}
	ns->kind_data = s;
	ns->ops = &ssd_ops;
	ns->csi = NVME_CSI_NVM;
	ns->nlbas = bytes >> ns->lba_shift;
	ns->deallocated_reads_zero = true;
	if (init_fdp(ns, s, params->ssd, err, errlen))
		goto destroy_media;
	return 0;
destroy_media:
	media_destroy(s->media);
destroy_model:
	ssd_destroy(s->model);
free_ns:
	free(s);
	return -1;
}
