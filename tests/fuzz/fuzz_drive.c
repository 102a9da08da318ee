/*
 * libFuzzer target for the drive-directory loader (docs/persistence.md): the identity and
 * state files, table headers, and the tables themselves as the FTL, the zone state and the
 * zone flash mapping check and recover them.
 *
 * Eight template drives are made once (ram, ssd, zoned and ssd with FDP; each closed cleanly
 * and as a kill leaves it). Each input picks one, copies it, damages one of its files, and
 * opens it:
 *   byte 0     template: kind (0 ram, 1 ssd, 2 zoned, 3 ssd with FDP) x 2 + crashed
 *   byte 1     which file of the drive (modulo their number)
 *   byte 2     how: 0 replace the file with the rest, its checksum fixed (a text file's CRC line
 *              appended, a table's header CRC set, so the parser behind the check is reached);
 *              1 XOR the rest into the file at the offset in bytes 3-6 (little-endian);
 *              2 truncate the file to that offset; 3 replace the file, nothing fixed
 *   bytes 3-6  offset (ops 1 and 2)
 *   then       the data
 * The loader must refuse with a message or accept; an accepted drive must serve I/O and, for
 * ssd, pass the FTL's full consistency check. Anything else aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "drive/drive.h"
#include "ns/ns.h"
#include "ns/zoned.h"
#include "util/crc32c.h"

#define TEMPLATES 8
#define MAX_FILES 16

static char base[64];
static char files[TEMPLATES][MAX_FILES][32];
static unsigned nfiles[TEMPLATES];
static struct ns *crashed[TEMPLATES]; /* left open, as a killed daemon leaves its files */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void path_of(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s/%s", base, dir, name);
}

static struct ns *open_drive(const char *dir, char *err, size_t errlen)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", base, dir);
	struct ns_params p = {.path = path, .plp = -1};
	return ns_create(&p, err, errlen);
}

/* With FDP, a write goes to a handle of its own (by LBA). */
static void place(const struct ns *ns, struct ns_io *io)
{
	if (ns->fdp && ns->fdp->config.enabled) {
		io->placed = true;
		io->ruh = ns->fdp->ph_ruh[io->slba % ns->fdp->nph];
	}
}

/* A small drive of each kind, written to and closed (clean) or abandoned (crashed). */
static void make_template(unsigned t)
{
	struct ssd_params ssd;
	struct zoned_params zoned;
	ssd_params_defaults(&ssd);
	zoned_params_defaults(&zoned);
	ssd.channels = 2;
	ssd.luns_per_channel = 1;
	ssd.blocks_per_plane = 32;
	ssd.pages_per_block = 16;
	ssd.op_pcent = 30;
	if (t / 2 == 3) { /* FDP: 4 handles (2 initially isolated) need more spare */
		ssd.blocks_per_plane = 64;
		ssd.op_pcent = 40;
		ssd.fdp = true;
		ssd.fdp_nruh = 4;
		snprintf(ssd.fdp_initially_isolated, sizeof(ssd.fdp_initially_isolated), "2-3");
	}
	zoned.zone_size = 64 * 1024;
	zoned.max_open = zoned.max_active = 4;
	static const enum ns_kind kinds[] = {NS_KIND_RAM, NS_KIND_SSD, NS_KIND_ZONED, NS_KIND_SSD};
	char dir[16], path[256], err[512];
	snprintf(dir, sizeof(dir), "t%u", t);
	snprintf(path, sizeof(path), "%s/%s", base, dir);
	struct ns_params p = {.kind = kinds[t / 2], .kind_given = true, .lba_size = 4096,
			      .ssd = &ssd, .zoned = &zoned, .path = path, .plp = -1,
			      .bytes = t / 2 == 0 ? 1 << 20 : 0};
	struct ns *ns = ns_create(&p, err, sizeof(err));
	if (!ns) {
		fprintf(stderr, "fuzz_drive: template %u: %s\n", t, err);
		abort();
	}
	static uint8_t block[4096];
	for (uint64_t lba = 0; lba < 24; lba++) {
		memset(block, (int)lba + 1, sizeof(block));
		struct ns_io io = {.slba = lba, .nlb = 1, .buf = block};
		place(ns, &io);
		ns->ops->write(ns, &io);
	}
	if (ns->fdp_events) { /* a host event in the FDP events log */
		ns->fdp_events->host.ev[0].type = 0;
		ns->fdp_events->host.count = 1;
	}
	for (uint8_t i = 1; i <= 3; i++) { /* an error log with a few entries */
		uint8_t entry[NS_ERROR_ENTRY_BYTES];
		memset(entry, i, sizeof(entry));
		ns_record_error(ns, entry);
	}
	if (t % 2 == 0) {
		ns_destroy(ns);
	} else {
		crashed[t] = ns;
	}
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && strcmp(e->d_name, "lock") && nfiles[t] < MAX_FILES)
			snprintf(files[t][nfiles[t]++], sizeof(files[t][0]), "%s", e->d_name);
	if (d)
		closedir(d);
	/* Sorted, so that an input names the same file everywhere. */
	qsort(files[t], nfiles[t], sizeof(files[t][0]), (int (*)(const void *, const void *))strcmp);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* The templates and the scratch drive go when the fuzzer exits (its time is up, or -runs). */
