/*
 * Table files: a header page, then the elements, mapped so that the kernel pages them in and
 * out like file data (a table that grows with capacity costs page cache, not process memory).
 *
 * The body CRC is a CRC32C over the CRCs of its 1 MiB chunks, so that chunks that are holes in
 * the sparse file (never written) are checked without reading them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drive/drive_internal.h"
#include "util/crc32c.h"
#include "util/util.h"

#define TABLE_MAGIC "NVEMUTBL"
#define TABLE_HEADER_VERSION 1
#define CHUNK_BYTES (1u << 20)

struct table_header {
	char magic[8];
	uint32_t header_version;
	uint32_t version; /* of the elements */
	char name[32];
	uint8_t drive_id[DRIVE_ID_BYTES];
	uint32_t elem_bytes;
	uint32_t clean;	  /* 1: the body matches body_crc */
	uint64_t count;
	uint32_t body_crc;
	uint32_t chunk_bytes;
	uint32_t header_crc; /* of every byte above it */
	uint32_t reserved;
};

_Static_assert(offsetof(struct table_header, header_crc) == DRIVE_TABLE_HEADER_CRC_AT,
	       "drive.h says where the header CRC is");

struct drive_table {
	struct drive *drive;
	char path[DRIVE_PATH_MAX];
	int fd;
	struct table_header header;
	void *data;
	uint64_t data_bytes;   /* count * elem_bytes */
	uint64_t mapped_bytes; /* data_bytes rounded up to a page */
	bool private_map;
	bool was_clean;
};

static uint32_t header_crc(const struct table_header *h)
{
	return crc32c(h, offsetof(struct table_header, header_crc));
}

static int write_header(struct drive_table *t, char *err, size_t errlen)
{
	t->header.header_crc = header_crc(&t->header);
	uint8_t page[DRIVE_TABLE_HEADER_BYTES] = {0};
	memcpy(page, &t->header, sizeof(t->header));
	if (pwrite(t->fd, page, sizeof(page), 0) != (ssize_t)sizeof(page) || fdatasync(t->fd)) {
		errorf(err, errlen, "%s: writing its header: %s", t->path, strerror(errno ? errno : EIO));
		return -1;
	}
	return 0;
}

static uint32_t zero_chunk_crc(uint64_t len)
{
	static uint32_t full_crc;
	static bool have_full;
	static const uint8_t zeros[65536];
	if (len == CHUNK_BYTES && have_full)
		return full_crc;
	uint32_t crc = CRC32C_INIT;
	for (uint64_t done = 0; done < len; done += sizeof(zeros))
		crc = crc32c_update(crc, zeros, len - done < sizeof(zeros) ? len - done : sizeof(zeros));
	crc = crc32c_final(crc);
	if (len == CHUNK_BYTES) {
		full_crc = crc;
		have_full = true;
	}
	return crc;
}

