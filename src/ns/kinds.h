/* Constructors of the namespace kinds, for ns.c only. */
#ifndef NVEMU_NS_KINDS_H
#define NVEMU_NS_KINDS_H

#include "ns/ns.h"

int ns_ram_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen);
int ns_nossd_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen);
int ns_ssd_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen);
int ns_zoned_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen);

/* Shared by the kinds that keep data by LBA in a struct media (ram, ssd, zoned). */
struct media;

/* A read: the media's own pages into io->iov when given and large enough, else a copy into io->buf. */
void ns_media_fetch(const struct ns *ns, struct media *m, struct ns_io *io);
/* Identify Namespace NUSE: the blocks that hold memory. */
uint64_t ns_media_blocks_in_use(const struct ns *ns, const struct media *m);

#endif