static void remove_base(void) { nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(base, sizeof(base), "%s/nvemu-fuzz-drive.%d",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", getpid());
	mkdir(base, 0755);
	atexit(remove_base);
	for (unsigned t = 0; t < TEMPLATES; t++)
		make_template(t);
	return 0;
}

/*
 * Makes `to` a copy of `from` in place: the data extents copied in the kernel, what the
 * template has as holes punched where the last input left data, no truncation. Creating and
 * filling each file anew (page allocation, a user-space copy) was a third of an input's time.
 */
static void copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT, 0644);
	struct stat st;
	if (in < 0 || out < 0 || fstat(in, &st) || ftruncate(out, st.st_size))
		abort();
	for (off_t at = 0; at < st.st_size;) {
		off_t data = lseek(in, at, SEEK_DATA);
		off_t hole = data < 0 ? st.st_size : data;
		off_t left = lseek(out, at, SEEK_DATA);
		if (left >= 0 && left < hole &&
		    fallocate(out, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, left, hole - left))
			abort();
		if (data < 0)
			break;
		off_t end = lseek(in, data, SEEK_HOLE);
		for (off_t from_at = data, to_at = data; from_at < end;) {
			ssize_t n = copy_file_range(in, &from_at, out, &to_at, (size_t)(end - from_at), 0);
			if (n < 0 && errno == EINTR)
				continue; /* libFuzzer's timer signal: the copy is in the kernel's splice */
			if (n <= 0) {
				fprintf(stderr, "fuzz_drive: copying %s to %s at %lld: %s\n", from, to,
					(long long)from_at, n ? strerror(errno) : "end of file");
				abort();
			}
		}
		at = end;
	}
	close(in);
	close(out);
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
		abort();
	close(fd);
}

/* Replaces a file with data whose own checksum is right. */
static void replace_fixed(const char *path, const char *name, const uint8_t *data, size_t len)
{
	bool text = !strcmp(name, "identity") || !strcmp(name, "state");
	uint8_t *copy = malloc(len + 64);
	memcpy(copy, data, len);
	size_t n = len;
	if (text) {
		n += (size_t)snprintf((char *)copy + len, 64, "crc32c = %08x\n", crc32c(copy, len));
	} else if (len >= DRIVE_TABLE_HEADER_CRC_AT + 4) {
		uint32_t crc = crc32c(copy, DRIVE_TABLE_HEADER_CRC_AT);
		memcpy(copy + DRIVE_TABLE_HEADER_CRC_AT, &crc, 4);
	}
	write_file(path, copy, n);
	free(copy);
}

static void damage(const char *path, const char *name, uint8_t how, uint32_t offset,
		   const uint8_t *data, size_t len)
{
	switch (how % 4) {
	case 0:
		replace_fixed(path, name, data, len);
		break;
	case 1: { /* the data XORed in from the offset on, wrapping at the end of the file */
		int fd = open(path, O_RDWR);
		struct stat st;
		if (fd < 0 || fstat(fd, &st))
			abort();
		static uint8_t span[1 << 16];
		for (size_t i = 0; i < len && st.st_size;) {
			off_t at = (off_t)((offset + i) % (uint64_t)st.st_size);
			size_t n = len - i;
			n = n < sizeof(span) ? n : sizeof(span);
			n = (off_t)n < st.st_size - at ? n : (size_t)(st.st_size - at);
			if (pread(fd, span, n, at) != (ssize_t)n)
				abort();
			for (size_t j = 0; j < n; j++)
				span[j] ^= data[i + j];
			if (pwrite(fd, span, n, at) != (ssize_t)n)
				abort();
			i += n;
		}
		close(fd);
		break;
	}
	case 2:
		if (truncate(path, offset))
			abort();
		break;
	default:
		write_file(path, data, len);
	}
}