/* The body CRC as the file holds it now (holes are read as zeroes without reading them). */
static int body_crc(struct drive_table *t, uint32_t *out, char *err, size_t errlen)
{
	/* A small table needs no whole chunk's buffer (the loader's fuzz target opens thousands);
	 * one byte more, so that an empty table asks for no malloc(0). */
	uint8_t *buf = malloc(t->data_bytes < CHUNK_BYTES ? t->data_bytes + 1 : CHUNK_BYTES);
	if (!buf) {
		errorf(err, errlen, "out of memory");
		return -1;
	}
	uint32_t crc = CRC32C_INIT;
	off_t base = DRIVE_TABLE_HEADER_BYTES;
	off_t next_data = base; /* the next offset SEEK_DATA found, or the end */
	off_t file_end = base + (off_t)t->mapped_bytes;
	int rc = 0;
	for (uint64_t at = 0; at < t->data_bytes && !rc; at += CHUNK_BYTES) {
		uint64_t len = t->data_bytes - at < CHUNK_BYTES ? t->data_bytes - at : CHUNK_BYTES;
		off_t off = base + (off_t)at;
		if (next_data < off) {
			next_data = lseek(t->fd, off, SEEK_DATA);
			if (next_data < 0)
				next_data = file_end; /* ENXIO: only a hole is left */
		}
		uint32_t chunk;
		if (next_data >= off + (off_t)len) {
			chunk = zero_chunk_crc(len);
		} else if (pread(t->fd, buf, len, off) != (ssize_t)len) {
			errorf(err, errlen, "%s: reading: %s", t->path, strerror(errno ? errno : EIO));
			rc = -1;
			break;
		} else {
			chunk = crc32c(buf, len);
		}
		crc = crc32c_update(crc, &chunk, sizeof(chunk));
	}
	free(buf);
	*out = crc32c_final(crc);
	return rc;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* Checks an existing file's header against the spec and the drive. */
static int check_header(struct drive_table *t, const struct drive_table_spec *spec, char *err,
			size_t errlen)
{
	struct table_header *h = &t->header;
	uint8_t page[DRIVE_TABLE_HEADER_BYTES];
	struct stat st;
	if (fstat(t->fd, &st) || pread(t->fd, page, sizeof(page), 0) != (ssize_t)sizeof(page)) {
		errorf(err, errlen, "%s: too short for a table header (truncated?)", t->path);
		return -1;
	}
	memcpy(h, page, sizeof(*h));
	if (memcmp(h->magic, TABLE_MAGIC, sizeof(h->magic)) != 0) {
		errorf(err, errlen, "%s: not an nvemu table file", t->path);
		return -1;
	}
	if (h->header_crc != header_crc(h)) {
		errorf(err, errlen, "%s: header checksum mismatch (corrupt)", t->path);
		return -1;
	}
	if (h->header_version != TABLE_HEADER_VERSION || h->version != spec->version) {
		errorf(err, errlen,
			 "%s: table format %u.%u; this nvemu reads %s tables of format %u.%u", t->path,
			 h->header_version, h->version, spec->name, TABLE_HEADER_VERSION, spec->version);
		return -1;
	}
	if (memcmp(h->drive_id, drive_id(t->drive), DRIVE_ID_BYTES) != 0) {
		char mine[2 * DRIVE_ID_BYTES + 1], theirs[2 * DRIVE_ID_BYTES + 1];
		hex(drive_id(t->drive), DRIVE_ID_BYTES, mine);
		hex(h->drive_id, DRIVE_ID_BYTES, theirs);
		errorf(err, errlen, "%s belongs to drive %s, not to this drive (%s): copied from "
				      "another drive?", t->path, theirs, mine);
		return -1;
	}
	h->name[sizeof(h->name) - 1] = '\0';
	if (strcmp(h->name, spec->name) != 0 || h->elem_bytes != spec->elem_bytes ||
	    h->count != spec->count) {
		errorf(err, errlen,
			 "%s: holds table '%s' of %" PRIu64 " x %u bytes; this drive needs '%s' of %" PRIu64
			 " x %u bytes", t->path, h->name, h->count, h->elem_bytes, spec->name, spec->count,
			 spec->elem_bytes);
		return -1;
	}
	if ((uint64_t)st.st_size != DRIVE_TABLE_HEADER_BYTES + t->mapped_bytes) {
		errorf(err, errlen, "%s: %lld bytes, expected %" PRIu64 " (truncated?)", t->path,
			 (long long)st.st_size, DRIVE_TABLE_HEADER_BYTES + t->mapped_bytes);
		return -1;
	}
	if (h->clean > 1 || (h->clean && h->chunk_bytes != CHUNK_BYTES)) {
		errorf(err, errlen, "%s: bad header fields (corrupt)", t->path);
		return -1;
	}
	t->was_clean = h->clean;
	if (!h->clean)
		return 0;
	uint32_t crc;
	if (body_crc(t, &crc, err, errlen))
		return -1;
	if (crc != h->body_crc) {
		errorf(err, errlen,
			 "%s: contents do not match the checksum written at its clean close (%08x, "
			 "now %08x): corrupt, or changed outside nvemu", t->path, h->body_crc, crc);
		return -1;
	}
	return 0;
}

struct drive_table *drive_table_open(struct drive *d, const struct drive_table_spec *spec,
				     enum drive_table_mode mode, char *err, size_t errlen)
{
	if (!spec->elem_bytes || !spec->count || spec->count > (UINT64_MAX / 2) / spec->elem_bytes ||
	    strlen(spec->name) >= sizeof(((struct table_header *)0)->name)) {
		errorf(err, errlen, "table %s: bad shape", spec->name);
		return NULL;
	}
	struct drive_table *t = calloc(1, sizeof(*t));
	if (!t) {
		errorf(err, errlen, "out of memory");
		return NULL;
	}
	t->drive = d;
	t->fd = -1;
	drive_file(d, spec->name, t->path, sizeof(t->path));
	t->data_bytes = spec->count * spec->elem_bytes;
	long page = sysconf(_SC_PAGESIZE);
	t->mapped_bytes = (t->data_bytes + (uint64_t)page - 1) / (uint64_t)page * (uint64_t)page;
	t->private_map = mode == DRIVE_TABLE_PRIVATE;
	if (mode == DRIVE_TABLE_CREATE) {
		t->fd = open(t->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (t->fd < 0 || ftruncate(t->fd, (off_t)(DRIVE_TABLE_HEADER_BYTES + t->mapped_bytes))) {
			errorf(err, errlen, "%s: %s", t->path, strerror(errno));
			goto fail;
		}
		struct table_header *h = &t->header;
		memcpy(h->magic, TABLE_MAGIC, sizeof(h->magic));
		h->header_version = TABLE_HEADER_VERSION;
		h->version = spec->version;
		snprintf(h->name, sizeof(h->name), "%s", spec->name);
		memcpy(h->drive_id, drive_id(d), DRIVE_ID_BYTES);
		h->elem_bytes = spec->elem_bytes;
		h->count = spec->count;
		h->chunk_bytes = CHUNK_BYTES;
		if (write_header(t, err, errlen) || drive_sync_dir(d, err, errlen))
			goto fail;
	} else {
		t->fd = open(t->path, (t->private_map ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (t->fd < 0) {
			errorf(err, errlen, "%s: %s", t->path, strerror(errno));
			goto fail;
		}
		if (check_header(t, spec, err, errlen))
			goto fail;
	}
	t->data = mmap(NULL, t->mapped_bytes, PROT_READ | PROT_WRITE,
		       (t->private_map ? MAP_PRIVATE : MAP_SHARED) | MAP_NORESERVE, t->fd,
		       DRIVE_TABLE_HEADER_BYTES);
	if (t->data == MAP_FAILED) {
		t->data = NULL;
		errorf(err, errlen, "%s: mmap of %" PRIu64 " bytes: %s", t->path, t->mapped_bytes,
			 strerror(errno));
		goto fail;
	}
	return t;
fail:
	drive_table_close(t, false, NULL, 0);
	return NULL;
}

void *drive_table_data(const struct drive_table *t) { return t->data; }

uint64_t drive_table_bytes(const struct drive_table *t) { return t->data_bytes; }

bool drive_table_was_clean(const struct drive_table *t) { return t->was_clean; }

int drive_table_begin(struct drive_table *t, char *err, size_t errlen)
{
	if (t->private_map || !t->header.clean)
		return 0;
	t->header.clean = 0;
	return write_header(t, err, errlen);
}

int drive_table_sync(struct drive_table *t, uint64_t offset, uint64_t len, char *err, size_t errlen)
{
	if (t->private_map || !len)
		return 0;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start = offset / page * page;
	if (msync((uint8_t *)t->data + start, offset + len - start, MS_SYNC)) {
		errorf(err, errlen, "%s: msync: %s", t->path, strerror(errno));
		return -1;
	}
	return 0;
}

int drive_table_zero(struct drive_table *t, uint64_t offset, uint64_t len, char *err, size_t errlen)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t first = (offset + page - 1) / page * page, end = (offset + len) / page * page;
	uint8_t *data = t->data;
	/* Partial pages at either end are zeroed in place; whole pages become a hole. */
	if (first > end) {
		memset(data + offset, 0, len);
		return 0;
	}
	memset(data + offset, 0, first - offset);
	memset(data + end, 0, offset + len - end);
	if (end == first)
		return 0;
	if (t->private_map) {
		memset(data + first, 0, end - first);
		return 0;
	}
	if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(DRIVE_TABLE_HEADER_BYTES + first), (off_t)(end - first))) {
		/* A file system without holes: zeroes written through the mapping do the same. */
		memset(data + first, 0, end - first);
	}
	(void)err;
	(void)errlen;
	return 0;
}

int drive_table_close(struct drive_table *t, bool clean, char *err, size_t errlen)
{
	if (!t)
		return 0;
	int rc = 0;
	if (clean && t->data && !t->private_map) {
		uint32_t crc = 0;
		if (msync(t->data, t->mapped_bytes, MS_SYNC)) {
			errorf(err, errlen, "%s: msync: %s", t->path, strerror(errno));
			rc = -1;
		} else if (!(rc = body_crc(t, &crc, err, errlen))) {
			t->header.body_crc = crc;
			t->header.clean = 1;
			rc = write_header(t, err, errlen);
		}
	}
	if (t->data)
		munmap(t->data, t->mapped_bytes);
	if (t->fd >= 0)
		close(t->fd);
	free(t);
	return rc;
}
