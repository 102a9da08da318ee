/* Zones on the flash model: fixed zone -> die/erase-unit mapping and its costs. */
#include "ns/zone_flash.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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
	/* Kept across runs (tables): */
	uint64_t *programmed; /* per zone: pages [0, n) are on NAND (a high-water mark) */
	uint32_t *unit_erases;
	struct zone_flash_saved *saved;
	bool owns_tables;
	/* Per zone, not kept: when all it took so far is on NAND. A sequential zone reaches NAND
	 * in order, so nothing it takes later is on NAND before that. */
	uint64_t *in_order_at;
	uint64_t host_pages, nand_pages, erases;
	pthread_mutex_t lock;
};

static uint64_t div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static uint64_t pages_on_die(const struct zone_flash *zf, uint64_t n, uint32_t i);
static uint64_t zone_unit(const struct zone_flash *zf, uint64_t zone, uint32_t i);

/* What a layout makes of a geometry: everything but the flash itself. */
struct zone_geometry {
	struct flash_geometry geo;
	uint32_t zone_channels, zone_ways, dies_per_zone;
	uint32_t channel_groups, groups;
	uint32_t units_per_zone_die;
	uint64_t cap_pages;
	uint64_t zones_fit; /* zones the flash holds */
};

static int zone_geometry(const struct ssd_params *params, const struct zone_flash_layout *layout,
			 struct zone_geometry *g, char *err, size_t errlen)
{
	uint64_t dies = (uint64_t)params->channels * params->luns_per_channel;
	uint64_t ppu = (uint64_t)params->planes_per_lun * params->pages_per_block;
	g->geo = (struct flash_geometry){
		.channels = params->channels,
		.dies = (uint32_t)dies,
		.planes = params->planes_per_lun,
		.units_per_die = params->blocks_per_plane,
		.pages_per_unit = (uint32_t)ppu,
		.page_bytes = params->sector_size * params->sectors_per_page,
		.units = dies * params->blocks_per_plane,
		.pages = dies * params->blocks_per_plane * ppu,
	};
	uint32_t ways = params->luns_per_channel;
	g->zone_channels = layout->channels ? layout->channels : g->geo.channels;
	g->zone_ways = layout->ways ? layout->ways : ways;
	if (g->zone_channels > g->geo.channels || g->geo.channels % g->zone_channels ||
	    g->zone_ways > ways || ways % g->zone_ways) {
		errorf(err, errlen,
			 "a zone over %u channels x %u dies does not divide the flash's %u channels x %u dies",
			 g->zone_channels, g->zone_ways, g->geo.channels, ways);
		return -1;
	}
	g->dies_per_zone = g->zone_channels * g->zone_ways;
	g->channel_groups = g->geo.channels / g->zone_channels;
	g->groups = g->channel_groups * (ways / g->zone_ways);
	g->cap_pages = div_up(layout->zone_cap_bytes, g->geo.page_bytes);
	uint64_t units = div_up(div_up(g->cap_pages, g->dies_per_zone), ppu);
	if (!g->cap_pages || units > g->geo.units_per_die) {
		errorf(err, errlen, "a zone capacity of %llu bytes does not fit on %u dies",
			 (unsigned long long)layout->zone_cap_bytes, g->dies_per_zone);
		return -1;
	}
	g->units_per_zone_die = (uint32_t)units;
	g->zones_fit = (uint64_t)g->groups * (g->geo.units_per_die / g->units_per_zone_die);
	if (layout->zones > g->zones_fit) {
		errorf(err, errlen, "%llu zones do not fit the flash, which holds %llu (blocks_per_plane=%u)",
			 (unsigned long long)layout->zones, (unsigned long long)g->zones_fit,
			 g->geo.units_per_die);
		return -1;
	}
	return 0;
}

