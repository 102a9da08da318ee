/*
 * Trace replay: records are parsed one line at a time, so traces larger than RAM replay fine.
 * Byte offsets become page numbers; addresses beyond the device wrap around its logical space.
 *   MSR Cambridge CSV: Timestamp(100 ns ticks),Host,Disk,Read|Write,Offset,Size,ResponseTime
 *   blkparse text:     dev cpu seq time pid action rwbs sector + count [process]  (Q events)
 *   fio iolog v2:      file action offset length        (no times: replayed at qd)
 *   fio iolog v3:      time_ms file action offset length
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/sim_internal.h"

struct trace_source {
	struct io_source base;
	FILE *file;
	enum trace_format format;
	int fio_version;
	char *line;
	size_t line_cap;
	uint32_t page_bytes;
	uint64_t logical_pages;
	bool have_base;
	uint64_t base_ns;
	uint64_t skipped;
};

/* Byte range -> page range inside the device: at least one page, never wrapping. */
static void set_range(struct trace_source *t, struct io *io, uint64_t offset, uint64_t length)
{
	uint64_t first = offset / t->page_bytes;
	uint64_t span = length ? length - 1 : 0;
	uint64_t last = offset > UINT64_MAX - span ? UINT64_MAX : offset + span; /* last byte */
	uint64_t npages = last / t->page_bytes - first + 1;
	if (npages > t->logical_pages)
		npages = t->logical_pages;
	if (npages > UINT32_MAX)
		npages = UINT32_MAX;
	first %= t->logical_pages;
	if (first + npages > t->logical_pages)
		first = t->logical_pages - npages;
	io->lpn = first;
	io->npages = (uint32_t)npages;
}

static void set_time(struct trace_source *t, struct io *io, uint64_t ns)
{
	if (!t->have_base) {
		t->have_base = true;
		t->base_ns = ns;
	}
	io->at = ns > t->base_ns ? ns - t->base_ns : 0;
}

static bool parse_msr(struct trace_source *t, struct io *io)
{
	uint64_t ticks, offset, size;
	char type[16];
	if (sscanf(t->line, "%" SCNu64 ",%*[^,],%*[^,],%15[^,],%" SCNu64 ",%" SCNu64, &ticks, type,
		   &offset, &size) != 4)
		return false;
	if (strcasecmp(type, "Read") == 0)
		io->op = IO_READ;
	else if (strcasecmp(type, "Write") == 0)
		io->op = IO_WRITE;
	else
		return false;
	set_range(t, io, offset, size);
	set_time(t, io, ticks * 100);
	return true;
}

static bool parse_blkparse(struct trace_source *t, struct io *io)
{
	double seconds;
	char action[8], rwbs[16];
	uint64_t sector;
	unsigned count;
	int fields = sscanf(t->line, "%*s %*u %*u %lf %*u %7s %15s %" SCNu64 " + %u", &seconds,
			    action, rwbs, &sector, &count);
	/* A time the nanosecond clock holds (NaN and negatives are no times). */
	if (fields < 3 || strcmp(action, "Q") != 0 || !(seconds >= 0 && seconds < 1.8e10))
		return false;
	if (fields == 5 && strchr(rwbs, 'D'))
		io->op = IO_TRIM;
	else if (fields == 5 && strchr(rwbs, 'W'))
		io->op = IO_WRITE;
	else if (fields == 5 && strchr(rwbs, 'R'))
		io->op = IO_READ;
	else if (strchr(rwbs, 'F'))
		io->op = IO_FLUSH;
	else
		return false;
	if (io->op != IO_FLUSH)
		set_range(t, io, sector * 512, (uint64_t)count * 512);
	else
		io->lpn = io->npages = 0;
	set_time(t, io, (uint64_t)(seconds * 1e9 + 0.5));
	return true;
}

