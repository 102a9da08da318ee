/*
 * NAND geometry and timing. Every channel, die and plane is a timeline; an operation starts when
 * both its input is ready and its resource is free, and the call returns when it completes.
 * Nothing here reads a clock or moves data: callers pass "ready" times (ns) and get completion
 * times back, in real time (daemon) or virtual time (nvemu sim).
 *
 * Programs and erases take the whole die (multi-plane), first come, first served. Reads take
 * only their plane (read_planes=independent, as current NAND does: each plane senses on its own),
 * or the die (die), or join a read of the same page on other planes (multi); a read of a page
 * still in its plane's page register costs no sense. With read_suspend, host reads suspend the
 * program or erase in progress (see flash.c). A channel places each transfer in its first idle
 * gap at or after the transfer's ready time (calendar.h).
 * Not thread-safe: the FTL serialises calls.
 */
#ifndef NVEMU_FLASH_FLASH_H
#define NVEMU_FLASH_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "flash/parts.h"

/*
 * Division by a geometry constant without a divide instruction. Page and unit numbers are
 * below 2^32 and the model divides them on every operation, where a 64-bit divide would cost
 * tens of cycles: powers of two shift, other divisors use a multiply-high by ceil(2^64 / d)
 * (Lemire, Kaser, Kurz 2019), exact for every 32-bit numerator.
 */
struct flash_divisor {
	uint64_t magic; /* ceil(2^64 / divisor); 0 when the divisor is a power of two */
	uint32_t divisor;
	uint32_t shift; /* log2(divisor) when magic is 0 */
};

struct flash_divisor flash_divisor_make(uint32_t divisor);

static inline uint32_t flash_div(const struct flash_divisor *d, uint64_t n)
{
	return d->magic ? (uint32_t)(((unsigned __int128)d->magic * (uint32_t)n) >> 64)
			: (uint32_t)(n >> d->shift);
}

static inline uint32_t flash_mod(const struct flash_divisor *d, uint64_t n)
{
	return (uint32_t)n - flash_div(d, n) * d->divisor;
}

/*
 * Dies are numbered channel first (die d sits on channel d % channels), so walking dies in
 * order stripes over channels before reusing one. An erase unit is one block in each plane of
 * a die (multi-plane erase). A NAND page holds `nand_page_pages` mapping pages (pages for
 * short); pages inside an erase unit are numbered NAND page first, then plane, so
 * `planes * nand_page_pages` consecutive pages form one multi-plane program (a program group).
 */
struct flash_geometry {
	uint32_t channels;
	uint32_t dies;
	uint32_t planes;
	uint32_t nand_page_pages; /* mapping pages in one NAND page of one plane */
	uint32_t group_pages;     /* planes * nand_page_pages: pages of one multi-plane program */
	uint32_t units_per_die;  /* = blocks per plane */
	uint32_t pages_per_unit; /* = planes * pages per block */
	uint32_t page_bytes;
	uint64_t units;          /* dies * units_per_die */
	uint64_t pages;          /* units * pages_per_unit */
	/* The same sizes as divisors, for the per-page arithmetic. */
	struct flash_divisor by_planes, by_units_per_die, by_pages_per_unit, by_pages_per_die;
	struct flash_divisor by_nand_page_pages, by_group_pages;
};

/* Operation flags. */
enum {
	FLASH_SLC =
	    1, /* the page is in a block written in SLC mode (slc_read_ns, slc_program_ns) */
	FLASH_GC =
	    2, /* the work is the drive's own (GC, folding): a host op behind it counts LAT_GC */
};

struct flash;

/* Returns NULL with a message in err if the geometry is unusable. */
struct flash *flash_create(const struct ssd_params *params, char *err, size_t errlen);
void flash_destroy(struct flash *flash);
const struct flash_geometry *flash_geometry(const struct flash *flash);

/* Die of an erase unit, and erase unit and die of a physical page. */
static inline uint32_t flash_unit_die(const struct flash_geometry *geo, uint64_t unit)
{
	return flash_div(&geo->by_units_per_die, unit);
}

