/*
 * The zoned kind's keys.  Defaults give a device Linux, fio and zonefs take
 * as a real host-managed ZNS drive: 16 MiB zones over all channels, an open
 * and active limit like today's drives (14), Zone Append up to 64 KiB.
 * Aliases: FEMU's zns_* properties and QEMU's zoned.* ones (same units).
 */
#include <stddef.h>

#include "ns/zone_flash.h"
#include "ns/zoned.h"
#include "util/util.h"

#define FIELD(name) offsetof(struct zoned_params, name)
#define NO_ALIAS {NULL, NULL, NULL}
#define MAX_U32 4294967295.0

static const char *const finish_policy_names[] = {
    [ZONE_FINISH_NONE] = "none", [ZONE_FINISH_BLOCK] = "block", [ZONE_FINISH_ZONE] = "zone", NULL};

static const struct config_key zoned_keys[] = {
	{"zone_size", {"zoned.zone_size", "zns_zone_size"}, CONFIG_U64, FIELD(zone_size), "16M",
	 4096, 1ull << 40, NULL, "zone size in bytes, a power of two (Linux requires it)"},
	{"zone_cap", {"zns_zone_cap", "zoned.zone_capacity"}, CONFIG_U64, FIELD(zone_cap), "0", 0,
	 1ull << 40, NULL,
	 "zone capacity in bytes, at most zone_size; 0: the whole flash stripes (an erase block on "
	 "each of the zone's dies) that fit in zone_size"},
	{"conv_zones", {"zns_num_conv_zones"}, CONFIG_U32, FIELD(conv_zones), "0", 0, MAX_U32, NULL,
	 "conventional zones at the start of the namespace (Linux refuses such a ZNS namespace)"},
	{"max_open", {"zns_max_open", "zoned.max_open"}, CONFIG_U32, FIELD(max_open), "14", 0, MAX_U32,
	 NULL, "open zones at most (MOR + 1); 0: no limit"},
	{"max_active", {"zns_max_active", "zoned.max_active"}, CONFIG_U32, FIELD(max_active), "14", 0,
	 MAX_U32, NULL, "active (open or closed) zones at most (MAR + 1); 0: no limit"},
	{"zasl", {"zns_zasl_bs"}, CONFIG_U64, FIELD(zasl), "64K", 0, 1ull << 30, NULL,
	 "largest Zone Append in bytes, a power of two from 4 KiB; 0: MDTS"},
	{"zrwa_size", {"zns_zrwa_size"}, CONFIG_U64, FIELD(zrwa_size), "0", 0, 1ull << 30, NULL,
	 "Zone Random Write Area in bytes; 0: no ZRWA"},
	{"zrwa_fg", {"zns_zrwafg_size"}, CONFIG_U64, FIELD(zrwa_fg), "16K", 512, 1ull << 30, NULL,
	 "ZRWA flush granularity in bytes"},
	{"zrwa_count", {"zns_zrwa_num", "zoned.numzrwa"}, CONFIG_U32, FIELD(zrwa_count), "0", 0,
	 MAX_U32, NULL, "zones that may hold a ZRWA at once; 0: max_open"},
	{"zde_size", {"zns_zd_ext_size", "zoned.descr_ext_size"}, CONFIG_U32, FIELD(zde_size), "0", 0,
	 16320, NULL, "zone descriptor extension in bytes, a multiple of 64; 0: none"},
	{"cross_zone_read", {"zns_cross_zone_read", "zoned.cross_read"}, CONFIG_BOOL,
	 FIELD(cross_zone_read), "off", 0, 1, NULL, "reads may cross zone boundaries (OZCS RAZB)"},
	{"zone_channels", {"zns_chnls_per_zone"}, CONFIG_U32, FIELD(zone_channels), "0", 0, 1024, NULL,
	 "channels a zone is striped over; 0: all"},
	{"zone_ways", NO_ALIAS, CONFIG_U32, FIELD(zone_ways), "1", 0, 1024, NULL,
	 "dies per channel a zone is striped over; 0: all (1 x 1 puts a zone on one die)"},
	{"zone_finish", NO_ALIAS, CONFIG_ENUM, FIELD(finish), "block", 0, 0, finish_policy_names,
	 "what Finish Zone costs: none (metadata), block (pad each die's open erase block), zone "
	 "(pad to the zone capacity)"},
	{"zone_max_resets", NO_ALIAS, CONFIG_U32, FIELD(max_resets), "0", 0, MAX_U32, NULL,
	 "resets a zone endures: the last one leaves it Read Only (worn out) and raises a Zone "
	 "Descriptor Changed event; 0: never"},
};

const struct config_table zoned_config_table = {"zoned", zoned_keys,
						ARRAY_SIZE(zoned_keys)};
