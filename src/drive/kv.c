/*
 * Small files of `key = value` lines, readable by a person, checksummed for the program:
 *
 *   # nvemu drive file: do not edit (the checksum would no longer match)
 *   format = identity 1
 *   kind = ssd
 *   ...
 *   crc32c = 1a2b3c4d
 *
 * The CRC covers every byte before its own line. Keys are unique; values are one line.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drive/drive_internal.h"
#include "util/crc32c.h"
#include "util/util.h"

#define CRC_KEY "crc32c = "

void drive_kv_init(struct drive_kv *kv, const char *type, uint32_t version)
{
	memset(kv, 0, offsetof(struct drive_kv, entry));
	snprintf(kv->type, sizeof(kv->type), "%s", type);
	kv->version = version;
}

static bool fits(const char *s, size_t max, bool is_key)
{
	size_t n = strlen(s);
	if (n == 0 && is_key)
		return false;
	if (n >= max || strpbrk(s, "\r\n"))
		return false;
	if (is_key && (strchr(s, '=') || strchr(s, ' ') || strchr(s, '#')))
		return false;
	/* A value's surrounding blanks would not survive the parser's trimming. */
	return n == 0 || (s[0] != ' ' && s[0] != '\t' && s[n - 1] != ' ' && s[n - 1] != '\t');
}

static uint32_t key_hash(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *key; key++)
		h = (h ^ (uint8_t)*key) * 16777619u;
	return h;
}

/* The slot of key's entry, or the free slot where it would go. */
static unsigned find(const struct drive_kv *kv, const char *key, uint32_t hash)
{
	unsigned s = hash & (DRIVE_KV_SLOTS - 1);
	for (; kv->slot[s]; s = (s + 1) & (DRIVE_KV_SLOTS - 1)) {
		unsigned i = kv->slot[s] - 1u;
		if (kv->entry[i].key_hash == hash && strcmp(kv->entry[i].key, key) == 0)
			break;
	}
	return s;
}

int drive_kv_set(struct drive_kv *kv, const char *key, const char *value)
{
	if (!fits(key, sizeof(kv->entry[0].key), true) || !fits(value, sizeof(kv->entry[0].value), false) ||
	    strcmp(key, "format") == 0 || strcmp(key, "crc32c") == 0)
		return -1;
	uint32_t hash = key_hash(key);
	unsigned s = find(kv, key, hash);
	if (!kv->slot[s]) {
		if (kv->count == DRIVE_KV_MAX_ENTRIES)
			return -1;
		kv->slot[s] = (uint16_t)(++kv->count);
	}
	unsigned i = kv->slot[s] - 1u;
	kv->entry[i].key_hash = hash;
	snprintf(kv->entry[i].key, sizeof(kv->entry[i].key), "%s", key);
	snprintf(kv->entry[i].value, sizeof(kv->entry[i].value), "%s", value);
	return 0;
}

int drive_kv_setf(struct drive_kv *kv, const char *key, const char *fmt, ...)
{
	char value[sizeof(kv->entry[0].value) + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(value))
		return -1;
	return drive_kv_set(kv, key, value);
}

const char *drive_kv_get(const struct drive_kv *kv, const char *key)
{
	unsigned s = find(kv, key, key_hash(key));
	return kv->slot[s] ? kv->entry[kv->slot[s] - 1u].value : NULL;
}

