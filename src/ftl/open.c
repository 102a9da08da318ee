/*
 * A device's life beyond one run: the shape of its tables, opening it on tables it left
 * (clean or crashed: checked, reconciled, derived state rebuilt), checkpoints, format, power
 * loss, and the geometry a capacity needs. See "Keeping a device across runs" in ftl.h.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ftl/fdp_internal.h"
#include "util/util.h"

/* How far ahead the reconciling pass fetches the L2P entries P2L points at. */
#define RECONCILE_PREFETCH 16

static uint64_t logical_pages_of(uint64_t physical_pages, double op_pcent)
{
	return (uint64_t)floor((double)physical_pages / (1.0 + op_pcent / 100.0));
}

/* Free units per die at or below which GC runs, for "GC once pcent % are in use". */
static uint32_t free_limit(uint32_t units_per_die, double pcent)
{
	return units_per_die - (uint32_t)floor((double)units_per_die * pcent / 100.0);
}

/* The flash geometry without building the flash: 0 pages when it cannot be one. */
static uint64_t physical_pages_of(const struct ssd_params *p)
{
	uint64_t dies = (uint64_t)p->channels * p->luns_per_channel;
	uint64_t pages = dies * p->blocks_per_plane * p->planes_per_lun * p->pages_per_block;
	return pages >= UINT32_MAX ? 0 : pages;
}

/*
 * Spare units per die, and how many GC needs: its reserve, an open unit per write stream and
 * one unit of invalid pages to gain anything.
 */
static void spare_units(const struct ssd_params *p, uint64_t *spare, uint64_t *needed)
{
	uint64_t dies = (uint64_t)p->channels * p->luns_per_channel;
	uint64_t ppu = (uint64_t)p->planes_per_lun * p->pages_per_block;
	uint64_t logical = logical_pages_of(physical_pages_of(p), p->op_pcent);
	uint64_t data_units_per_die = (logical + ppu * dies - 1) / (ppu * dies);
	uint32_t fg = free_limit(p->blocks_per_plane, p->gc_fg_pcent);
	if (fg < p->gc_reserve_blocks)
		fg = p->gc_reserve_blocks;
	*needed = (uint64_t)fg + wear_streams(p) + 1;
	*spare = p->blocks_per_plane > data_units_per_die && logical
			 ? p->blocks_per_plane - data_units_per_die : 0;
}

uint64_t ssd_capacity(const struct ssd_params *p)
{
	uint64_t page_bytes = (uint64_t)p->sector_size * p->sectors_per_page;
	return logical_pages_of(physical_pages_of(p), p->op_pcent) * page_bytes;
}

int ssd_fit_capacity(struct ssd_params *p, uint64_t bytes, char *err, size_t errlen)
{
	uint64_t page_bytes = (uint64_t)p->sector_size * p->sectors_per_page;
	uint64_t need = (bytes + page_bytes - 1) / page_bytes;
	uint64_t per_block = (uint64_t)p->channels * p->luns_per_channel * p->planes_per_lun *
			     p->pages_per_block;
	double physical = ceil((double)need * (1.0 + p->op_pcent / 100.0));
	uint64_t blocks = (uint64_t)ceil(physical / (double)per_block);
	if (blocks < 4)
		blocks = 4; /* the key's minimum */
	/* floor() in logical_pages_of may leave one page short: one more block then. */
	for (int step = 0; step < 2; step++) {
		p->blocks_per_plane = blocks > UINT32_MAX ? UINT32_MAX : (uint32_t)blocks;
		uint64_t pages = physical_pages_of(p);
		if (!pages || blocks > (1u << 24)) {
			errorf(err, errlen,
			     "a capacity of %" PRIu64 " bytes needs %.0f physical pages at op_pcent=%g; "
			     "the mapping addresses at most 2^32 - 2 (%" PRIu64 " GiB of %" PRIu64
			     "-byte pages)", bytes, physical, p->op_pcent,
			     (uint64_t)(UINT32_MAX - 1) * page_bytes >> 30, page_bytes);
			return -1;
		}
		if (logical_pages_of(pages, p->op_pcent) >= need)
			goto spare;
		blocks++;
	}
	return errorf(err, errlen, "no block count gives %" PRIu64 " bytes at op_pcent=%g", bytes,
		      p->op_pcent);
spare:
	/* A small capacity still needs the blocks GC keeps per die: the rest is extra spare area. */
	for (;;) {
		uint64_t spare, needed;
		spare_units(p, &spare, &needed);
		if (spare >= needed || p->blocks_per_plane >= (1u << 24))
			return 0;
		p->blocks_per_plane++;
	}
}

