#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "media/media_internal.h"
#include "util/log.h"

struct media *media_ram_create(uint64_t bytes)
{
	struct media *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->bytes = bytes;
	m->pages = (bytes + MEDIA_PAGE_SIZE - 1) >> MEDIA_PAGE_SHIFT;
	m->leaves = (m->pages + LEAF_PAGES - 1) >> LEAF_SHIFT;
	m->leaf = calloc(m->leaves ? m->leaves : 1, sizeof(*m->leaf));
	if (!m->leaf) {
		free(m);
		return NULL;
	}
	m->slab_used = SLAB_BYTES;
	pthread_mutex_init(&m->alloc_lock, NULL);
	return m;
}

void media_destroy(struct media *m)
{
	if (!m)
		return;
	if (m->file)
		file_destroy(m);
	for (uint64_t i = 0; i < m->leaves; i++)
		free(atomic_load(&m->leaf[i]));
	for (size_t i = 0; i < m->nslabs; i++)
		munmap(m->slabs[i], SLAB_BYTES);
	free(m->slabs);
	free(m->free_pages);
	free(m->leaf);
	pthread_mutex_destroy(&m->alloc_lock);
	free(m);
}

uint64_t media_size(const struct media *m) { return m->bytes; }

uint64_t media_resident_pages(const struct media *m)
{
	if (m->file)
		return file_resident_pages(m);
	return atomic_load_explicit(&m->resident, memory_order_relaxed);
}

uint8_t *media_page(struct media *m, uint64_t page_index)
{
	if (page_index >= m->pages || m->file)
		return NULL;
	struct leaf *leaf =
	    atomic_load_explicit(&m->leaf[page_index >> LEAF_SHIFT], memory_order_acquire);
	if (!leaf)
		return NULL;
	return atomic_load_explicit(&leaf->page[page_index & (LEAF_PAGES - 1)],
				    memory_order_acquire);
}

