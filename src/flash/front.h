/*
 * The controller's front end, between the host and the flash: firmware cores that spend
 * `controller_ns` on every command, and the host link (PCIe generation x lanes x protocol
 * efficiency) that every page of data crosses. Like the rest of the model it reads no clock and
 * moves no data: calls take ready times and return when the work ends. Not thread-safe (the
 * FTL or the zone mapping serialises calls).
 *
 * Both pieces are neutral unless configured: fw_cores = 0 gives every command its controller
 * time at once (no queueing), link_gen = 0 makes transfers free.
 */
#ifndef NVEMU_FLASH_FRONT_H
#define NVEMU_FLASH_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "flash/calendar.h"
#include "flash/flash.h"

/* Inline for the simulator's sake: every command passes here. */
struct front {
	uint64_t controller_ns, core_ns;
	uint32_t cores;
	uint64_t *core_free_at; /* per core: when it is done with the commands it took */
	double link_bytes_per_s;
	struct calendar link[2]; /* by enum link_direction: the lanes are full duplex */
};

/* Returns NULL with a message in err. `page_bytes`: the unit of data transfers. */
struct front *front_create(const struct ssd_params *params, uint32_t page_bytes, char *err,
			   size_t errlen);
void front_destroy(struct front *front);

/* The firmware core that frees first (fw_cores > 0); front.c. */
uint32_t front_first_core(const struct front *front);

/*
 * A command arriving at `now` (non-decreasing from call to call) waits for the firmware core
 * that frees first and takes fw_core_ns of it (with fw_cores), then controller_ns of latency.
 * Returns when the controller is done.
 */
static inline uint64_t front_command(struct front *fr, uint64_t now, struct lat_parts *parts)
{
	uint64_t start = now, core_ns = 0;
	if (fr->cores) {
		uint32_t core = front_first_core(fr);
		if (fr->core_free_at[core] > start)
			start = fr->core_free_at[core];
		core_ns = fr->core_ns;
		fr->core_free_at[core] = start + core_ns;
		lat_add(parts, LAT_FW_WAIT, start - now);
	}
	lat_add(parts, LAT_CONTROLLER, core_ns + fr->controller_ns);
	return start + core_ns + fr->controller_ns;
}

/* Whether the host link is modelled (link_gen > 0): otherwise front_link returns `ready`. */
static inline bool front_has_link(const struct front *fr) { return fr->link[0].xfer_ns != 0; }

enum link_direction { LINK_TO_DRIVE, LINK_TO_HOST };

/*
 * One page of data over the host link, ready at `ready`: written data to the drive, read data
 * to the host (the lanes are full duplex). Returns when it has crossed.
 */
static inline uint64_t front_link(struct front *fr, enum link_direction dir, uint64_t ready,
				  struct lat_parts *parts)
{
	uint64_t end = calendar_book(&fr->link[dir], 0, ready);
	lat_add(parts, LAT_LINK, end - ready);
	return end;
}

/* The link's bandwidth to the host in bytes per second after protocol overhead; 0 without. */
double front_link_bytes_per_s(const struct front *front);

/* No later call will pass a ready time before `now` (keeps the link's calendar small). */
void front_advance(struct front *front, uint64_t now);

/* A power loss at `now`: the cores' queued work and the link's transfers are gone. */
void front_power_loss(struct front *front, uint64_t now);

#endif