int ssd_table_shapes(const struct ssd_params *p, struct ssd_table_shape out[SSD_TABLES], char *err,
		     size_t errlen)
{
	uint64_t pages = physical_pages_of(p);
	uint64_t units = (uint64_t)p->channels * p->luns_per_channel * p->blocks_per_plane;
	uint64_t logical = logical_pages_of(pages, p->op_pcent);
	if (!pages || !logical) {
		errorf(err, errlen, "the flash geometry describes no device (or too large a one)");
		return -1;
	}
	out[SSD_TABLE_SAVED] = (struct ssd_table_shape){"ftl-saved", SAVED_VERSION,
							sizeof(struct ssd_saved), 1};
	out[SSD_TABLE_L2P] = (struct ssd_table_shape){"l2p", 1, sizeof(uint32_t), logical};
	out[SSD_TABLE_P2L] = (struct ssd_table_shape){"p2l", 1, sizeof(uint32_t), pages};
	out[SSD_TABLE_UNITS] = (struct ssd_table_shape){"units", UNITS_VERSION, sizeof(struct unit),
							units};
	uint64_t rus = 0;
	uint32_t groups = 0;
	if (p->fdp && fdp_table_counts(p, logical, &rus, &groups, err, errlen))
		return -1;
	out[SSD_TABLE_FDP_SAVED] = (struct ssd_table_shape){
	    "fdp-saved", FDP_SAVED_VERSION, sizeof(struct fdp_saved), p->fdp ? 1 : 0};
	out[SSD_TABLE_FDP_GROUPS] = (struct ssd_table_shape){
	    "fdp-groups", FDP_GROUPS_VERSION, sizeof(struct fdp_group_saved), groups};
	out[SSD_TABLE_FDP_RUS] =
	    (struct ssd_table_shape){"fdp-rus", FDP_RUS_VERSION, sizeof(struct ru_info), rus};
	out[SSD_TABLE_FDP_TAGS] =
	    (struct ssd_table_shape){"fdp-tags", 1, sizeof(uint8_t), p->fdp ? logical : 0};
	return 0;
}

int check_spare(struct ssd *s, uint64_t dies, char *err, size_t errlen)
{
	/* Each die must hold its share of the data plus its free reserve, an open unit per
	 * stream and one unit of invalid pages for GC to gain anything. */
	uint64_t ppu = s->geo.pages_per_unit;
	uint64_t data_units_per_die = (s->logical_pages + ppu * dies - 1) / (ppu * dies);
	uint64_t spare = s->geo.units_per_die - data_units_per_die;
	uint64_t needed = (uint64_t)s->fg_limit + wear_streams(&s->params) + 1;
	if (s->logical_pages == 0 || s->geo.units_per_die < data_units_per_die || spare < needed) {
		if (s->geo.units_per_die < data_units_per_die)
			spare = 0;
		return errorf(err, errlen,
			      "op_pcent=%g leaves %" PRIu64 " spare blocks per die on %" PRIu64
			      " dies; at least %" PRIu64
			      " are needed (GC reserve %u + an open block per write stream + 1)",
			      s->params.op_pcent, spare, dies, needed, s->fg_limit);
	}
	return 0;
}

static int init_stream(struct stream *stream, uint8_t id, uint32_t dies)
{
	stream->cursor = 0;
	stream->id = id;
	stream->open_unit = malloc(dies * sizeof(*stream->open_unit));
	if (!stream->open_unit)
		return -1;
	for (uint32_t d = 0; d < dies; d++)
		stream->open_unit[d] = NO_UNIT;
	return 0;
}