int zone_flash_fit(struct ssd_params *params, const struct zone_flash_layout *layout,
		   uint64_t zones, char *err, size_t errlen)
{
	struct zone_flash_layout any = *layout;
	any.zones = 0;
	params->blocks_per_plane = 1u << 24; /* the key's largest: enough for the arithmetic below */
	struct zone_geometry g;
	if (zone_geometry(params, &any, &g, err, errlen))
		return -1;
	uint64_t slots = div_up(zones, g.groups);
	uint64_t blocks = slots * g.units_per_zone_die;
	if (blocks > (1u << 24) || blocks * g.geo.dies * g.geo.pages_per_unit >= UINT32_MAX) {
		errorf(err, errlen, "%llu zones need %llu blocks per plane: more than the flash model "
				      "addresses", (unsigned long long)zones, (unsigned long long)blocks);
		return -1;
	}
	params->blocks_per_plane = (uint32_t)(blocks < 4 ? 4 : blocks);
	return 0;
}

uint64_t zone_flash_zones_held(const struct ssd_params *params,
			       const struct zone_flash_layout *layout, char *err, size_t errlen)
{
	struct zone_flash_layout any = *layout;
	any.zones = 0;
	struct zone_geometry g;
	if (zone_geometry(params, &any, &g, err, errlen))
		return 0;
	if (!g.zones_fit)
		errorf(err, errlen, "the flash holds no zone");
	return g.zones_fit;
}

int zone_flash_table_specs(const struct ssd_params *params, const struct zone_flash_layout *layout,
			   struct drive_table_spec out[ZONE_FLASH_TABLES], char *err, size_t errlen)
{
	struct zone_geometry g;
	if (zone_geometry(params, layout, &g, err, errlen))
		return -1;
	uint64_t zones = layout->zones ? layout->zones : g.zones_fit;
	out[ZONE_FLASH_SAVED] = (struct drive_table_spec){"zone-flash-saved", 1,
							  sizeof(struct zone_flash_saved), 1};
	out[ZONE_FLASH_PAGES] = (struct drive_table_spec){"zone-pages", 1, sizeof(uint64_t), zones};
	out[ZONE_FLASH_ERASES] = (struct drive_table_spec){"zone-erases", 1, sizeof(uint32_t),
							   g.geo.units};
	return 0;
}

