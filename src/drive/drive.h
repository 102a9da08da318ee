/*
 * A drive directory: the files that let a namespace outlive the process (docs/persistence.md).
 *
 * This layer knows files, not namespaces: a directory locked by one process at a time, small
 * checksummed text files replaced atomically, and table files (large arrays mapped from a
 * file so the kernel pages them like data). The namespace kinds decide what goes where.
 *
 * Every file names its type and format version and carries a CRC32C; anything that does not
 * check out is refused with a message naming the file, never half-loaded. A format change is
 * a version bump: a reader refuses versions it does not know, saying which it found and which
 * it reads.
 *
 * Crash safety, the rules callers rely on:
 *  - drive_kv_write() replaces a file atomically (temporary file, fsync, rename, fsync of the
 *    directory): after a crash at any instant the old or the new file is there, whole.
 *  - A table's header says whether its body is clean (matches the CRC in the header, written
 *    by drive_table_close()). drive_table_open() of a clean table checks the CRC; the caller
 *    then marks it in use (drive_table_begin), which is durable before the call returns, so a
 *    body that changes afterwards is never mistaken for a clean one.
 * Not thread-safe: one thread opens and closes a drive; the mapped tables are the caller's.
 */
#ifndef NVEMU_DRIVE_DRIVE_H
#define NVEMU_DRIVE_DRIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRIVE_ID_BYTES 16

struct drive;

enum drive_mode {
	DRIVE_CREATE,   /* make the directory if needed; a drive there is opened as it is */
	DRIVE_EXISTING, /* the directory must hold a drive */
};

/*
 * Opens (or, with DRIVE_CREATE, makes) directory `path` and takes its lock: a second process
 * opening the same drive gets an error naming the directory. A new drive (no identity file
 * yet) gets a random drive id. Returns NULL with a message in err.
 */
struct drive *drive_open(const char *path, enum drive_mode mode, char *err, size_t errlen);
/* Releases the lock. Tables must be closed first. */
void drive_close(struct drive *d);

const char *drive_path(const struct drive *d);
/* True until the first drive_kv_write() of the identity file (see drive_set_new). */
bool drive_is_new(const struct drive *d);
/* The id tying every file to this drive; set from the identity file by the caller on open. */
const uint8_t *drive_id(const struct drive *d);
void drive_set_id(struct drive *d, const uint8_t id[DRIVE_ID_BYTES]);
/* "DIR/name", for messages and for files the caller opens itself. */
void drive_file(const struct drive *d, const char *name, char *out, size_t outlen);

/* This boot of the machine (/proc/sys/kernel/random/boot_id): tells a process crash from a
 * machine crash. Empty string when unknown. */
const char *drive_boot_id(void);

/* ---- Small checksummed key = value files ---- */

#define DRIVE_KV_MAX_ENTRIES 256
#define DRIVE_KV_SLOTS 512 /* the keys' hash index: twice the entries, a power of two */
#define DRIVE_KV_MAX_BYTES 65536

struct drive_kv {
	char type[32];    /* the file's type, e.g. "identity" */
	uint32_t version; /* its format version */
	unsigned count;
	/* Entry number + 1 by the key's hash (open addressing; 0: free): an identity file has
	 * ~100 keys, and a linear search per key made parsing quadratic. */
	uint16_t slot[DRIVE_KV_SLOTS];
	struct {
		uint32_t key_hash;
		char key[64];
		char value[192];
	} entry[DRIVE_KV_MAX_ENTRIES];
};

/* Starts an empty file of `type`, format `version`. */
void drive_kv_init(struct drive_kv *kv, const char *type, uint32_t version);
/* Adds or replaces a key; -1 when full or the key or value is unfit (too long, a newline, '=' in a key). */
int drive_kv_set(struct drive_kv *kv, const char *key, const char *value);
int drive_kv_setf(struct drive_kv *kv, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The value of a key, or NULL. */
const char *drive_kv_get(const struct drive_kv *kv, const char *key);
/* A key as an unsigned number (decimal or 0x hex); -1 with a message naming file and key. */
int drive_kv_get_u64(const struct drive_kv *kv, const char *file, const char *key, uint64_t *out,
		     char *err, size_t errlen);

/*
 * Parses a file's text. The file must be of `type` with a version from 1 to max_version, and
 * its CRC line must match. Returns 0, or -1 with a message that names `file` (used only in
 * messages). Exposed for the fuzz target.
 */
int drive_kv_parse(const char *text, size_t len, const char *file, const char *type,
		   uint32_t max_version, struct drive_kv *out, char *err, size_t errlen);
/* Reads DIR/name. Returns 0, 1 when there is no such file, or -1 with a message. */
int drive_kv_read(const struct drive *d, const char *name, const char *type, uint32_t max_version,
		  struct drive_kv *out, char *err, size_t errlen);
/* Replaces DIR/name atomically and durably. Returns 0 or -1 with a message. */
int drive_kv_write(struct drive *d, const char *name, const struct drive_kv *kv, char *err,
		   size_t errlen);

/* ---- Table files: a 4 KiB header, then count elements of elem_bytes, mapped ---- */

struct drive_table_spec {
	const char *name;    /* file name, and the table's name in its header */
	uint32_t version;    /* the format of one element; a change is a version bump */
	uint32_t elem_bytes;
	uint64_t count;
};

enum drive_table_mode {
	DRIVE_TABLE_CREATE,  /* a new zero-filled (sparse) file; an existing one is replaced */
	DRIVE_TABLE_OPEN,    /* the file must exist and match the spec and the drive id */
	DRIVE_TABLE_PRIVATE, /* as OPEN, mapped copy-on-write: changes never reach the file */
};

struct drive_table;

/*
 * Opens, checks and maps a table. An existing file must carry the drive's id, the spec's
 * name, version, element size and count, and a valid header CRC; a clean one must also match
 * its body CRC. Every refusal names the file and, for a mismatch, both values.
 */
struct drive_table *drive_table_open(struct drive *d, const struct drive_table_spec *spec,
				     enum drive_table_mode mode, char *err, size_t errlen);
void *drive_table_data(const struct drive_table *t);
uint64_t drive_table_bytes(const struct drive_table *t);
/* Whether the file was closed cleanly (false for a table just created). */
bool drive_table_was_clean(const struct drive_table *t);
/*
 * Marks the table in use (header not clean) and makes that durable: call before the first
 * change to its data. Returns 0 or -1 with a message.
 */
int drive_table_begin(struct drive_table *t, char *err, size_t errlen);
/* Writes dirty pages of [offset, offset + len) of the data to the file and waits. */
int drive_table_sync(struct drive_table *t, uint64_t offset, uint64_t len, char *err, size_t errlen);
/* Makes [offset, offset + len) zero and sparse again (a hole in the file). */
int drive_table_zero(struct drive_table *t, uint64_t offset, uint64_t len, char *err, size_t errlen);
/*
 * Clean close: writes the data back, stores its CRC, marks the header clean, durably; then
 * unmaps. With clean false (or for a PRIVATE table) it only unmaps, as a crash would leave
 * it. Returns 0 or -1 with a message (the table is unmapped either way).
 */
int drive_table_close(struct drive_table *t, bool clean, char *err, size_t errlen);

/* Bytes of the header in front of every table's data. */
#define DRIVE_TABLE_HEADER_BYTES 4096
/* Where the header's CRC (of every byte before it) sits: for the fuzz target, which fixes it. */
#define DRIVE_TABLE_HEADER_CRC_AT 88

#endif
