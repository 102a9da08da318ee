/* Constructors of the namespace kinds, for ns.c only. */
#ifndef NVEMU_NS_KINDS_H
#define NVEMU_NS_KINDS_H

#include "config/config.h"
#include "ns/ns.h"
#include "ns/zoned.h"

int ns_ram_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen);
int ns_nossd_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen);
int ns_ssd_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen);
int ns_zoned_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen);

/*
 * The geometry a size asks for: blocks_per_plane chosen to hold `bytes` (ssd: of logical
 * space; zoned: of zones of zone_size), or checked against it when geometry_given. -1 and a
 * message naming both when they disagree.
 */
int ns_ssd_fit(struct ssd_params *ssd, uint64_t bytes, bool geometry_given, char *err,
	       size_t errlen);
int ns_zoned_fit(struct ssd_params *ssd, const struct zoned_params *zoned, uint64_t bytes,
		 bool geometry_given, char *err, size_t errlen);

/* The flash geometry, as --check-config prints it ("4 channels x 2 dies x ..."; op: with the
 * over-provisioning). */
void ns_describe_geometry(const struct ssd_params *p, bool op, char *out, size_t outlen);

/* Shared by the kinds that keep data by LBA in a struct media (ram, ssd, zoned). */
struct media;

/*
 * A read: the media's own pages into io->iov when given and large enough, else a copy into
 * io->buf; NS_IO_PENDING when the copy comes from a file (io->complete follows). Set
 * io->done_ns first.
 */
uint16_t ns_media_fetch(const struct ns *ns, struct media *m, struct ns_io *io);
/*
 * A write of io->buf (NULL: zeroes) at io->slba: with `undo`, what the range held is kept
 * first (keep_old; else it restores as zeroes) under `tag`; then the data is stored (durably
 * when FUA or the write cache is off), then place() asks the model and returns when the pages
 * are on NAND (it sets io->done_ns). fail() (optional) undoes what the kind did before, when
 * the data could not be stored. Returns the status, or NS_IO_PENDING (a file: io->complete
 * follows).
 */
uint16_t ns_write_data(struct ns *ns, struct media *m, struct ns_undo *undo, bool keep_old,
		       uint64_t tag, struct ns_io *io, uint64_t (*place)(struct ns *ns, struct ns_io *io),
		       void (*fail)(struct ns *ns, struct ns_io *io));
/*
 * Flush: a file's data is synced (fdatasync), then synced() (optional) adds what the kind
 * makes durable and returns the status. NS_IO_PENDING for a file, else synced()'s status.
 */
uint16_t ns_flush_data(struct ns *ns, struct media *m, struct ns_io *io,
		       uint16_t (*synced)(struct ns *ns, struct ns_io *io, uint16_t status));
/* Identify Namespace NUSE: the blocks that hold memory. */
uint64_t ns_media_blocks_in_use(const struct ns *ns, const struct media *m);

#endif