static inline uint32_t flash_page_unit(const struct flash_geometry *geo, uint64_t ppn)
{
	return flash_div(&geo->by_pages_per_unit, ppn);
}

static inline uint32_t flash_page_die(const struct flash_geometry *geo, uint64_t ppn)
{
	return flash_div(&geo->by_pages_per_die, ppn);
}

/*
 * A host read of physical page `ppn`: senses it (tR, plus `extra_ns` of read retries) and moves
 * it over its channel; returns when the data is out. `flags`: FLASH_SLC. Adds its spans from
 * `ready` on to `parts` (may be NULL).
 */
uint64_t flash_read(struct flash *flash, uint64_t ppn, uint64_t ready, unsigned flags,
		    uint64_t extra_ns, struct lat_parts *parts);

/*
 * Moves one page over the channel and programs it at `ppn`. A page joins the die's previous
 * program when that one was for an earlier page of the same program group and no host read ran
 * on the die since: together they cost one tPROG. Returns when the program ends.
 */
uint64_t flash_program(struct flash *flash, uint64_t ppn, uint64_t ready, unsigned flags,
		       struct lat_parts *parts);

/*
 * The drive's own move of a page within its die (GC, SLC folding): reads `from`, then programs
 * `to` (on the same die) once the data is out, in one call. Copies into one program group read
 * all their pages before the group's program starts, as firmware gathers a multi-plane page.
 * Returns when the program ends; *read_done gets when the read's data was out.
 */
uint64_t flash_copy(struct flash *flash, uint64_t from, unsigned from_flags, uint64_t to,
		    unsigned to_flags, uint64_t ready, uint64_t *read_done);

/* Erases erase unit `unit` (a block per plane); returns when done. */
uint64_t flash_erase(struct flash *flash, uint64_t unit, uint64_t ready, unsigned flags,
		     struct lat_parts *parts);

/*
 * A translation page (the mapping cache's misses and write-backs), outside the data pages:
 * a host-priority read of one page on `plane` of die `die`, returning when its data is out;
 * and a one-page program there, returning when it ends (the drive's own work, FLASH_GC).
 */
uint64_t flash_read_meta(struct flash *flash, uint32_t die, uint32_t plane, uint64_t ready,
			 struct lat_parts *parts);
uint64_t flash_program_meta(struct flash *flash, uint32_t die, uint64_t ready);

/*
 * Tells the model no later call will pass a ready time before `now`, so bookings that ended
 * earlier can be forgotten (keeps the channel calendars small). Optional.
 */
void flash_advance(struct flash *flash, uint64_t now);

/*
 * The die that will be free first (done with everything issued to it so far), skipping those
 * with excluded[die] set: dies are looked at
 * from `after` + 1 on, round-robin, and a tie goes to the first one seen. UINT32_MAX when all
 * are excluded.
 */
uint32_t flash_first_free_die(const struct flash *flash, uint32_t after, const bool *excluded);

/*
 * Power loss at `now`: everything booked to end later never happens. Dies and channels are
 * idle from `now` on and the write buffer is empty (its pages are lost).
 */
void flash_power_loss(struct flash *flash, uint64_t now);

/* Time at which every channel and die is idle, given what was issued so far. */
uint64_t flash_idle_at(const struct flash *flash);

/*
 * DRAM write buffer of `write_buffer_kib`, in pages. flash_buffer_admit takes a slot: it returns
 * `now` when one is free, else the time the earliest-draining slot frees (the host stalls until
 * then). The caller then reports, with flash_buffer_release, when that page is on NAND.
 * With a zero-sized buffer there are no slots: admit returns `now` and writes should wait for
 * NAND (flash_buffer_pages() == 0).
 */
uint32_t flash_buffer_pages(const struct flash *flash);
uint64_t flash_buffer_admit(struct flash *flash, uint64_t now);
void flash_buffer_release(struct flash *flash, uint64_t on_nand_at);
/* When everything buffered so far is on NAND (what Flush waits for). */
uint64_t flash_buffer_drained_at(const struct flash *flash);

#endif
