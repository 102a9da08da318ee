/* Zones on the flash model: fixed zone -> die/erase-unit mapping and its costs. */
#include "ns/zone_flash.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "flash/flash.h"
#include "flash/front.h"
#include "util/util.h"

struct zone_flash {
	struct flash *flash;
	struct front *front;
	bool has_link;
	struct flash_geometry geo;
	struct zone_flash_layout layout;
	uint64_t unmapped_read_ns, controller_read_ns;
	uint32_t zone_channels, zone_ways, dies_per_zone;
	uint32_t channel_groups, groups; /* groups of dies zones take turns on */
	uint32_t units_per_zone_die;	 /* erase units each die gives a zone */
	uint64_t cap_pages;		 /* flash pages of a zone's capacity */
	uint64_t nzones;
	uint64_t *programmed; /* per zone: pages [0, n) are on NAND (a high-water mark) */
	uint32_t *unit_erases;
	uint64_t host_pages, nand_pages, erases;
	pthread_mutex_t lock;
};

static uint64_t div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

struct zone_flash *zone_flash_create(const struct ssd_params *params,
				     const struct zone_flash_layout *layout, char *err, size_t errlen)
{
	struct zone_flash *zf = calloc(1, sizeof(*zf));
	if (!zf) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	zf->flash = flash_create(params, err, errlen);
	if (!zf->flash) {
		free(zf);
		return NULL;
	}
	zf->geo = *flash_geometry(zf->flash);
	zf->front = front_create(params, zf->geo.page_bytes, err, errlen);
	if (!zf->front)
		goto fail;
	zf->has_link = front_has_link(zf->front);
	zf->layout = *layout;
	zf->unmapped_read_ns = params->unmapped_read_ns;
	zf->controller_read_ns = params->controller_read_ns;
	uint32_t ways = zf->geo.dies / zf->geo.channels;
	zf->zone_channels = layout->channels ? layout->channels : zf->geo.channels;
	zf->zone_ways = layout->ways ? layout->ways : ways;
	if (zf->zone_channels > zf->geo.channels || zf->geo.channels % zf->zone_channels ||
	    zf->zone_ways > ways || ways % zf->zone_ways) {
		snprintf(err, errlen,
			 "a zone over %u channels x %u dies does not divide the flash's %u channels x %u dies",
			 zf->zone_channels, zf->zone_ways, zf->geo.channels, ways);
		goto fail;
	}
	zf->dies_per_zone = zf->zone_channels * zf->zone_ways;
	zf->channel_groups = zf->geo.channels / zf->zone_channels;
	zf->groups = zf->channel_groups * (ways / zf->zone_ways);
	zf->cap_pages = div_up(layout->zone_cap_bytes, zf->geo.page_bytes);
	zf->units_per_zone_die =
		(uint32_t)div_up(div_up(zf->cap_pages, zf->dies_per_zone), zf->geo.pages_per_unit);
	if (!zf->cap_pages || zf->units_per_zone_die > zf->geo.units_per_die) {
		snprintf(err, errlen, "a zone capacity of %llu bytes does not fit on %u dies",
			 (unsigned long long)layout->zone_cap_bytes, zf->dies_per_zone);
		goto fail;
	}
	zf->nzones = (uint64_t)zf->groups * (zf->geo.units_per_die / zf->units_per_zone_die);
	zf->programmed = calloc(zf->nzones, sizeof(*zf->programmed));
	zf->unit_erases = calloc(zf->geo.units, sizeof(*zf->unit_erases));
	if (!zf->programmed || !zf->unit_erases) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&zf->lock, NULL);
	return zf;
fail:
	front_destroy(zf->front);
	flash_destroy(zf->flash);
	free(zf->programmed);
	free(zf->unit_erases);
	free(zf);
	return NULL;
}

void zone_flash_destroy(struct zone_flash *zf)
{
	if (!zf)
		return;
	pthread_mutex_destroy(&zf->lock);
	front_destroy(zf->front);
	flash_destroy(zf->flash);
	free(zf->programmed);
	free(zf->unit_erases);
	free(zf);
}

uint64_t zone_flash_zones(const struct zone_flash *zf) { return zf->nzones; }

uint32_t zone_flash_page_bytes(const struct zone_flash *zf) { return zf->geo.page_bytes; }

/* What every command does first: forget the past, take a firmware core. Lock held. */
static uint64_t command_start(struct zone_flash *zf, uint64_t now, struct lat_parts *parts)
{
	flash_advance(zf->flash, now);
	if (zf->has_link)
		front_advance(zf->front, now);
	return front_command(zf->front, now, parts);
}

uint64_t zone_flash_command(struct zone_flash *zf, uint64_t now, struct lat_parts *parts)
{
	pthread_mutex_lock(&zf->lock);
	uint64_t done = command_start(zf, now, parts);
	pthread_mutex_unlock(&zf->lock);
	return done;
}

