/* Shared by the files of the drive layer. */
#ifndef NVEMU_DRIVE_DRIVE_INTERNAL_H
#define NVEMU_DRIVE_DRIVE_INTERNAL_H

#include "drive/drive.h"

#define DRIVE_PATH_MAX 4096
/* The file whose presence makes a directory a drive; written last when a drive is made. */
#define DRIVE_IDENTITY_FILE "identity"

struct drive {
	char path[DRIVE_PATH_MAX];
	int dir_fd;
	int lock_fd;
	bool is_new;
	uint8_t id[DRIVE_ID_BYTES];
};

/* fsync of the directory itself (after a rename or a new file). */
int drive_sync_dir(struct drive *d, char *err, size_t errlen);

#endif
