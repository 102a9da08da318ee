/*
 * Data kept in a file or on a block device, through the page cache. Synchronous calls for
 * setup, tests and rare commands; asynchronous ones (media.h) for the data path, which go to
 * the reactor's io ring so that a read that misses the page cache, a write the file system
 * cannot take without blocking, or a sync never stalls the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "media/media_internal.h"
#include "util/util.h"

struct media_file {
	int fd;
	bool block_device;
	char path[256];
	/* The whole file mapped read-only: reads of resident pages are sent from it, no copy. */
	uint8_t *map;
	uint64_t map_bytes;
	/* Per 2 MiB chunk of the map: when mincore last saw it (ms, << 1) and whether whole (bit 0). */
	_Atomic uint32_t *chunk_seen;
};

#define CHUNK_SHIFT 21
#define CHUNK_PAGES (1u << (CHUNK_SHIFT - MEDIA_PAGE_SHIFT))
/* A chunk seen whole in the page cache is trusted so long, without asking again. */
#define CHUNK_TRUST_MS 1000

struct media *media_file_open(const char *path, uint64_t bytes, bool create, char *err,
			      size_t errlen)
{
	struct media *m = calloc(1, sizeof(*m));
	struct media_file *f = calloc(1, sizeof(*f));
	if (!m || !f) {
		free(m);
		free(f);
		errorf(err, errlen, "out of memory");
		return NULL;
	}
	m->file = f;
	m->bytes = bytes;
	m->pages = (bytes + MEDIA_PAGE_SIZE - 1) >> MEDIA_PAGE_SHIFT;
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
	struct stat st;
	if (f->fd < 0 || fstat(f->fd, &st)) {
		errorf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	f->block_device = S_ISBLK(st.st_mode);
	if (f->block_device) {
		uint64_t size = 0;
		if (ioctl(f->fd, BLKGETSIZE64, &size) || size < bytes) {
			errorf(err, errlen, "%s: a block device of %llu bytes cannot hold %llu", path,
				 (unsigned long long)size, (unsigned long long)bytes);
			goto fail;
		}
	} else if (!S_ISREG(st.st_mode)) {
		errorf(err, errlen, "%s is neither a file nor a block device", path);
		goto fail;
	} else if ((uint64_t)st.st_size != bytes) {
		/* A new file is sized (sparse); an existing one must already be the drive's size. */
		if (!create || st.st_size != 0 || ftruncate(f->fd, (off_t)bytes)) {
			errorf(err, errlen, "%s: %llu bytes, the drive has %llu%s", path,
				 (unsigned long long)st.st_size, (unsigned long long)bytes,
				 st.st_size ? " (truncated or another drive's?)" : "");
			goto fail;
		}
	}
	f->map_bytes = (bytes + MEDIA_PAGE_SIZE - 1) & ~(uint64_t)(MEDIA_PAGE_SIZE - 1);
	f->map = f->map_bytes ? mmap(NULL, f->map_bytes, PROT_READ, MAP_SHARED | MAP_NORESERVE, f->fd, 0)
			      : MAP_FAILED;
	if (f->map == MAP_FAILED)
		f->map = NULL; /* every read copies */
	if (f->map && !(f->chunk_seen = calloc((f->map_bytes >> CHUNK_SHIFT) + 1,
					       sizeof(*f->chunk_seen)))) {
		munmap(f->map, f->map_bytes);
		f->map = NULL;
	}
	return m;
fail:
	media_destroy(m);
	return NULL;
}

static bool all_resident(const uint8_t *addr, uint64_t pages)
{
	unsigned char resident[CHUNK_PAGES];
	if (pages > sizeof(resident) || mincore((void *)addr, pages << MEDIA_PAGE_SHIFT, resident))
		return false;
	for (uint64_t i = 0; i < pages; i++)
		if (!(resident[i] & 1))
			return false;
	return true;
}

static uint32_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

unsigned file_map(struct media *m, uint64_t offset, uint64_t len, struct iovec *iov, unsigned cap)
{
	struct media_file *f = m->file;
	if (!f->map || !cap || !len || offset + len > f->map_bytes)
		return 0;
	/*
	 * Only pages the page cache holds: touching any other would stall the reactor on the disk.
	 * mincore is asked once a second per 2 MiB chunk (it costs more than the read). A chunk
	 * not whole then is not mapped at all: mincore also counts a page that readahead or another
	 * read is still bringing in, and sending that one from the map would wait for the disk on
	 * the reactor thread (a major fault), where the caller's RWF_NOWAIT read answers EAGAIN.
	 */
	uint64_t chunk = offset >> CHUNK_SHIFT;
	bool one_chunk = chunk == (offset + len - 1) >> CHUNK_SHIFT;
	uint32_t now = now_ms(), seen = atomic_load_explicit(&f->chunk_seen[chunk], memory_order_relaxed);
	bool recent = seen && (uint32_t)(now - (seen >> 1)) < CHUNK_TRUST_MS;
	if (!(one_chunk && recent && (seen & 1))) {
		if (!one_chunk || recent)
			return 0;
		uint64_t start = chunk << CHUNK_SHIFT;
		uint64_t n = (f->map_bytes - start) >> MEDIA_PAGE_SHIFT;
		n = n < CHUNK_PAGES ? n : CHUNK_PAGES;
		bool whole = all_resident(f->map + start, n);
		atomic_store_explicit(&f->chunk_seen[chunk], (now << 1) | whole, memory_order_relaxed);
		if (!whole)
			return 0;
	}
	iov[0] = (struct iovec){.iov_base = f->map + offset, .iov_len = len};
	return 1;
}

bool media_is_file(const struct media *m) { return m->file != NULL; }

int media_sync(struct media *m) { return m->file && fdatasync(m->file->fd) ? -errno : 0; }

void file_destroy(struct media *m)
{
	if (m->file->map)
		munmap(m->file->map, m->file->map_bytes);
	free(m->file->chunk_seen);
	if (m->file->fd >= 0)
		close(m->file->fd);
	free(m->file);
}

uint64_t file_resident_pages(const struct media *m)
{
	struct stat st;
	if (m->file->block_device || fstat(m->file->fd, &st))
		return m->pages;
	return (uint64_t)st.st_blocks * 512 / MEDIA_PAGE_SIZE;
}

static int transfer(struct media *m, bool write, uint64_t offset, void *buf, uint64_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = write ? pwrite(m->file->fd, p, len, (off_t)offset)
				  : pread(m->file->fd, p, len, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

void file_read(struct media *m, uint64_t offset, void *buf, uint64_t len)
{
	/* A read error of the backing file reads as zeroes here; the data path reports it. */
	if (transfer(m, false, offset, buf, len))
		memset(buf, 0, len);
}

int file_write(struct media *m, uint64_t offset, const void *buf, uint64_t len)
{
	return transfer(m, true, offset, (void *)buf, len);
}

void file_zero(struct media *m, uint64_t offset, uint64_t len)
{
	int fd = m->file->fd;
	if (!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)len) ||
	    !fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)len))
		return;
	static const uint8_t zeros[65536];
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < sizeof(zeros) ? len - done : sizeof(zeros);
		if (transfer(m, true, offset + done, (void *)zeros, n))
			return;
		done += n;
	}
}

