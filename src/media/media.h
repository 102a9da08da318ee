/*
 * Where user data lives: a sparse store of fixed-size pages.
 *
 * Memory is taken only for pages that were written; a page never written, or
 * discarded, reads as zeroes.  Pages come from large anonymous mappings that
 * are never unmapped while the store lives: a discarded page is handed back to
 * the kernel with MADV_DONTNEED, so memory is freed while a reader that still
 * holds a pointer into it sees zeroes rather than a freed allocation.
 *
 * Lookups and writes to allocated pages take no lock; allocating or
 * discarding a page takes a short per-store lock.  Concurrent writers to the
 * same page race as they would on a real drive.
 */
#ifndef NVEMU_MEDIA_MEDIA_H
#define NVEMU_MEDIA_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "runtime/reactor.h"

#define MEDIA_PAGE_SHIFT 12
#define MEDIA_PAGE_SIZE (1u << MEDIA_PAGE_SHIFT)

struct media;

struct media *media_ram_create(uint64_t bytes);
void media_destroy(struct media *m);

uint64_t media_size(const struct media *m);

/* The page at page_index, or NULL if it holds no data (reads as zeroes). */
uint8_t *media_page(struct media *m, uint64_t page_index);

/* The page at page_index, allocated (zero-filled) if needed; NULL when out of memory. */
uint8_t *media_page_for_write(struct media *m, uint64_t page_index);

/* Frees whole pages in [first, first + count). */
void media_discard_pages(struct media *m, uint64_t first, uint64_t count);

uint64_t media_resident_pages(const struct media *m);

/* Byte-range helpers on top of the page calls above. */
void media_read(struct media *m, uint64_t offset, void *buf, uint64_t len);
int media_write(struct media *m, uint64_t offset, const void *buf, uint64_t len);
/* Zeroes the range, freeing every page it covers whole. */
void media_zero(struct media *m, uint64_t offset, uint64_t len);

/*
 * Describes [offset, offset + len) as pieces of the store itself (holes as a
 * shared zero page), merging adjacent pieces; no copy.  Returns how many iovecs
 * were filled, or 0 if more than cap were needed.  A file lends its read-only
 * mapping, and only when the page cache holds every page of the range (else 0:
 * read it); a page evicted before the data is sent is read in by whoever sends it.
 */
unsigned media_map(struct media *m, uint64_t offset, uint64_t len, struct iovec *iov, unsigned cap);

/*
 * For zero-copy senders, which hand media_map's pieces to the kernel and learn
 * only later that it is done reading them: from media_hold() until the
 * matching media_release() (same range), a write or zeroing of a held page
 * gives it a new physical frame under the same address before changing it, so
 * the bytes already handed to the kernel stay as they were (the kernel keeps
 * the old frame); the address shows the new bytes, as it would unheld.  Bytes
 * are thus fixed once a send takes them, as with a copying send.  Holds nest;
 * the caller releases every successful hold exactly once.  media_hold returns
 * 0, or -ENOMEM (or -EOPNOTSUPP for a file, whose pages cannot be held) with
 * nothing held.
 */
int media_hold(struct media *m, uint64_t offset, uint64_t len);
void media_release(struct media *m, uint64_t offset, uint64_t len);

/*
 * ---- Data in a file or on a block device (a drive directory's data) ----
 * The file is the store: sparse (never-written ranges cost no disk), used through the page
 * cache. media_page and media_map have nothing to give (reads are copied); media_read,
 * media_write and media_zero work but may block, so the data path uses the asynchronous
 * forms below. media_resident_pages counts the file's allocated blocks.
 */
struct media *media_file_open(const char *path, uint64_t bytes, bool create, char *err,
			      size_t errlen);
bool media_is_file(const struct media *m);
/* Makes every write done so far durable (fdatasync; nothing to do for memory). 0 or -errno. */
int media_sync(struct media *m);

struct media_io {
	struct reactor_io rio;
	void (*done)(struct media_io *mio, int err); /* 0 or -errno */
};

/*
 * On a reactor's thread these queue the I/O on its io ring (reactor_io_submit) and `done`
 * runs later on that thread; elsewhere, or for memory, the I/O runs at once and `done` runs
 * before the call returns. The caller keeps mio and buf alive until `done`. A `durable`
 * write is on stable storage when done (RWF_DSYNC); media_sync_async makes every write done
 * before it durable (fdatasync).
 */
void media_read_async(struct media *m, struct media_io *mio, uint64_t offset, void *buf,
		      uint64_t len, void (*done)(struct media_io *mio, int err));
/*
 * A read that never waits for the disk: 0 when all of it came from memory (the page cache),
 * else -EAGAIN (then read it with media_read_async). Memory media always succeed.
 */
int media_read_nowait(struct media *m, uint64_t offset, void *buf, uint64_t len);
void media_write_async(struct media *m, struct media_io *mio, uint64_t offset, const void *buf,
		       uint64_t len, bool durable, void (*done)(struct media_io *mio, int err));
void media_sync_async(struct media *m, struct media_io *mio,
		      void (*done)(struct media_io *mio, int err));

#endif
