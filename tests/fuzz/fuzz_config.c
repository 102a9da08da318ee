/*
 * libFuzzer target for the daemon's configuration: the input is a config file (INI, read
 * with inih, src/cli/config_file.c), expanded into options and parsed with the daemon's
 * option table (src/cli/daemon_options.c) exactly as `nvemu --config FILE` does: sections,
 * keys, numbers, presets, namespace specs, hosts and their secrets.
 *
 * The file lives in a memfd that each input rewrites.  Checked: a failure comes with a
 * message, a success without one, and nothing leaks (LeakSanitizer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/daemon.h"
#include "util/log.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fd = memfd_create("nvemu-fuzz-config", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	log_threshold = LOG_ERROR;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	char *argv[] = {"nvemu", "--config", path, NULL};
	static struct daemon_options options;
	struct daemon_options *o = &options;
	char err[512] = "";
	int rc = daemon_options_parse(o, 3, argv, err, sizeof(err));
	log_threshold = LOG_ERROR; /* verbose = yes sets it */
	if ((rc != 0) != (err[0] != '\0'))
		abort();
	daemon_options_free(o);
	return 0;
}
