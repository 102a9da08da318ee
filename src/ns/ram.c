/*
 * The ram kind: data kept in sparse memory, answered at once; or kept in a drive directory's
 * data file, answered when the page cache (or the disk) has it. No write buffer is modelled:
 * a power cut loses nothing.
 */
#include <stdio.h>

#include "media/media.h"
#include "ns/kinds.h"
#include "ns/store.h"
#include "spec/nvme.h"
#include "util/util.h"

static struct media *media_of(struct ns *ns) { return ns->kind_data; }

static uint64_t byte_offset(const struct ns *ns, uint64_t lba) { return lba << ns->lba_shift; }

static uint64_t byte_length(const struct ns *ns, uint32_t nlb) { return (uint64_t)nlb << ns->lba_shift; }

static uint16_t ram_read(struct ns *ns, struct ns_io *io)
{
	io->done_ns = io->now_ns;
	return ns_media_fetch(ns, media_of(ns), io);
}

static uint64_t placed_at_once(struct ns *ns, struct ns_io *io)
{
	(void)ns;
	io->done_ns = io->now_ns;
	return io->now_ns;
}

static uint16_t ram_write(struct ns *ns, struct ns_io *io)
{
	io->done_ns = io->now_ns;
	struct media *m = media_of(ns);
	if (media_is_file(m))
		return ns_write_data(ns, m, NULL, false, 0, io, placed_at_once, NULL);
	if (media_write(m, byte_offset(ns, io->slba), io->buf, byte_length(ns, io->nlb)))
		return NVME_SC_CAP_EXCEEDED | NVME_STATUS_DNR;
	return NVME_SC_SUCCESS;
}

static uint16_t ram_write_zeroes(struct ns *ns, struct ns_io *io)
{
	io->done_ns = io->now_ns;
	media_zero(media_of(ns), byte_offset(ns, io->slba), byte_length(ns, io->nlb));
	return NVME_SC_SUCCESS;
}

static uint16_t ram_flush(struct ns *ns, struct ns_io *io)
{
	io->done_ns = io->now_ns;
	return ns_flush_data(ns, media_of(ns), io, NULL);
}

static uint16_t ram_format(struct ns *ns)
{
	media_zero(media_of(ns), 0, ns->nlbas << ns->lba_shift);
	return NVME_SC_SUCCESS;
}

static uint64_t ram_blocks_in_use(struct ns *ns) { return ns_media_blocks_in_use(ns, media_of(ns)); }

static void ram_destroy(struct ns *ns) { media_destroy(media_of(ns)); }

static const struct ns_ops ram_ops = {
    .kind = "ram",
    .read = ram_read,
    .write = ram_write,
    .write_zeroes = ram_write_zeroes,
    .deallocate = ram_write_zeroes,
    .flush = ram_flush,
    .blocks_in_use = ram_blocks_in_use,
    .destroy = ram_destroy,
    .format = ram_format,
};

int ns_ram_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen)
{
	if (ns->store) {
		if (!(ns->kind_data = ns_store_media(ns->store, params->bytes, err, errlen)))
			return -1;
	} else if (!(ns->kind_data = media_ram_create(params->bytes))) {
		return errorf(err, errlen,
			      "out of memory for the page table of a %llu-byte namespace",
			      (unsigned long long)params->bytes);
	}
	ns->ops = &ram_ops;
	ns->csi = NVME_CSI_NVM;
	ns->deallocated_reads_zero = true;
	return 0;
}
