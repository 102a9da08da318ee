/*
 * The nossd kind: stores nothing and answers at once, so what a host measures
 * on it is the transport's own cost (FEMU's NoSSD mode).  Reads return zeroes.
 */
#include "ns/kinds.h"
#include "spec/nvme.h"

static uint16_t nossd_complete_now(struct ns *ns, struct ns_io *io)
{
	(void)ns;
	io->done_ns = io->now_ns;
	return NVME_SC_SUCCESS;
}

static uint16_t nossd_read(struct ns *ns, struct ns_io *io)
{
	/* The controller caps transfers at MDTS, which is far below the zero buffer. */
	io->data = ns_zero_buffer;
	return nossd_complete_now(ns, io);
}

static uint16_t nossd_format(struct ns *ns)
{
	(void)ns;
	return NVME_SC_SUCCESS;
}

static uint64_t nossd_blocks_in_use(struct ns *ns)
{
	(void)ns;
	return 0;
}

static void nossd_destroy(struct ns *ns) { (void)ns; }

static const struct ns_ops nossd_ops = {
    .kind = "nossd",
    .read = nossd_read,
    .write = nossd_complete_now,
    .write_zeroes = nossd_complete_now,
    .deallocate = nossd_complete_now,
    .flush = nossd_complete_now,
    .blocks_in_use = nossd_blocks_in_use,
    .destroy = nossd_destroy,
    .format = nossd_format,
};

int ns_nossd_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen)
{
	(void)params;
	(void)err;
	(void)errlen;
	ns->ops = &nossd_ops;
	ns->csi = NVME_CSI_NVM;
	ns->deallocated_reads_zero = true;
	return 0;
}