static bool parse_fio(struct trace_source *t, struct io *io)
{
	char action[16];
	uint64_t ms = 0, offset = 0, length = 0;
	int fields;
	if (t->fio_version == 3)
		fields = sscanf(t->line, "%" SCNu64 " %*s %15s %" SCNu64 " %" SCNu64, &ms, action,
				&offset, &length) - 1;
	else
		fields = sscanf(t->line, "%*s %15s %" SCNu64 " %" SCNu64, action, &offset, &length);
	if (fields < 1)
		return false;
	if (strcmp(action, "sync") == 0 || strcmp(action, "datasync") == 0) {
		io->op = IO_FLUSH;
		io->lpn = io->npages = 0;
	} else if (fields == 3 && strcmp(action, "read") == 0) {
		io->op = IO_READ;
	} else if (fields == 3 && strcmp(action, "write") == 0) {
		io->op = IO_WRITE;
	} else if (fields == 3 && strcmp(action, "trim") == 0) {
		io->op = IO_TRIM;
	} else {
		return false; /* add/open/close/wait: nothing for the device */
	}
	if (io->op != IO_FLUSH)
		set_range(t, io, offset, length);
	set_time(t, io, ms * 1000000);
	return true;
}

static bool trace_next(struct io_source *base, struct io *io)
{
	struct trace_source *t = (struct trace_source *)base;
	while (getline(&t->line, &t->line_cap, t->file) > 0) {
		bool ok;
		if (t->format == TRACE_MSR)
			ok = parse_msr(t, io);
		else if (t->format == TRACE_BLKPARSE)
			ok = parse_blkparse(t, io);
		else
			ok = parse_fio(t, io);
		if (ok)
			return true;
		t->skipped++;
	}
	return false;
}

/* Guesses the format from the first line that is not blank. */
static enum trace_format detect_format(const char *line)
{
	if (strncmp(line, "fio version", 11) == 0)
		return TRACE_FIO;
	int commas = 0;
	for (const char *c = line; *c; c++)
		commas += *c == ',';
	return commas >= 5 ? TRACE_MSR : TRACE_BLKPARSE;
}

struct trace_source *trace_open(const struct sim_params *p, uint32_t page_bytes,
				uint64_t logical_pages, char *err, size_t errlen)
{
	struct trace_source *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->file = fopen(p->trace, "r");
	if (!t->file) {
		snprintf(err, errlen, "trace: %s: %s", p->trace, strerror(errno));
		free(t);
		return NULL;
	}
	t->page_bytes = page_bytes;
	t->logical_pages = logical_pages;
	t->format = (enum trace_format)p->trace_format;

	/* Peek at the first line to detect the format and the fio log version. */
	long start = ftell(t->file);
	if (getline(&t->line, &t->line_cap, t->file) > 0) {
		if (t->format == TRACE_AUTO)
			t->format = detect_format(t->line);
		if (t->format == TRACE_FIO) {
			if (sscanf(t->line, "fio version %d iolog", &t->fio_version) != 1) {
				snprintf(err, errlen, "trace: %s: no 'fio version N iolog' header",
					 p->trace);
				trace_close(t);
				return NULL;
			}
			start = ftell(t->file); /* the header is not a record */
		}
	}
	if (t->format == TRACE_AUTO)
		t->format = TRACE_BLKPARSE;
	fseek(t->file, start, SEEK_SET);

	t->base.next = trace_next;
	bool has_times = !(t->format == TRACE_FIO && t->fio_version < 3);
	if (p->trace_timing == TIMING_TIMESTAMPS && !has_times) {
		snprintf(err, errlen, "trace_timing=timestamps: fio iolog v%d has no timestamps",
			 t->fio_version);
		trace_close(t);
		return NULL;
	}
	t->base.open_loop = p->trace_timing == TIMING_QD ? false : has_times;
	return t;
}

struct io_source *trace_as_source(struct trace_source *t)
{
	return &t->base;
}

uint64_t trace_skipped(const struct trace_source *t)
{
	return t->skipped;
}

void trace_close(struct trace_source *t)
{
	if (!t)
		return;
	if (t->file)
		fclose(t->file);
	free(t->line);
	free(t);
}
