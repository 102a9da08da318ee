#include "ns/ns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/media.h"
#include "ns/kinds.h"
#include "util/util.h"

const uint8_t ns_zero_buffer[NS_ZERO_BUFFER_SIZE];

static const char *const kind_names[] = {
    [NS_KIND_RAM] = "ram",
    [NS_KIND_NOSSD] = "nossd",
    [NS_KIND_SSD] = "ssd",
    [NS_KIND_ZONED] = "zoned",
};

int ns_kind_parse(const char *name, enum ns_kind *kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(kind_names); i++) {
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
	ns->transport_floor_ns = params->transport_floor_ns;
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

void ns_media_fetch(const struct ns *ns, struct media *m, struct ns_io *io)
{
	uint64_t offset = io->slba << ns->lba_shift, len = (uint64_t)io->nlb << ns->lba_shift;
	if (io->iov && (io->iovcnt = media_map(m, offset, len, io->iov, io->iov_cap))) {
		/* Without the hold (no memory for it) the sender copies instead. */
		if (io->hold && !media_hold(m, offset, len))
			*io->hold = (struct ns_hold){m, offset, len};
		return;
	}
	if (io->buf) {
		media_read(m, offset, io->buf, len);
		io->data = io->buf;
	}
}

void ns_release(struct ns_hold *hold)
{
	if (!hold->media)
		return;
	media_release(hold->media, hold->offset, hold->len);
	*hold = (struct ns_hold){0};
}

uint64_t ns_media_blocks_in_use(const struct ns *ns, const struct media *m)
{
	uint64_t blocks = (media_resident_pages(m) * MEDIA_PAGE_SIZE) >> ns->lba_shift;
	return blocks < ns->nlbas ? blocks : ns->nlbas;
}