/* An accepted drive serves I/O, and its model passes its own consistency check. */
static void exercise(struct ns *ns)
{
	static uint8_t block[4096];
	char err[512];
	for (uint64_t lba = 0; lba < 8 && lba < ns->nlbas; lba++) {
		struct ns_io io = {.slba = lba, .nlb = 1, .buf = block};
		ns->ops->read(ns, &io);
		io.buf = block;
		place(ns, &io);
		ns->ops->write(ns, &io);
	}
	/* The error log it shows is in order, numbered within its total. */
	struct ns_error kept[NS_ERRORS_KEPT];
	uint64_t total;
	unsigned n = ns_kept_errors(ns, kept, &total);
	for (unsigned i = 0; i < n; i++)
		if (!kept[i].number || kept[i].number > total ||
		    (i && kept[i].number <= kept[i - 1].number))
			abort();
	ns_record_error(ns, block);
	if (ns->ops->check && ns->ops->check(ns, err, sizeof(err))) {
		fprintf(stderr, "fuzz_drive: an accepted drive fails its check: %s\n", err);
		abort();
	}
}

/*
 * Whether the drive's identity keeps its data inside the drive directory. A data path may
 * name any file (--data), and this target runs as its user: a damaged identity naming
 * another file would have the loader write into it. Such inputs are not opened.
 * Only what the loader reads is looked at (it refuses a longer file): an identity truncated
 * to 4 GiB of holes was read to its end here, a third of the target's time.  A line counts
 * as the loader sees it, after leading blanks.
 */
static bool data_stays_inside(const char *work)
{
	static char text[DRIVE_KV_MAX_BYTES + 1];
	char path[256];
	snprintf(path, sizeof(path), "%s/identity", work);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? 0 : read(fd, text, sizeof(text));
	if (fd >= 0)
		close(fd);
	for (const char *line = text, *end = text + (n > 0 ? n : 0); line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		while (line < eol && (*line == ' ' || *line == '\t'))
			line++;
		if (eol - line >= 4 && !memcmp(line, "data", 4) &&
		    memchr(line, '/', (size_t)(eol - line)))
			return false;
		line = eol + 1;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 7)
		return 0;
	unsigned t = data[0] % TEMPLATES;
	const char *name = files[t][data[1] % nfiles[t]];
	uint32_t offset;
	memcpy(&offset, data + 3, 4);
	/* A scratch drive per template, its files overwritten in place by the next input of the
	 * same template: removing and creating every file each time took a fifth of the time. */
	char dir[16], wdir[16], from[256], to[256], work[256];
	snprintf(dir, sizeof(dir), "t%u", t);
	snprintf(wdir, sizeof(wdir), "w%u", t);
	snprintf(work, sizeof(work), "%s/%s", base, wdir);
	mkdir(work, 0755);
	for (unsigned i = 0; i < nfiles[t]; i++) {
		path_of(from, sizeof(from), dir, files[t][i]);
		path_of(to, sizeof(to), wdir, files[t][i]);
		copy_file(from, to);
	}
	path_of(to, sizeof(to), wdir, name);
	damage(to, name, data[2], offset, data + 7, size - 7);
	char err[1024] = "";
	bool inside = data_stays_inside(work);
	struct ns *ns = inside ? open_drive(wdir, err, sizeof(err)) : NULL;
	if (ns) {
		exercise(ns);
		ns_destroy(ns);
	} else if (inside && !err[0]) {
		abort(); /* refused without saying why */
	}
	/* What the template does not have goes (the lock file may stay: it is only flocked). */
	DIR *d = opendir(work);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "lock") ||
		    bsearch(e->d_name, files[t], nfiles[t], sizeof(files[t][0]),
			    (int (*)(const void *, const void *))strcmp))
			continue;
		path_of(to, sizeof(to), wdir, e->d_name);
		unlink(to);
	}
	if (d)
		closedir(d);
	return 0;
}