static void *zeroed(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

struct zone_flash *zone_flash_open(const struct ssd_params *params,
				   const struct zone_flash_layout *layout,
				   void *const tables[ZONE_FLASH_TABLES], char *err, size_t errlen)
{
	struct zone_geometry g;
	if (zone_geometry(params, layout, &g, err, errlen))
		return NULL;
	struct zone_flash *zf = calloc(1, sizeof(*zf));
	if (!zf) {
		errorf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&zf->lock, NULL);
	zf->flash = flash_create(params, err, errlen);
	if (!zf->flash)
		goto fail;
	zf->geo = *flash_geometry(zf->flash);
	zf->front = front_create(params, zf->geo.page_bytes, err, errlen);
	if (!zf->front)
		goto fail;
	zf->has_link = front_has_link(zf->front);
	zf->layout = *layout;
	zf->unmapped_read_ns = params->unmapped_read_ns;
	zf->controller_read_ns = params->controller_read_ns;
	zf->zone_channels = g.zone_channels;
	zf->zone_ways = g.zone_ways;
	zf->dies_per_zone = g.dies_per_zone;
	zf->channel_groups = g.channel_groups;
	zf->groups = g.groups;
	zf->cap_pages = g.cap_pages;
	zf->units_per_zone_die = g.units_per_zone_die;
	zf->nzones = layout->zones ? layout->zones : g.zones_fit;
	zf->owns_tables = !tables;
	zf->in_order_at = calloc(zf->nzones, sizeof(*zf->in_order_at));
	if (!zf->in_order_at) {
		errorf(err, errlen, "out of memory");
		goto fail;
	}
	if (tables) {
		zf->saved = tables[ZONE_FLASH_SAVED];
		zf->programmed = tables[ZONE_FLASH_PAGES];
		zf->unit_erases = tables[ZONE_FLASH_ERASES];
	} else {
		zf->saved = zeroed(sizeof(*zf->saved));
		zf->programmed = zeroed(zf->nzones * sizeof(*zf->programmed));
		zf->unit_erases = zeroed(zf->geo.units * sizeof(*zf->unit_erases));
		if (!zf->saved || !zf->programmed || !zf->unit_erases) {
			errorf(err, errlen, "out of memory");
			goto fail;
		}
	}
	for (uint64_t z = 0; z < zf->nzones; z++) {
		if (zf->programmed[z] > zf->cap_pages) {
			errorf(err, errlen, "zone-pages: entry %llu says %llu pages of a %llu-page zone "
					      "are programmed", (unsigned long long)z,
				 (unsigned long long)zf->programmed[z], (unsigned long long)zf->cap_pages);
			goto fail;
		}
	}
	zf->host_pages = zf->saved->host_pages;
	zf->nand_pages = zf->saved->nand_pages;
	zf->erases = zf->saved->erases;
	return zf;
fail:
	zone_flash_destroy(zf);
	return NULL;
}

struct zone_flash *zone_flash_create(const struct ssd_params *params,
				     const struct zone_flash_layout *layout, char *err, size_t errlen)
{
	return zone_flash_open(params, layout, NULL, err, errlen);
}

void zone_flash_destroy(struct zone_flash *zf)
{
	if (!zf)
		return;
	pthread_mutex_destroy(&zf->lock);
	front_destroy(zf->front);
	flash_destroy(zf->flash);
	if (zf->owns_tables) {
		if (zf->saved)
			munmap(zf->saved, sizeof(*zf->saved));
		if (zf->programmed)
			munmap(zf->programmed, zf->nzones * sizeof(*zf->programmed));
		if (zf->unit_erases)
			munmap(zf->unit_erases, zf->geo.units * sizeof(*zf->unit_erases));
	}
	free(zf->in_order_at);
	free(zf);
}

void zone_flash_checkpoint(struct zone_flash *zf)
{
	pthread_mutex_lock(&zf->lock);
	*zf->saved = (struct zone_flash_saved){zf->host_pages, zf->nand_pages, zf->erases};
	pthread_mutex_unlock(&zf->lock);
}

void zone_flash_rollback(struct zone_flash *zf, uint64_t zone, uint64_t bytes)
{
	pthread_mutex_lock(&zf->lock);
	uint64_t pages = bytes / zf->geo.page_bytes;
	if (zf->programmed[zone] > pages)
		zf->programmed[zone] = pages;
	pthread_mutex_unlock(&zf->lock);
}

void zone_flash_power_loss(struct zone_flash *zf, uint64_t now)
{
	pthread_mutex_lock(&zf->lock);
	flash_power_loss(zf->flash, now);
	front_power_loss(zf->front, now);
	memset(zf->in_order_at, 0, zf->nzones * sizeof(*zf->in_order_at)); /* all on NAND, or gone */
	pthread_mutex_unlock(&zf->lock);
}

void zone_flash_format(struct zone_flash *zf)
{
	pthread_mutex_lock(&zf->lock);
	for (uint64_t z = 0; z < zf->nzones; z++) {
		for (uint32_t i = 0; zf->programmed[z] && i < zf->dies_per_zone; i++) {
			uint64_t units = div_up(pages_on_die(zf, zf->programmed[z], i), zf->geo.pages_per_unit);
			for (uint64_t u = zone_unit(zf, z, i); units--; u++)
				zf->unit_erases[u]++;
		}
		zf->programmed[z] = 0;
		zf->in_order_at[z] = 0;
	}
	zf->host_pages = zf->nand_pages = zf->erases = 0;
	*zf->saved = (struct zone_flash_saved){0};
	pthread_mutex_unlock(&zf->lock);
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
			      bool fua, uint64_t now, struct lat_parts *parts, uint64_t *programmed_at)
{
	uint64_t start = command_start(zf, now, parts);
	bool buffered = flash_buffer_pages(zf->flash) > 0, on_nand = fua || !buffered;
	struct lat_pages lp;
	struct lat_parts *pp = lat_pages_begin(&lp, parts, end > first ? end - first : 0);
	uint64_t done = start, last_on_nand = start;
	for (uint64_t p = first; p < end; p++) {
		lat_page_begin(&lp);
		uint64_t arrived =
		    zf->has_link ? front_link(zf->front, LINK_TO_DRIVE, start, pp) : start;
		uint64_t ready = buffered ? flash_buffer_admit(zf->flash, arrived) : arrived;
		lat_add(pp, LAT_BUFFER_WAIT, ready - arrived);
		uint64_t programmed =
		    flash_program(zf->flash, zone_ppn(zf, zone, p), ready, 0, on_nand ? pp : NULL);
		flash_buffer_release(zf->flash, programmed);
		last_on_nand = max_u64(last_on_nand, programmed);
		lat_page_end(&lp, on_nand ? programmed : ready, &done);
	}
	lat_pages_end(&lp);
	zf->host_pages += end > first ? end - first : 0;
	zf->nand_pages += end > first ? end - first : 0;
	zf->programmed[zone] = max_u64(zf->programmed[zone], end);
	if (programmed_at)
		*programmed_at = last_on_nand;
	return done;
}

uint64_t zone_flash_commit_at(struct zone_flash *zf, uint64_t zone, uint64_t from, uint64_t to,
			      bool fua, uint64_t now, struct lat_parts *parts,
			      uint64_t *programmed_at)
{
	/* A page goes to NAND once its last byte is committed. */
	uint64_t first = from / zf->geo.page_bytes, end = to / zf->geo.page_bytes, on_nand;
	pthread_mutex_lock(&zf->lock);
	uint64_t done = program_pages(zf, zone, first, end > first ? end : first, fua, now, parts,
				      &on_nand);
	/*
	 * In order: bytes left in a page not yet full, or pages on a die that programs sooner,
	 * are not on NAND before what the zone took earlier (else a power cut would keep them and
	 * lose what lies below them). A FUA write waits for that too: durable is durable.
	 */
	on_nand = max_u64(on_nand, zf->in_order_at[zone]);
	zf->in_order_at[zone] = on_nand;
	if (fua) {
		lat_add(parts, LAT_BUFFER_WAIT, on_nand > done ? on_nand - done : 0);
		done = max_u64(done, on_nand);
	}
	pthread_mutex_unlock(&zf->lock);
	if (programmed_at)
		*programmed_at = on_nand;
	return done;
}

uint64_t zone_flash_overwrite_at(struct zone_flash *zf, uint64_t zone, uint64_t from, uint64_t to,
				 bool fua, uint64_t now, struct lat_parts *parts,
				 uint64_t *programmed_at)
{
	/* Conventional zones are modelled as programmed in place, partial pages whole. */
	uint64_t first = from / zf->geo.page_bytes, end = div_up(to, zf->geo.page_bytes);
	pthread_mutex_lock(&zf->lock);
	uint64_t done = program_pages(zf, zone, first, end, fua, now, parts, programmed_at);
	pthread_mutex_unlock(&zf->lock);
	return done;
}

uint64_t zone_flash_commit(struct zone_flash *zf, uint64_t zone, uint64_t from, uint64_t to,
			   bool fua, uint64_t now, struct lat_parts *parts)
{
	return zone_flash_commit_at(zf, zone, from, to, fua, now, parts, NULL);
}

uint64_t zone_flash_overwrite(struct zone_flash *zf, uint64_t zone, uint64_t from, uint64_t to,
			      bool fua, uint64_t now, struct lat_parts *parts)
{
	return zone_flash_overwrite_at(zf, zone, from, to, fua, now, parts, NULL);
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
	zf->in_order_at[zone] = 0;
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