static void ring_done(struct reactor_io *rio, int64_t result)
{
	struct media_io *mio = container_of(rio, struct media_io, rio);
	mio->done(mio, result < 0 ? (int)result : 0);
}

/* The I/O on the calling reactor's ring, or at once when there is none. */
static void start(struct media *m, struct media_io *mio, enum reactor_io_op op, uint64_t offset,
		  void *buf, uint64_t len, int rw_flags, void (*done)(struct media_io *, int))
{
	mio->done = done;
	mio->rio = (struct reactor_io){.op = op, .fd = m->file->fd, .buf = buf, .len = len,
				       .offset = offset, .rw_flags = rw_flags, .done = ring_done};
	struct reactor *r = reactor_current();
	if (r && reactor_io_submit(r, &mio->rio) == 0)
		return;
	int rc = 0;
	switch (op) {
	case REACTOR_IO_READ:
	case REACTOR_IO_WRITE:
		rc = transfer(m, op == REACTOR_IO_WRITE, offset, buf, len);
		if (!rc && (rw_flags & RWF_DSYNC) && fdatasync(m->file->fd))
			rc = -errno;
		break;
	case REACTOR_IO_FDATASYNC:
		rc = fdatasync(m->file->fd) ? -errno : 0;
		break;
	case REACTOR_IO_PUNCH:
		file_zero(m, offset, len);
		break;
	}
	done(mio, rc);
}

int media_read_nowait(struct media *m, uint64_t offset, void *buf, uint64_t len)
{
	if (!m->file) {
		media_read(m, offset, buf, len);
		return 0;
	}
	/* RWF_NOWAIT: what the page cache holds, or EAGAIN (a miss starts readahead, no wait). */
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	ssize_t n = preadv2(m->file->fd, &iov, 1, (off_t)offset, RWF_NOWAIT);
	return n >= 0 && (uint64_t)n == len ? 0 : -EAGAIN;
}

void media_read_async(struct media *m, struct media_io *mio, uint64_t offset, void *buf,
		      uint64_t len, void (*done)(struct media_io *mio, int err))
{
	if (!m->file) {
		media_read(m, offset, buf, len);
		mio->done = done;
		done(mio, 0);
		return;
	}
	start(m, mio, REACTOR_IO_READ, offset, buf, len, 0, done);
}

void media_write_async(struct media *m, struct media_io *mio, uint64_t offset, const void *buf,
		       uint64_t len, bool durable, void (*done)(struct media_io *mio, int err))
{
	if (!m->file) {
		mio->done = done;
		done(mio, media_write(m, offset, buf, len));
		return;
	}
	start(m, mio, REACTOR_IO_WRITE, offset, (void *)buf, len, durable ? RWF_DSYNC : 0, done);
}

void media_sync_async(struct media *m, struct media_io *mio,
		      void (*done)(struct media_io *mio, int err))
{
	if (!m->file) {
		mio->done = done;
		done(mio, 0);
		return;
	}
	start(m, mio, REACTOR_IO_FDATASYNC, 0, NULL, 0, 0, done);
}