/* Die number of the i-th die of a zone (dies are numbered channel first). */
static uint32_t zone_die(const struct zone_flash *zf, uint64_t zone, uint32_t i)
{
	uint32_t group = (uint32_t)(zone % zf->groups);
	uint32_t channel = (group % zf->channel_groups) * zf->zone_channels + i % zf->zone_channels;
	uint32_t way = (group / zf->channel_groups) * zf->zone_ways + i / zf->zone_channels;
	return way * zf->geo.channels + channel;
}

/* First erase unit of a zone on die i. */
static uint64_t zone_unit(const struct zone_flash *zf, uint64_t zone, uint32_t i)
{
	uint64_t slot = zone / zf->groups;
	return (uint64_t)zone_die(zf, zone, i) * zf->geo.units_per_die + slot * zf->units_per_zone_die;
}

/* Physical page of the zone's page p: pages are striped over the zone's dies. */
static uint64_t zone_ppn(const struct zone_flash *zf, uint64_t zone, uint64_t p)
{
	uint32_t i = (uint32_t)(p % zf->dies_per_zone);
	uint64_t in_die = p / zf->dies_per_zone;
	uint64_t unit = zone_unit(zf, zone, i) + in_die / zf->geo.pages_per_unit;
	return unit * zf->geo.pages_per_unit + in_die % zf->geo.pages_per_unit;
}

/* Of the zone's first n pages, how many sit on its die i. */
static uint64_t pages_on_die(const struct zone_flash *zf, uint64_t n, uint32_t i)
{
	return n > i ? (n - 1 - i) / zf->dies_per_zone + 1 : 0;
}

/* Programs pages [first, end) through the write buffer; returns when the host may go on. */
static uint64_t program_pages(struct zone_flash *zf, uint64_t zone, uint64_t first, uint64_t end,
			      bool fua, uint64_t now, struct lat_parts *parts)
{
	uint64_t start = command_start(zf, now, parts);
	bool buffered = flash_buffer_pages(zf->flash) > 0, on_nand = fua || !buffered;
	struct lat_pages lp;
	struct lat_parts *pp = lat_pages_begin(&lp, parts, end > first ? end - first : 0);
	uint64_t done = start;
	for (uint64_t p = first; p < end; p++) {
		lat_page_begin(&lp);
		uint64_t arrived =
		    zf->has_link ? front_link(zf->front, LINK_TO_DRIVE, start, pp) : start;
		uint64_t ready = buffered ? flash_buffer_admit(zf->flash, arrived) : arrived;
		lat_add(pp, LAT_BUFFER_WAIT, ready - arrived);
		uint64_t programmed =
		    flash_program(zf->flash, zone_ppn(zf, zone, p), ready, 0, on_nand ? pp : NULL);
		flash_buffer_release(zf->flash, programmed);
		lat_page_end(&lp, on_nand ? programmed : ready, &done);
	}
	lat_pages_end(&lp);
	zf->host_pages += end > first ? end - first : 0;
	zf->nand_pages += end > first ? end - first : 0;
	zf->programmed[zone] = max_u64(zf->programmed[zone], end);
	return done;
}

uint64_t zone_flash_commit(struct zone_flash *zf, uint64_t zone, uint64_t from, uint64_t to,
			   bool fua, uint64_t now, struct lat_parts *parts)
{
	/* A page goes to NAND once its last byte is committed. */
	uint64_t first = from / zf->geo.page_bytes, end = to / zf->geo.page_bytes;
	pthread_mutex_lock(&zf->lock);
	uint64_t done = program_pages(zf, zone, first, end > first ? end : first, fua, now, parts);
	pthread_mutex_unlock(&zf->lock);
	return done;
}

uint64_t zone_flash_overwrite(struct zone_flash *zf, uint64_t zone, uint64_t from, uint64_t to,
			      bool fua, uint64_t now, struct lat_parts *parts)
{
	/* Conventional zones are modelled as programmed in place, partial pages whole. */
	uint64_t first = from / zf->geo.page_bytes, end = div_up(to, zf->geo.page_bytes);
	pthread_mutex_lock(&zf->lock);
	uint64_t done = program_pages(zf, zone, first, end, fua, now, parts);
	pthread_mutex_unlock(&zf->lock);
	return done;
}