/* Called with alloc_lock held. */
static uint8_t *take_free_page(struct media *m)
{
	if (m->nfree)
		return m->free_pages[--m->nfree];
	if (m->slab_used == SLAB_BYTES) {
		if (m->nslabs == m->slabs_cap) {
			size_t cap = m->slabs_cap ? m->slabs_cap * 2 : 64;
			uint8_t **slabs = realloc(m->slabs, cap * sizeof(*slabs));
			if (!slabs)
				return NULL;
			m->slabs = slabs;
			m->slabs_cap = cap;
		}
		void *slab = mmap(NULL, SLAB_BYTES, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (slab == MAP_FAILED)
			return NULL;
		m->slabs[m->nslabs++] = slab;
		m->slab_used = 0;
	}
	uint8_t *page = m->slabs[m->nslabs - 1] + m->slab_used;
	m->slab_used += MEDIA_PAGE_SIZE;
	return page;
}

/* The leaf of page_index, made if needed; called with alloc_lock held. */
static struct leaf *leaf_for(struct media *m, uint64_t page_index)
{
	_Atomic(struct leaf *) *leaf_slot = &m->leaf[page_index >> LEAF_SHIFT];
	struct leaf *leaf = atomic_load_explicit(leaf_slot, memory_order_relaxed);
	if (!leaf) {
		leaf = calloc(1, sizeof(*leaf));
		if (leaf)
			atomic_store_explicit(leaf_slot, leaf, memory_order_release);
	}
	return leaf;
}

uint8_t *media_page_for_write(struct media *m, uint64_t page_index)
{
	uint8_t *page = media_page(m, page_index);
	if (page || page_index >= m->pages || m->file)
		return page;

	pthread_mutex_lock(&m->alloc_lock);
	struct leaf *leaf = leaf_for(m, page_index);
	if (!leaf)
		goto out;
	_Atomic(uint8_t *) *page_slot = &leaf->page[page_index & (LEAF_PAGES - 1)];
	page = atomic_load_explicit(page_slot, memory_order_relaxed);
	if (!page) {
		page = take_free_page(m);
		if (page) {
			atomic_store_explicit(page_slot, page, memory_order_release);
			atomic_fetch_add_explicit(&m->resident, 1, memory_order_relaxed);
		}
	}
out:
	pthread_mutex_unlock(&m->alloc_lock);
	return page;
}

static bool keep_free_page(struct media *m, uint8_t *page)
{
	if (m->nfree == m->free_cap) {
		size_t cap = m->free_cap ? m->free_cap * 2 : 1024;
		uint8_t **pages = realloc(m->free_pages, cap * sizeof(*pages));
		if (!pages)
			return false;
		m->free_pages = pages;
		m->free_cap = cap;
	}
	m->free_pages[m->nfree++] = page;
	return true;
}

void media_discard_pages(struct media *m, uint64_t first, uint64_t count)
{
	if (first >= m->pages)
		return;
	if (m->file) {
		if (count > m->pages - first)
			count = m->pages - first;
		file_zero(m, first << MEDIA_PAGE_SHIFT, count << MEDIA_PAGE_SHIFT);
		return;
	}
	if (count > m->pages - first)
		count = m->pages - first;
	pthread_mutex_lock(&m->alloc_lock);
	/* Adjacent pages are usually adjacent in a slab too: one madvise per run. */
	uint8_t *run_start = NULL;
	size_t run_len = 0;
	for (uint64_t i = first; i < first + count; i++) {
		struct leaf *leaf = atomic_load_explicit(&m->leaf[i >> LEAF_SHIFT],
							 memory_order_relaxed);
		if (!leaf) {
			i |= LEAF_PAGES - 1;
			continue;
		}
		uint8_t *page = atomic_exchange_explicit(&leaf->page[i & (LEAF_PAGES - 1)], NULL,
							 memory_order_acq_rel);
		if (!page)
			continue;
		atomic_fetch_sub_explicit(&m->resident, 1, memory_order_relaxed);
		if (run_start && page == run_start + run_len) {
			run_len += MEDIA_PAGE_SIZE;
		} else {
			if (run_start)
				madvise(run_start, run_len, MADV_DONTNEED);
			run_start = page;
			run_len = MEDIA_PAGE_SIZE;
		}
		if (!keep_free_page(m, page))
			log_warn("media: free list full, page leaked until shutdown");
	}
	if (run_start)
		madvise(run_start, run_len, MADV_DONTNEED);
	pthread_mutex_unlock(&m->alloc_lock);
}

void media_read(struct media *m, uint64_t offset, void *buf, uint64_t len)
{
	if (m->file) {
		file_read(m, offset, buf, len);
		return;
	}
	uint8_t *out = buf;
	while (len) {
		uint64_t in_page = offset & (MEDIA_PAGE_SIZE - 1);
		uint64_t chunk = MEDIA_PAGE_SIZE - in_page;
		if (chunk > len)
			chunk = len;
		const uint8_t *page = media_page(m, offset >> MEDIA_PAGE_SHIFT);
		if (page)
			memcpy(out, page + in_page, chunk);
		else
			memset(out, 0, chunk);
		out += chunk;
		offset += chunk;
		len -= chunk;
	}
}

static bool page_held(struct media *m, uint64_t page_index)
{
	struct leaf *leaf =
	    atomic_load_explicit(&m->leaf[page_index >> LEAF_SHIFT], memory_order_acquire);
	/* Sequentially consistent, pairing with media_hold: a hold taken before a send
	 * that went before this write is seen here. */
	return leaf && atomic_load(&leaf->held[page_index & (LEAF_PAGES - 1)]);
}

/*
 * A page about to change in [in_page, in_page + len).  When a hold is on it,
 * the page first gets a new physical page under the same address: the kernel
 * keeps the old one, with the bytes a zero-copy send is still reading, for as
 * long as it references it, and we carry over the bytes this write keeps.
 */
static uint8_t *page_to_change(struct media *m, uint64_t page_index, uint64_t in_page, uint64_t len)
{
	uint8_t *page = media_page_for_write(m, page_index);
	if (!page || !page_held(m, page_index))
		return page;
	uint8_t keep[MEDIA_PAGE_SIZE];
	bool whole = in_page == 0 && len == MEDIA_PAGE_SIZE;
	if (!whole)
		memcpy(keep, page, MEDIA_PAGE_SIZE);
	if (madvise(page, MEDIA_PAGE_SIZE, MADV_DONTNEED)) {
		log_warn("media: cannot give a held page a new frame: %s", strerror(errno));
		return page;
	}
	if (!whole)
		memcpy(page, keep, MEDIA_PAGE_SIZE);
	return page;
}

static uint64_t pages_end(const struct media *m, uint64_t offset, uint64_t len)
{
	uint64_t end = (offset + len + MEDIA_PAGE_SIZE - 1) >> MEDIA_PAGE_SHIFT;
	return end < m->pages ? end : m->pages;
}

void media_release(struct media *m, uint64_t offset, uint64_t len)
{
	for (uint64_t i = offset >> MEDIA_PAGE_SHIFT; i < pages_end(m, offset, len); i++) {
		/* media_hold made the leaf, and leaves stay until the store goes. */
		struct leaf *leaf =
		    atomic_load_explicit(&m->leaf[i >> LEAF_SHIFT], memory_order_acquire);
		atomic_fetch_sub_explicit(&leaf->held[i & (LEAF_PAGES - 1)], 1,
					  memory_order_release);
	}
}

int media_hold(struct media *m, uint64_t offset, uint64_t len)
{
	if (m->file)
		return -EOPNOTSUPP; /* the page cache's pages cannot be held: the sender copies */
	for (uint64_t i = offset >> MEDIA_PAGE_SHIFT; i < pages_end(m, offset, len); i++) {
		struct leaf *leaf =
		    atomic_load_explicit(&m->leaf[i >> LEAF_SHIFT], memory_order_acquire);
		if (!leaf) {
			/* A hole now; held all the same, since a write may fill it before release. */
			pthread_mutex_lock(&m->alloc_lock);
			leaf = leaf_for(m, i);
			pthread_mutex_unlock(&m->alloc_lock);
			if (!leaf) {
				media_release(m, offset, (i << MEDIA_PAGE_SHIFT) - offset);
				return -ENOMEM;
			}
		}
		/* Sequentially consistent, pairing with page_held(). */
		atomic_fetch_add(&leaf->held[i & (LEAF_PAGES - 1)], 1);
	}
	return 0;
}

int media_write(struct media *m, uint64_t offset, const void *buf, uint64_t len)
{
	if (m->file)
		return file_write(m, offset, buf, len);
	const uint8_t *in = buf;
	while (len) {
		uint64_t in_page = offset & (MEDIA_PAGE_SIZE - 1);
		uint64_t chunk = MEDIA_PAGE_SIZE - in_page;
		if (chunk > len)
			chunk = len;
		uint8_t *page = page_to_change(m, offset >> MEDIA_PAGE_SHIFT, in_page, chunk);
		if (!page)
			return -ENOMEM;
		memcpy(page + in_page, in, chunk);
		in += chunk;
		offset += chunk;
		len -= chunk;
	}
	return 0;
}

static void zero_in_page(struct media *m, uint64_t offset, uint64_t len)
{
	uint64_t index = offset >> MEDIA_PAGE_SHIFT, in_page = offset & (MEDIA_PAGE_SIZE - 1);
	if (!media_page(m, index))
		return;
	uint8_t *page = page_to_change(m, index, in_page, len);
	if (page)
		memset(page + in_page, 0, len);
}

static const uint8_t zero_page[MEDIA_PAGE_SIZE];

unsigned media_map(struct media *m, uint64_t offset, uint64_t len, struct iovec *iov, unsigned cap)
{
	if (m->file)
		return file_map(m, offset, len, iov, cap); /* the page cache's, when resident */
	unsigned n = 0;
	while (len) {
		uint64_t in_page = offset & (MEDIA_PAGE_SIZE - 1);
		uint64_t chunk = MEDIA_PAGE_SIZE - in_page;
		if (chunk > len)
			chunk = len;
		const uint8_t *page = media_page(m, offset >> MEDIA_PAGE_SHIFT);
		uint8_t *base = (uint8_t *)(page ? page + in_page : zero_page + in_page);
		if (n && (uint8_t *)iov[n - 1].iov_base + iov[n - 1].iov_len == base) {
			iov[n - 1].iov_len += chunk;
		} else {
			if (n == cap)
				return 0;
			iov[n].iov_base = base;
			iov[n].iov_len = chunk;
			n++;
		}
		offset += chunk;
		len -= chunk;
	}
	return n;
}

void media_zero(struct media *m, uint64_t offset, uint64_t len)
{
	if (m->file) {
		file_zero(m, offset, len);
		return;
	}
	uint64_t end = offset + len;
	uint64_t first_whole = (offset + MEDIA_PAGE_SIZE - 1) >> MEDIA_PAGE_SHIFT;
	uint64_t end_whole = end >> MEDIA_PAGE_SHIFT;
	/* No page boundary in [offset, end]: both ends inside one page. */
	if (first_whole > end_whole) {
		zero_in_page(m, offset, len);
		return;
	}
	/* Otherwise a head in one page, whole pages, and a tail in another page. */
	uint64_t head_end = first_whole << MEDIA_PAGE_SHIFT;
	if (offset < head_end)
		zero_in_page(m, offset, head_end - offset);
	if (end_whole > first_whole)
		media_discard_pages(m, first_whole, end_whole - first_whole);
	uint64_t tail_start = end_whole << MEDIA_PAGE_SHIFT;
	if (tail_start < end)
		zero_in_page(m, tail_start, end - tail_start);
}
