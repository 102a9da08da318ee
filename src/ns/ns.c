#include "ns/ns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns/kinds.h"

const uint8_t ns_zero_buffer[NS_ZERO_BUFFER_SIZE];

static const char *const kind_names[] = {
    [NS_KIND_RAM] = "ram",
    [NS_KIND_NOSSD] = "nossd",
    [NS_KIND_SSD] = "ssd",
    [NS_KIND_ZONED] = "zoned",
};

const char *ns_kind_name(enum ns_kind kind) { return kind_names[kind]; }

int ns_kind_parse(const char *name, enum ns_kind *kind)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*kind = (enum ns_kind)i;
			return 0;
		}
	}
	return -1;
}

struct ns *ns_create(const struct ns_params *params, char *err, size_t errlen)
{
	if (params->lba_size != 512 && params->lba_size != 4096) {
		snprintf(err, errlen, "LBA size %u is not 512 or 4096", params->lba_size);
		return NULL;
	}
	if (params->kind != NS_KIND_SSD && params->kind != NS_KIND_ZONED &&
	    (params->bytes < params->lba_size || params->bytes % params->lba_size)) {
		snprintf(err, errlen, "namespace size %llu is not a positive multiple of the LBA size %u",
			 (unsigned long long)params->bytes, params->lba_size);
		return NULL;
	}
	struct ns *ns = calloc(1, sizeof(*ns));
	if (!ns) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ns->lba_shift = params->lba_size == 512 ? 9 : 12;
	ns->nlbas = params->bytes >> ns->lba_shift;
	int rc = -1;
	switch (params->kind) {
	case NS_KIND_RAM:
		rc = ns_ram_init(ns, params, err, errlen);
		break;
	case NS_KIND_NOSSD:
		rc = ns_nossd_init(ns, params, err, errlen);
		break;
	case NS_KIND_SSD:
		rc = ns_ssd_init(ns, params, err, errlen);
		break;
	case NS_KIND_ZONED:
		rc = ns_zoned_init(ns, params, err, errlen);
		break;
	}
	if (rc) {
		free(ns);
		return NULL;
	}
	return ns;
}

void ns_destroy(struct ns *ns)
{
	if (!ns)
		return;
	ns->ops->destroy(ns);
	free(ns);
}
