/*
 * The mapping cache of a drive whose controller memory (DRAM, or a host memory buffer) holds
 * only part of the L2P table, as DFTL's cached mapping table: translation pages of
 * page_bytes / map_entry_bytes entries each, least recently used out first. A miss reads the
 * translation page from flash before the command can go on; evicting a page whose entries
 * writes changed programs it back, which counts as a NAND write (WAF).
 *
 * Translation pages are an overlay: they live outside the data pages (translation page t on
 * die t % dies, plane t / dies % planes), take die and channel time there, and their blocks
 * are not garbage-collected.
 */
#include <stdlib.h>

#include "ftl/ftl_internal.h"

struct map_slot {
	uint32_t tpage;      /* the translation page it holds */
	uint32_t prev, next; /* LRU list: toward the most, the least recently used */
	uint64_t loaded_at;  /* when its read from flash ended */
	bool dirty;
};

struct map_cache {
	uint64_t entries_per_tpage;
	uint32_t capacity, used;
	uint32_t mru, lru;
	uint32_t *slot_of; /* per translation page: slot + 1, 0 when not cached */
	struct map_slot *slots;
};

struct map_cache *map_cache_create(const struct ssd *s)
{
	struct map_cache *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->entries_per_tpage = s->geo.page_bytes / s->params.map_entry_bytes;
	if (m->entries_per_tpage == 0)
		m->entries_per_tpage = 1;
	uint64_t tpages = (s->logical_pages + m->entries_per_tpage - 1) / m->entries_per_tpage;
	uint64_t capacity = s->params.map_cache_bytes / s->geo.page_bytes;
	capacity = capacity < 1 ? 1 : capacity > tpages ? tpages : capacity;
	m->capacity = (uint32_t)capacity;
	m->mru = m->lru = NO_UNIT;
	m->slot_of = calloc(tpages, sizeof(*m->slot_of));
	m->slots = calloc(capacity, sizeof(*m->slots));
	if (!m->slot_of || !m->slots) {
		map_cache_destroy(m);
		return NULL;
	}
	return m;
}

void map_cache_destroy(struct map_cache *m)
{
	if (!m)
		return;
	free(m->slot_of);
	free(m->slots);
	free(m);
}

static void unlink_slot(struct map_cache *m, uint32_t i)
{
	struct map_slot *slot = &m->slots[i];
	if (slot->prev != NO_UNIT)
		m->slots[slot->prev].next = slot->next;
	else
		m->mru = slot->next;
	if (slot->next != NO_UNIT)
		m->slots[slot->next].prev = slot->prev;
	else
		m->lru = slot->prev;
}

static void push_mru(struct map_cache *m, uint32_t i)
{
	struct map_slot *slot = &m->slots[i];
	slot->prev = NO_UNIT;
	slot->next = m->mru;
	if (m->mru != NO_UNIT)
		m->slots[m->mru].prev = i;
	else
		m->lru = i;
	m->mru = i;
}

static uint32_t tpage_die(const struct ssd *s, uint32_t tpage) { return tpage % s->geo.dies; }

uint64_t map_cache_access(struct ssd *s, uint64_t lpn, bool write, uint64_t ready,
			  struct lat_parts *parts)
{
	struct map_cache *m = s->map;
	uint32_t tpage = (uint32_t)(lpn / m->entries_per_tpage);
	uint32_t i = m->slot_of[tpage];
	if (i) {
		struct map_slot *slot = &m->slots[--i];
		unlink_slot(m, i);
		push_mru(m, i);
		slot->dirty |= write;
		s->count.map_hits++;
		/* Its load may still be under way (an earlier command's miss). */
		uint64_t at = slot->loaded_at > ready ? slot->loaded_at : ready;
		lat_add(parts, LAT_MAP_MISS, at - ready);
		return at;
	}
	s->count.map_misses++;
	if (m->used < m->capacity) {
		i = m->used++;
	} else {
		i = m->lru;
		struct map_slot *victim = &m->slots[i];
		unlink_slot(m, i);
		m->slot_of[victim->tpage] = 0;
		if (victim->dirty) {
			flash_program_meta(s->flash, tpage_die(s, victim->tpage), ready);
			s->count.map_pages_written++;
			s->count.nand_pages_written++;
		}
	}
	uint32_t plane = tpage / s->geo.dies % s->geo.planes;
	uint64_t loaded = flash_read_meta(s->flash, tpage_die(s, tpage), plane, ready, NULL);
	m->slots[i] = (struct map_slot){.tpage = tpage, .loaded_at = loaded, .dirty = write};
	push_mru(m, i);
	m->slot_of[tpage] = i + 1;
	lat_add(parts, LAT_MAP_MISS, loaded - ready);
	return loaded;
}