/* Zero-filled anonymous memory: untouched pages cost nothing, and can be handed back. */
static void *table_alloc(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int attach_tables(struct ssd *s, void *const given[SSD_TABLES], char *err, size_t errlen)
{
	struct ssd_table_shape shapes[SSD_TABLES];
	if (ssd_table_shapes(&s->params, shapes, err, errlen))
		return -1;
	s->owns_tables = !given;
	for (int t = 0; t < SSD_TABLES; t++) {
		s->table_bytes[t] = shapes[t].count * shapes[t].elem_bytes;
		if (!s->table_bytes[t])
			continue; /* not used by this device (FDP's without FDP) */
		s->tables[t] = given ? given[t] : table_alloc(s->table_bytes[t]);
		if (!s->tables[t]) {
			errorf(err, errlen, given ? "the %s table is missing" : "out of memory for the %s table",
			       shapes[t].name);
			return -1;
		}
	}
	s->saved = s->tables[SSD_TABLE_SAVED];
	s->l2p = s->tables[SSD_TABLE_L2P];
	s->p2l = s->tables[SSD_TABLE_P2L];
	s->units = s->tables[SSD_TABLE_UNITS];
	return 0;
}

/* ---- Checking and reconciling tables ---- */

int refuse(int *bad_table, int table, char *err, size_t errlen, const char *fmt, ...)
{
	if (bad_table)
		*bad_table = table;
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Every entry in range, every unit record possible; nothing is changed yet. */
static int check_ranges(struct ssd *s, int *bad, char *err, size_t errlen)
{
	for (uint64_t u = 0; u < s->geo.units; u++) {
		const struct unit *unit = &s->units[u];
		if (unit->state > UNIT_RETIRED || unit->stream > STREAM_COLD ||
		    unit->written > s->geo.pages_per_unit)
			return refuse(bad, SSD_TABLE_UNITS, err, errlen,
				      "units: entry %" PRIu64 " (state %u, stream %u, %u pages written of %u) "
				      "cannot be", u, unit->state, unit->stream, unit->written,
				      s->geo.pages_per_unit);
		/* Retirement follows the erase that reaches the unit's endurance (wear.c), which a
		 * device without wear never draws: any other retired record was damaged. */
		if (unit->state == UNIT_RETIRED && (!unit->endurance || unit->erases < unit->endurance))
			return refuse(bad, SSD_TABLE_UNITS, err, errlen,
				      "units: entry %" PRIu64 " is retired after %u of its %u erases",
				      u, unit->erases, unit->endurance);
	}
	/* Branch-free maxima first: the common case (all fine) costs one streaming pass. */
	uint32_t max = 0;
	for (uint64_t lpn = 0; lpn < s->logical_pages; lpn++)
		max = s->l2p[lpn] > max ? s->l2p[lpn] : max;
	if (max > s->geo.pages) {
		for (uint64_t lpn = 0;; lpn++)
			if (s->l2p[lpn] > s->geo.pages)
				return refuse(bad, SSD_TABLE_L2P, err, errlen,
					      "l2p: entry %" PRIu64 " maps to page %u of %" PRIu64, lpn,
					      s->l2p[lpn] - 1, s->geo.pages);
	}
	max = 0;
	for (uint64_t ppn = 0; ppn < s->geo.pages; ppn++)
		max = s->p2l[ppn] > max ? s->p2l[ppn] : max;
	if (max > s->logical_pages) {
		for (uint64_t ppn = 0;; ppn++)
			if (s->p2l[ppn] > s->logical_pages)
				return refuse(bad, SSD_TABLE_P2L, err, errlen,
					      "p2l: entry %" PRIu64 " holds logical page %u of %" PRIu64,
					      ppn, s->p2l[ppn] - 1, s->logical_pages);
	}
	return 0;
}

static uint32_t page_offset(const struct ssd *s, uint64_t ppn)
{
	return (uint32_t)(ppn - (uint64_t)page_unit(s, ppn) * s->geo.pages_per_unit);
}

/*
 * After a crash: L2P is authoritative (see ftl.h). Counts each unit's valid pages into
 * `counted` and raises write pointers over every page still mapped.
 */
static int reconcile(struct ssd *s, uint32_t *counted, char *err, size_t errlen)
{
	uint64_t *matched = calloc((s->logical_pages + 63) / 64, sizeof(uint64_t));
	if (!matched) {
		errorf(err, errlen, "out of memory for recovery");
		return -1;
	}
	/* P2L first, in order; each entry's L2P entry is a cache miss, fetched ahead. */
	for (uint64_t ppn = 0; ppn < s->geo.pages; ppn++) {
		if (ppn + RECONCILE_PREFETCH < s->geo.pages) {
			uint32_t ahead = s->p2l[ppn + RECONCILE_PREFETCH];
			if (ahead)
				__builtin_prefetch(&s->l2p[ahead - 1]);
		}
		uint32_t back = s->p2l[ppn];
		if (!back)
			continue;
		uint64_t lpn = back - 1;
		bool first = !(matched[lpn / 64] >> (lpn % 64) & 1);
		if (s->l2p[lpn] != ppn + 1 || !first) {
			s->p2l[ppn] = 0; /* a page the mapping moved away from, or never reached */
			continue;
		}
		matched[lpn / 64] |= 1ull << (lpn % 64);
		uint32_t u = page_unit(s, ppn), off = page_offset(s, ppn);
		counted[u]++;
		if (s->units[u].written <= off)
			s->units[u].written = off + 1;
	}
	/* L2P entries nothing pointed back to: the page a write in flight was replacing. */
	for (uint64_t lpn = 0; lpn < s->logical_pages; lpn++) {
		uint32_t m = s->l2p[lpn];
		if (!m || (matched[lpn / 64] >> (lpn % 64) & 1))
			continue;
		uint64_t ppn = m - 1;
		uint32_t u = page_unit(s, ppn);
		if (s->p2l[ppn] == 0 && s->units[u].state != UNIT_FREE &&
		    page_offset(s, ppn) < s->units[u].written) {
			s->p2l[ppn] = (uint32_t)lpn + 1;
			counted[u]++;
		} else {
			s->l2p[lpn] = 0;
		}
	}
	free(matched);
	/* Unit states that the mapping contradicts (machine crash: tables of different ages). */
	for (uint64_t u = 0; u < s->geo.units; u++) {
		struct unit *unit = &s->units[u];
		unit->valid = counted[u];
		if ((unit->state == UNIT_FREE || unit->state == UNIT_RETIRED) && unit->valid)
			unit->state = UNIT_CLOSED;
		if (unit->state == UNIT_FREE)
			unit->written = 0;
		/* (FDP: a reclaim unit's units change state together, fdp_load decides.) */
		if (unit->state == UNIT_OPEN && unit->written == s->geo.pages_per_unit &&
		    !s->params.fdp)
			unit->state = UNIT_CLOSED;
	}
	return 0;
}

/* Clean tables: counts must agree with the mapping, and no page above a write pointer is mapped. */
static int check_counts(struct ssd *s, uint32_t *counted, int *bad, char *err, size_t errlen)
{
	for (uint64_t ppn = 0; ppn < s->geo.pages; ppn++) {
		if (!s->p2l[ppn])
			continue;
		uint32_t u = page_unit(s, ppn);
		counted[u]++;
		if (page_offset(s, ppn) >= s->units[u].written || s->units[u].state == UNIT_FREE ||
		    s->units[u].state == UNIT_RETIRED)
			return refuse(bad, SSD_TABLE_UNITS, err, errlen,
				      "units: entry %u (state %u, %u pages written) has page %u mapped",
				      u, s->units[u].state, s->units[u].written, page_offset(s, ppn));
	}
	for (uint64_t u = 0; u < s->geo.units; u++)
		if (counted[u] != s->units[u].valid)
			return refuse(bad, SSD_TABLE_UNITS, err, errlen,
				      "units: entry %" PRIu64 " counts %u valid pages, p2l maps %u", u,
				      s->units[u].valid, counted[u]);
	return 0;
}

static int closed_seq_order(const void *a, const void *b, void *units)
{
	uint64_t x = ((const struct unit *)units)[*(const uint32_t *)a].closed_seq;
	uint64_t y = ((const struct unit *)units)[*(const uint32_t *)b].closed_seq;
	return x < y ? -1 : x > y;
}

/* Free stacks, victim lists, write points, the SLC cache's lists and the counts that follow
 * from the unit records. */
static int rebuild(struct ssd *s, char *err, size_t errlen)
{
	victims_init(s);
	victim_set_clear(&s->victims);
	s->free_units = 0;
	s->slc_units = 0;
	s->mapped_pages = 0;
	uint32_t *closed = malloc(s->geo.units_per_die * sizeof(*closed));
	if (!closed) {
		errorf(err, errlen, "out of memory");
		return -1;
	}
	for (uint32_t d = 0; d < s->geo.dies; d++) {
		struct die_gc *die = &s->dies[d];
		die->free_count = 0;
		die->cold_unit = die->cold_moving = NO_UNIT;
		s->host.open_unit[d] = s->gc.open_unit[d] = s->cold.open_unit[d] = NO_UNIT;
		uint32_t nclosed = 0;
		/* Highest first, so that a fresh device uses its units in ascending order. */
		for (uint32_t b = s->geo.units_per_die; b-- > 0;) {
			uint32_t u = d * s->geo.units_per_die + b;
			struct unit *unit = &s->units[u];
			struct stream *stream = unit->stream == STREAM_GC     ? s->gc_stream
						: unit->stream == STREAM_COLD ? &s->cold
									      : &s->host;
			/* A crash between an erase's stores; or a drive reopened without the SLC
			 * cache (its keys may change): what SLC held stays, as native data. */
			if (unit->state == UNIT_FREE || !s->slc_on)
				unit->slc = 0;
			s->slc_units += unit->slc;
			s->mapped_pages += unit->valid;
			if (unit->state == UNIT_RETIRED) {
				continue; /* worn out for good (wear.c) */
			} else if (unit->state == UNIT_FREE) {
				s->free_stack[(uint64_t)d * s->geo.units_per_die + die->free_count++] = u;
				s->free_units++;
			} else if (s->params.fdp) {
				continue; /* reclaim units are fdp_load's */
			} else if (unit->state == UNIT_OPEN && stream->open_unit[d] == NO_UNIT) {
				unit->stream = stream->id;
				stream->open_unit[d] = u;
			} else {
				closed[nclosed++] = u; /* a victim in progress is a candidate again */
			}
		}
		if (s->params.gc_policy == GC_FIFO)
			qsort_r(closed, nclosed, sizeof(*closed), closed_seq_order, s->units);
		for (uint32_t i = 0; i < nclosed; i++) {
			if (s->units[closed[i]].closed_seq > s->seq)
				s->seq = s->units[closed[i]].closed_seq;
			victim_set_restore(&s->victims, closed[i]);
		}
		/* Closed SLC units wait to be folded, oldest first. */
		if (s->slc_on) {
			uint32_t nslc = 0;
			for (uint32_t i = 0; i < nclosed; i++)
				if (s->units[closed[i]].slc)
					closed[nslc++] = closed[i];
			qsort_r(closed, nslc, sizeof(*closed), closed_seq_order, s->units);
			for (uint32_t i = 0; i < nslc; i++)
				fold_restore(s, closed[i]);
		}
		/* (FDP: GC may take a group's last free reclaim unit; fdp.c plans for it.) */
		if (!die->free_count && !s->params.fdp) {
			free(closed);
			errorf(err, errlen, "units: die %u has no free erase unit; GC could not run", d);
			return -1;
		}
	}
	free(closed);
	return 0;
}

static void load_saved(struct ssd *s, bool fresh)
{
	const struct ssd_saved *v = s->saved;
	s->seq = v->seq;
	s->rng = fresh ? s->params.seed : v->rng;
	s->host.cursor = v->host_cursor < s->geo.dies ? v->host_cursor : 0;
	s->bg_cursor = v->bg_cursor < s->geo.dies ? v->bg_cursor : 0;
	s->count.host_pages_written = v->host_pages_written;
	s->count.host_pages_read = v->host_pages_read;
	s->count.host_pages_trimmed = v->host_pages_trimmed;
	s->count.nand_pages_written = v->nand_pages_written;
	s->count.gc_pages_moved = v->gc_pages_moved;
	s->count.gc_runs = v->gc_runs;
	s->count.erases = v->erases;
}

static void save_counters(struct ssd *s)
{
	*s->saved = (struct ssd_saved){
	    .seq = s->seq,
	    .rng = s->rng,
	    .host_cursor = s->host.cursor,
	    .bg_cursor = s->bg_cursor,
	    .host_pages_written = s->count.host_pages_written,
	    .host_pages_read = s->count.host_pages_read,
	    .host_pages_trimmed = s->count.host_pages_trimmed,
	    .nand_pages_written = s->count.nand_pages_written,
	    .gc_pages_moved = s->count.gc_pages_moved,
	    .gc_runs = s->count.gc_runs,
	    .erases = s->count.erases,
	};
}

void ssd_tables(const struct ssd *s, void *out[SSD_TABLES])
{
	for (int t = 0; t < SSD_TABLES; t++)
		out[t] = s->tables[t];
}

void ssd_checkpoint(struct ssd *s)
{
	lock(s);
	save_counters(s);
	if (s->fdp)
		fdp_checkpoint(s);
	unlock(s);
}

static int load_tables(struct ssd *s, enum ssd_tables_state state, int *bad, char *err,
		       size_t errlen)
{
	load_saved(s, state == SSD_TABLES_ZERO);
	if (state == SSD_TABLES_ZERO)
		return rebuild(s, err, errlen);
	if (check_ranges(s, bad, err, errlen))
		return -1;
	uint32_t *counted = calloc(s->geo.units, sizeof(*counted));
	if (!counted) {
		errorf(err, errlen, "out of memory");
		return -1;
	}
	int rc = state == SSD_TABLES_CRASHED ? reconcile(s, counted, err, errlen)
					     : check_counts(s, counted, bad, err, errlen);
	free(counted);
	if (!rc && (rc = rebuild(s, err, errlen)) && bad)
		*bad = SSD_TABLE_UNITS;
	return rc;
}

struct ssd *ssd_open(const struct ssd_params *params, void *const tables[SSD_TABLES],
		     enum ssd_tables_state state, int *bad_table, char *err, size_t errlen)
{
	if (bad_table)
		*bad_table = -1;
	struct ssd *s = calloc(1, sizeof(*s));
	if (!s) {
		errorf(err, errlen, "out of memory");
		return NULL;
	}
	s->params = *params;
	s->flash = flash_create(params, err, errlen);
	if (!s->flash) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->geo = *flash_geometry(s->flash);
	s->front = front_create(params, s->geo.page_bytes, err, errlen);
	if (!s->front)
		goto fail;
	s->has_link = front_has_link(s->front);
	s->logical_pages = logical_pages_of(s->geo.pages, params->op_pcent);
	s->bg_limit = free_limit(s->geo.units_per_die, params->gc_bg_pcent);
	s->fg_limit = free_limit(s->geo.units_per_die, params->gc_fg_pcent);
	if (s->fg_limit < params->gc_reserve_blocks)
		s->fg_limit = params->gc_reserve_blocks;
	/* With FDP the spare area is planned in reclaim units (fdp_create). */
	if (!params->fdp && check_spare(s, s->geo.dies, err, errlen))
		goto fail;
	/* read_retry_pcent as a threshold on a 64-bit draw (100 % must always retry). */
	s->retry_below = params->read_retry_pcent >= 100
			     ? UINT64_MAX
			     : (uint64_t)(params->read_retry_pcent / 100 * 0x1p64);
	s->slc_on = params->slc_static_bytes || params->slc_dynamic_bytes;
	s->free_stack = malloc(s->geo.units * sizeof(*s->free_stack));
	s->dies = calloc(s->geo.dies, sizeof(*s->dies));
	s->die_full = calloc(s->geo.dies, sizeof(*s->die_full));
	s->die_down = calloc(s->geo.dies, sizeof(*s->die_down));
	if (s->slc_on) {
		s->fold_prev = malloc(s->geo.units * sizeof(*s->fold_prev));
		s->fold_next = malloc(s->geo.units * sizeof(*s->fold_next));
	}
	if (!s->free_stack || !s->dies || !s->die_full || !s->die_down ||
	    init_stream(&s->host, STREAM_HOST, s->geo.dies) ||
	    init_stream(&s->gc, STREAM_GC, s->geo.dies) ||
	    init_stream(&s->cold, STREAM_COLD, s->geo.dies) ||
	    (s->slc_on && (!s->fold_prev || !s->fold_next))) {
		errorf(err, errlen, "out of memory");
		goto fail;
	}
	s->gc_stream = params->gc_separate ? &s->gc : &s->host;
	if (attach_tables(s, tables, err, errlen))
		goto fail;
	if (victim_set_init(&s->victims, s->units, s->geo.dies, s->geo.units_per_die,
			    s->geo.pages_per_unit, params, &s->rng, &s->seq)) {
		errorf(err, errlen, "out of memory");
		goto fail;
	}
	if (load_tables(s, tables ? state : SSD_TABLES_ZERO, bad_table, err, errlen) ||
	    wear_init(s, !tables || state == SSD_TABLES_ZERO, err, errlen))
		goto fail;
	/* The mapping cache is controller memory: a device opens with it empty, as after power
	 * on. It is made after the tables, which it reads. */
	if (params->map_cache_bytes && !(s->map = map_cache_create(s))) {
		errorf(err, errlen, "out of memory");
		goto fail;
	}
	s->plain_reads =
	    !s->map && !s->retry_below && !s->worn_retry_below && !s->has_link && !s->slc_on;
	if (params->fdp && (fdp_create(s, err, errlen) ||
			    (tables && state != SSD_TABLES_ZERO &&
			     fdp_load(s, state, bad_table, err, errlen))))
		goto fail;
	return s;
fail:
	ssd_destroy(s);
	return NULL;
}

static void zero_own(void *ctx, enum ssd_table table)
{
	struct ssd *s = ctx;
	madvise(s->tables[table], s->table_bytes[table], MADV_DONTNEED);
}

int ssd_format(struct ssd *s, void (*zero)(void *ctx, enum ssd_table table), void *ctx)
{
	lock(s);
	if (s->fdp) {
		/* A fresh FDP state (every reclaim unit free) first, so that running out of memory
		 * leaves the device as it was. */
		struct fdp *old = s->fdp;
		s->fdp = NULL;
		char why[160];
		if (fdp_create(s, why, sizeof(why))) {
			fdp_destroy(s);
			s->fdp = old;
			unlock(s);
			return -1;
		}
		struct fdp *fresh = s->fdp;
		s->fdp = old;
		fdp_destroy(s);
		s->fdp = fresh;
	}
	if (!zero) {
		zero = zero_own;
		ctx = s;
	}
	zero(ctx, SSD_TABLE_L2P);
	zero(ctx, SSD_TABLE_P2L);
	for (int t = SSD_TABLE_FDP_SAVED; s->fdp && t <= SSD_TABLE_FDP_TAGS; t++)
		zero(ctx, (enum ssd_table)t);
	for (uint64_t u = 0; u < s->geo.units; u++) {
		struct unit *unit = &s->units[u];
		if (unit->state == UNIT_RETIRED)
			continue; /* wear is physical: a worn-out block stays out of service */
		uint32_t erases = unit->erases + (unit->state != UNIT_FREE || unit->written);
		/* A unit this erase wears out serves once more, retired at its next erase (wear.c). */
		s->deferred_retirements += s->wear_on && !s->read_only &&
					   unit->erases < unit->endurance && erases >= unit->endurance;
		*unit = (struct unit){.erases = erases, .endurance = unit->endurance};
	}
	memset(&s->count, 0, sizeof(s->count));
	memset(s->saved, 0, sizeof(*s->saved));
	load_saved(s, true);
	rebuild(s, NULL, 0); /* every unit is free: it cannot fail */
	unlock(s);
	return 0;
}

void ssd_power_loss(struct ssd *s, uint64_t now)
{
	lock(s);
	flash_power_loss(s->flash, now);
	front_power_loss(s->front, now);
	/* The mapping cache is controller memory: it comes back empty. */
	struct map_cache *fresh = s->map ? map_cache_create(s) : NULL;
	if (fresh) {
		map_cache_destroy(s->map);
		s->map = fresh;
	}
	unlock(s);
}
