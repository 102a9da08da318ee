/*
 * libFuzzer target for the trace reader of `nvemu sim --trace` (src/sim/trace.c): MSR
 * Cambridge CSV, blkparse text and fio iologs, files that come from elsewhere.
 *
 *   byte 0     format (modulo 4: auto, msr, blkparse, fio) and timing (/ 4, modulo 3: auto,
 *              timestamps, qd)
 *   byte 1     the device: page size 512 << (b % 4), logical pages 1 + (b / 4) * 997
 *   then       the trace file
 * The reader must refuse with a message or give records that stay inside the device: a known
 * operation, a range of at least one page within the logical pages (none for a flush).
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void remove_file(void) { unlink(path); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "%s/nvemu-fuzz-trace.%d",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", getpid());
	atexit(remove_file);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data + 2, size - 2) != (ssize_t)(size - 2))
		abort();
	close(fd);
	struct sim_params p = {.trace_format = data[0] % 4, .trace_timing = data[0] / 4 % 3};
	snprintf(p.trace, sizeof(p.trace), "%s", path);
	uint32_t page_bytes = 512u << (data[1] % 4);
	uint64_t logical_pages = 1 + (uint64_t)(data[1] / 4) * 997;
	char err[256] = "";
	struct trace_source *t = trace_open(&p, page_bytes, logical_pages, err, sizeof(err));
	if (!t) {
		if (!err[0])
			abort(); /* refused without saying why */
		return 0;
	}
	struct io_source *src = trace_as_source(t);
	struct io io;
	while (src->next(src, &io)) {
		if (io.op == IO_FLUSH) {
			if (io.npages)
				abort();
			continue;
		}
		if ((io.op != IO_READ && io.op != IO_WRITE && io.op != IO_TRIM) || !io.npages ||
		    io.npages > logical_pages || io.lpn >= logical_pages ||
		    io.lpn + io.npages > logical_pages) {
			fprintf(stderr, "fuzz_trace: op %u, pages %u at %llu of %llu\n", io.op,
				io.npages, (unsigned long long)io.lpn, (unsigned long long)logical_pages);
			abort();
		}
	}
	trace_close(t);
	return 0;
}