uint64_t zone_flash_read(struct zone_flash *zf, uint64_t zone, uint64_t from, uint64_t to,
			 uint64_t now, struct lat_parts *parts)
{
	uint64_t first = from / zf->geo.page_bytes, end = div_up(to, zf->geo.page_bytes);
	pthread_mutex_lock(&zf->lock);
	uint64_t start = command_start(zf, now, parts), done = start;
	struct lat_pages lp;
	struct lat_parts *pp = lat_pages_begin(&lp, parts, end > first ? end - first : 0);
	for (uint64_t p = first; p < end; p++) {
		lat_page_begin(&lp);
		uint64_t out;
		if (p < zf->programmed[zone]) {
			out = flash_read(zf->flash, zone_ppn(zf, zone, p), start, 0, 0, pp) +
			      zf->controller_read_ns;
			lat_add(pp, LAT_CONTROLLER, zf->controller_read_ns);
		} else {
			out = start + zf->unmapped_read_ns;
			lat_add(pp, LAT_CONTROLLER, zf->unmapped_read_ns);
		}
		if (zf->has_link)
			out = front_link(zf->front, LINK_TO_HOST, out, pp);
		lat_page_end(&lp, out, &done);
	}
	lat_pages_end(&lp);
	pthread_mutex_unlock(&zf->lock);
	return done;
}

uint64_t zone_flash_erase(struct zone_flash *zf, uint64_t zone, uint64_t now,
			  struct lat_parts *parts)
{
	pthread_mutex_lock(&zf->lock);
	uint64_t start = command_start(zf, now, parts), done = start;
	for (uint32_t i = 0; i < zf->dies_per_zone; i++) {
		uint64_t units = div_up(pages_on_die(zf, zf->programmed[zone], i), zf->geo.pages_per_unit);
		uint64_t first = zone_unit(zf, zone, i);
		for (uint64_t u = first; u < first + units; u++) {
			done = max_u64(done, flash_erase(zf->flash, u, start, 0, NULL));
			zf->unit_erases[u]++;
			zf->erases++;
		}
	}
	zf->programmed[zone] = 0;
	lat_add(parts, LAT_NAND, done - start); /* erases in parallel over the zone's dies */
	pthread_mutex_unlock(&zf->lock);
	return done;
}

/* Programs the padding pages of die i, [from, to) counted in that die's pages. */
static uint64_t pad_die(struct zone_flash *zf, uint64_t zone, uint32_t i, uint64_t from,
			uint64_t to, uint64_t start)
{
	uint64_t done = start;
	for (uint64_t in_die = from; in_die < to; in_die++) {
		uint64_t p = in_die * zf->dies_per_zone + i;
		done =
		    max_u64(done, flash_program(zf->flash, zone_ppn(zf, zone, p), start, 0, NULL));
		zf->nand_pages++;
	}
	return done;
}

uint64_t zone_flash_finish(struct zone_flash *zf, uint64_t zone, uint64_t now,
			   struct lat_parts *parts)
{
	pthread_mutex_lock(&zf->lock);
	uint64_t start = command_start(zf, now, parts), done = start;
	uint64_t written = zf->programmed[zone];
	for (uint32_t i = 0; zf->layout.finish != ZONE_FINISH_NONE && i < zf->dies_per_zone; i++) {
		uint64_t have = pages_on_die(zf, written, i), cap = pages_on_die(zf, zf->cap_pages, i);
		uint64_t to = cap;
		if (zf->layout.finish == ZONE_FINISH_BLOCK) {
			/* Close the die's open erase unit; units never started stay erased. */
			uint64_t ppu = zf->geo.pages_per_unit;
			to = div_up(have, ppu) * ppu;
			to = to < cap ? to : cap;
		}
		done = max_u64(done, pad_die(zf, zone, i, have, to, start));
	}
	/* Block padding leaves the same erase units in use, so the mark only moves for zone padding. */
	if (zf->layout.finish == ZONE_FINISH_ZONE)
		zf->programmed[zone] = zf->cap_pages;
	lat_add(parts, LAT_NAND, done - start); /* padding programs */
	pthread_mutex_unlock(&zf->lock);
	return done;
}

uint64_t zone_flash_flush(struct zone_flash *zf, uint64_t now, struct lat_parts *parts)
{
	pthread_mutex_lock(&zf->lock);
	uint64_t start = command_start(zf, now, parts);
	uint64_t done = max_u64(start, flash_buffer_drained_at(zf->flash));
	lat_add(parts, LAT_BUFFER_WAIT, done - start);
	pthread_mutex_unlock(&zf->lock);
	return done;
}

void zone_flash_get_counters(struct zone_flash *zf, struct zone_flash_counters *out)
{
	pthread_mutex_lock(&zf->lock);
	out->host_pages = zf->host_pages;
	out->nand_pages = zf->nand_pages;
	out->erases = zf->erases;
	uint64_t min = UINT64_MAX, max = 0, sum = 0;
	for (uint64_t u = 0; u < zf->geo.units; u++) {
		uint64_t e = zf->unit_erases[u];
		min = e < min ? e : min;
		max = e > max ? e : max;
		sum += e;
	}
	pthread_mutex_unlock(&zf->lock);
	out->erase_min = min;
	out->erase_max = max;
	out->erase_mean = (double)sum / (double)zf->geo.units;
}
