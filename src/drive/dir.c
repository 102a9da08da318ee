/* The drive directory: creating, locking, naming its files, and this boot's id. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drive/drive_internal.h"
#include "util/util.h"

const char *drive_boot_id(void)
{
	static char boot_id[64];
	if (!boot_id[0]) {
		FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
		if (f) {
			if (!fgets(boot_id, sizeof(boot_id), f))
				boot_id[0] = '\0';
			boot_id[strcspn(boot_id, "\n")] = '\0';
			fclose(f);
		}
	}
	return boot_id;
}

struct drive *drive_open(const char *path, enum drive_mode mode, char *err, size_t errlen)
{
	if (!path || !*path || strlen(path) >= DRIVE_PATH_MAX - 64) {
		errorf(err, errlen, "drive directory '%s': empty or too long", path ? path : "");
		return NULL;
	}
	if (mode == DRIVE_CREATE && mkdir(path, 0755) && errno != EEXIST) {
		errorf(err, errlen, "cannot create drive directory %s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (stat(path, &st)) {
		errorf(err, errlen, "drive directory %s: %s", path, strerror(errno));
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		errorf(err, errlen, "drive directory %s is not a directory", path);
		return NULL;
	}
	struct drive *d = calloc(1, sizeof(*d));
	if (!d) {
		errorf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char lock[DRIVE_PATH_MAX];
	drive_file(d, "lock", lock, sizeof(lock));
	d->lock_fd = d->dir_fd < 0 ? -1 : open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (d->dir_fd < 0 || d->lock_fd < 0) {
		errorf(err, errlen, "drive directory %s: %s", path, strerror(errno));
		goto fail;
	}
	/* flock: released by the kernel when the process dies, so a crash never leaves it held. */
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB)) {
		errorf(err, errlen, "drive directory %s is in use by another process (%s)", path,
			 errno == EWOULDBLOCK ? "locked" : strerror(errno));
		goto fail;
	}
	char identity[DRIVE_PATH_MAX];
	drive_file(d, DRIVE_IDENTITY_FILE, identity, sizeof(identity));
	d->is_new = access(identity, F_OK) != 0;
	if (!d->is_new)
		return d;
	if (mode == DRIVE_EXISTING) {
		errorf(err, errlen, "%s holds no drive (no %s file)", path, DRIVE_IDENTITY_FILE);
		goto fail;
	}
	if (getrandom(d->id, sizeof(d->id), 0) != sizeof(d->id)) {
		errorf(err, errlen, "getrandom: %s", strerror(errno));
		goto fail;
	}
	return d;
fail:
	drive_close(d);
	return NULL;
}

void drive_close(struct drive *d)
{
	if (!d)
		return;
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	if (d->dir_fd >= 0)
		close(d->dir_fd);
	free(d);
}

const char *drive_path(const struct drive *d) { return d->path; }

bool drive_is_new(const struct drive *d) { return d->is_new; }

const uint8_t *drive_id(const struct drive *d) { return d->id; }

void drive_set_id(struct drive *d, const uint8_t id[DRIVE_ID_BYTES]) { memcpy(d->id, id, DRIVE_ID_BYTES); }

void drive_file(const struct drive *d, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", d->path, name);
}

int drive_sync_dir(struct drive *d, char *err, size_t errlen)
{
	if (fsync(d->dir_fd)) {
		errorf(err, errlen, "%s: fsync of the directory: %s", d->path, strerror(errno));
		return -1;
	}
	return 0;
}