int drive_kv_get_u64(const struct drive_kv *kv, const char *file, const char *key, uint64_t *out,
		     char *err, size_t errlen)
{
	const char *v = drive_kv_get(kv, key);
	if (!v) {
		errorf(err, errlen, "%s: no '%s'", file, key);
		return -1;
	}
	if (parse_u64(v, 0, UINT64_MAX, out, NULL, 0))
		return errorf(err, errlen, "%s: %s = '%s' is not a number", file, key, v);
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* One `key = value` line (comments and blank lines already skipped). */
static int parse_line(char *line, unsigned lineno, const char *file, const char *type,
		      uint32_t max_version, struct drive_kv *out, char *err, size_t errlen)
{
	char *eq = strchr(line, '=');
	if (!eq) {
		errorf(err, errlen, "%s:%u: not a 'key = value' line", file, lineno);
		return -1;
	}
	*eq = '\0';
	char *key = trim(line), *value = trim(eq + 1);
	if (strcmp(key, "format") != 0) {
		if (!out->type[0]) {
			errorf(err, errlen, "%s:%u: the first key must be 'format'", file, lineno);
			return -1;
		}
		if (drive_kv_get(out, key)) {
			errorf(err, errlen, "%s:%u: '%s' appears twice", file, lineno, key);
			return -1;
		}
		if (drive_kv_set(out, key, value)) {
			errorf(err, errlen, "%s:%u: key '%.63s' or its value is unfit or one too many",
				 file, lineno, key);
			return -1;
		}
		return 0;
	}
	char found[sizeof(out->type)];
	unsigned long version;
	char tail;
	if (out->type[0] || sscanf(value, "%31s %lu %c", found, &version, &tail) != 2) {
		errorf(err, errlen, "%s:%u: bad 'format' line (expected 'format = %s N')", file,
			 lineno, type);
		return -1;
	}
	if (strcmp(found, type) != 0) {
		errorf(err, errlen, "%s: a drive file of type '%s', expected '%s'", file, found, type);
		return -1;
	}
	if (version < 1 || version > max_version) {
		errorf(err, errlen,
			 "%s: format version %lu; this nvemu reads %s versions 1 to %u (a newer nvemu "
			 "wrote it?)", file, version, type, max_version);
		return -1;
	}
	drive_kv_init(out, found, (uint32_t)version);
	return 0;
}

int drive_kv_parse(const char *text, size_t len, const char *file, const char *type,
		   uint32_t max_version, struct drive_kv *out, char *err, size_t errlen)
{
	drive_kv_init(out, "", 0);
	out->type[0] = '\0';
	if (len > DRIVE_KV_MAX_BYTES || memchr(text, '\0', len)) {
		errorf(err, errlen, "%s: not a drive file (too long or binary)", file);
		return -1;
	}
	/* The checksum line is the last line; it covers everything before it. */
	size_t end = len;
	if (end && text[end - 1] == '\n')
		end--;
	size_t start = end;
	while (start && text[start - 1] != '\n')
		start--;
	unsigned long crc;
	char tail;
	char last[64];
	size_t last_len = end - start < sizeof(last) - 1 ? end - start : sizeof(last) - 1;
	memcpy(last, text + start, last_len);
	last[last_len] = '\0';
	if (strncmp(last, CRC_KEY, strlen(CRC_KEY)) != 0 ||
	    sscanf(last + strlen(CRC_KEY), "%8lx%c", &crc, &tail) != 1) {
		errorf(err, errlen, "%s: no checksum line at the end (truncated, or not a drive file)",
			 file);
		return -1;
	}
	uint32_t actual = crc32c(text, start);
	if (actual != (uint32_t)crc) {
		errorf(err, errlen, "%s: checksum mismatch (file says %08lx, contents give %08x): "
				      "corrupt or edited", file, crc, actual);
		return -1;
	}
	char *copy = malloc(start + 1);
	if (!copy) {
		errorf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(copy, text, start);
	copy[start] = '\0';
	int rc = 0;
	unsigned lineno = 0;
	for (char *line = copy, *next; line && !rc; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		char *t = trim(line);
		if (*t == '\0' || *t == '#')
			continue;
		rc = parse_line(t, lineno, file, type, max_version, out, err, errlen);
	}
	free(copy);
	if (!rc && !out->type[0]) {
		errorf(err, errlen, "%s: no 'format' line", file);
		rc = -1;
	}
	return rc;
}

int drive_kv_read(const struct drive *d, const char *name, const char *type, uint32_t max_version,
		  struct drive_kv *out, char *err, size_t errlen)
{
	char path[DRIVE_PATH_MAX];
	drive_file(d, name, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		errorf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(DRIVE_KV_MAX_BYTES + 1);
	ssize_t n = buf ? read(fd, buf, DRIVE_KV_MAX_BYTES + 1) : -1;
	int saved = errno;
	close(fd);
	int rc = -1;
	if (!buf)
		errorf(err, errlen, "out of memory");
	else if (n < 0)
		errorf(err, errlen, "%s: %s", path, strerror(saved));
	else
		rc = drive_kv_parse(buf, (size_t)n, path, type, max_version, out, err, errlen);
	free(buf);
	return rc;
}

int drive_kv_write(struct drive *d, const char *name, const struct drive_kv *kv, char *err,
		   size_t errlen)
{
	size_t cap = DRIVE_KV_MAX_BYTES, len = 0;
	char *text = malloc(cap);
	if (!text) {
		errorf(err, errlen, "out of memory");
		return -1;
	}
	len += (size_t)snprintf(text + len, cap - len,
				"# nvemu drive file: do not edit (its checksum would no longer match)\n"
				"format = %s %u\n", kv->type, kv->version);
	for (unsigned i = 0; i < kv->count && len < cap; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s = %s\n", kv->entry[i].key,
					kv->entry[i].value);
	if (len + 32 >= cap) {
		free(text);
		errorf(err, errlen, "%s/%s: too large", d->path, name);
		return -1;
	}
	len += (size_t)snprintf(text + len, cap - len, CRC_KEY "%08x\n", crc32c(text, len));

	char path[DRIVE_PATH_MAX], tmp[DRIVE_PATH_MAX + 8];
	drive_file(d, name, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = -1;
	if (fd < 0) {
		errorf(err, errlen, "%s: %s", tmp, strerror(errno));
	} else if (write(fd, text, len) != (ssize_t)len || fdatasync(fd)) {
		errorf(err, errlen, "%s: %s", tmp, strerror(errno ? errno : EIO));
	} else if (rename(tmp, path)) {
		errorf(err, errlen, "rename to %s: %s", path, strerror(errno));
	} else {
		rc = drive_sync_dir(d, err, errlen);
	}
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	else if (strcmp(name, DRIVE_IDENTITY_FILE) == 0)
		d->is_new = false;
	free(text);
	return rc;
}
