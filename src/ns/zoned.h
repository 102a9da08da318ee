/*
 * The zoned kind: a ZNS namespace (CSI 2) on the flash model.  Data lives in
 * sparse memory by LBA; zone states live in zone_state.c; completion times
 * come from the zone -> flash mapping of zone_flash.c.  Its capacity follows
 * from the flash geometry: as many zones of zone_cap as the flash holds.
 */
#ifndef NVEMU_NS_ZONED_H
#define NVEMU_NS_ZONED_H

#include "config/config.h"
#include "ns/ns.h"
#include "ns/zone_state.h"

/* Zoned parameters (`-o key=value`; FEMU and QEMU spellings accepted). Sizes in bytes. */
struct zoned_params {
	uint64_t zone_size;  /* a power of two */
	uint64_t zone_cap;   /* 0: whole flash stripes that fit in zone_size */
	uint32_t conv_zones;
	uint32_t max_open;   /* 0: no limit */
	uint32_t max_active; /* 0: no limit */
	uint64_t zasl;	     /* largest Zone Append; 0: MDTS */
	uint64_t zrwa_size;  /* 0: no Zone Random Write Area */
	uint64_t zrwa_fg;
	uint32_t zrwa_count; /* 0: one per open zone */
	uint32_t zde_size;
	bool cross_zone_read;
	uint32_t zone_channels; /* 0: all */
	uint32_t zone_ways;     /* dies per channel; 0: all */
	uint32_t finish;	/* enum zone_finish_policy */
	uint32_t max_resets;    /* 0: zones never wear out */
};

extern const struct config_table zoned_config_table;

/* A zone's capacity in bytes: zone_cap, or the whole flash stripes that fit in zone_size. */
uint64_t zoned_capacity_bytes(const struct zoned_params *zp, const struct ssd_params *sp);

static inline void zoned_params_defaults(struct zoned_params *p)
{
	config_defaults(&zoned_config_table, p);
}

/* What the controller core calls on a zoned namespace (ns->ops->zone). */
struct ns_zone_ops {
	const struct zone_config *(*config)(struct ns *ns);
	/* Largest Zone Append in bytes; 0: as large as MDTS. */
	uint64_t (*append_limit)(struct ns *ns);
	/* io->slba is the zone's ZSLBA; on success it is the LBA written (ALBA). */
	uint16_t (*append)(struct ns *ns, struct ns_io *io);
	uint16_t (*send)(struct ns *ns, struct zone_send *cmd);
	uint16_t (*report)(struct ns *ns, const struct zone_report *rep);
	void (*changed_list)(struct ns *ns, uint8_t page[4096]);
};

#endif
