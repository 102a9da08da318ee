/* The store's private state, shared by ram.c (memory) and file.c (a file or block device). */
#ifndef NVEMU_MEDIA_MEDIA_INTERNAL_H
#define NVEMU_MEDIA_MEDIA_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/uio.h>

#include "media/media.h"

/* A leaf maps 512 pages (2 MiB of data); leaves are made on first write. */
#define LEAF_SHIFT 9
#define LEAF_PAGES (1u << LEAF_SHIFT)
/* Pages are carved from 2 MiB anonymous slabs, which are unmapped only at the end. */
#define SLAB_BYTES (2u << 20)

struct leaf {
	_Atomic(uint8_t *) page[LEAF_PAGES];
	/* Holds on the page's current bytes (media_hold): while any, writes do not change them. */
	_Atomic uint32_t held[LEAF_PAGES];
};

struct media_file;

struct media {
	struct media_file *file; /* set for data in a file: the calls below go to file.c */
	uint64_t bytes;
	uint64_t pages;
	uint64_t leaves;
	_Atomic(struct leaf *) *leaf;
	atomic_uint_fast64_t resident;

	pthread_mutex_t alloc_lock;
	uint8_t **slabs;
	size_t nslabs, slabs_cap;
	size_t slab_used; /* bytes handed out from the newest slab */
	uint8_t **free_pages;
	size_t nfree, free_cap;
};

/* file.c: the public calls of media.h for a file-backed store */
void file_destroy(struct media *m);
uint64_t file_resident_pages(const struct media *m);
void file_read(struct media *m, uint64_t offset, void *buf, uint64_t len);
int file_write(struct media *m, uint64_t offset, const void *buf, uint64_t len);
void file_zero(struct media *m, uint64_t offset, uint64_t len);
unsigned file_map(struct media *m, uint64_t offset, uint64_t len, struct iovec *iov, unsigned cap);

#endif
