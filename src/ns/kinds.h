/* Constructors of the namespace kinds, for ns.c only. */
#ifndef NVEMU_NS_KINDS_H
#define NVEMU_NS_KINDS_H

#include "ns/ns.h"

int ns_ram_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen);
int ns_nossd_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen);
int ns_ssd_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen);
int ns_zoned_init(struct ns *ns, const struct ns_params *params, char *err, size_t errlen);

#endif
