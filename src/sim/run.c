/* Synthetic workloads and the virtual-time loop that feeds I/Os to the model. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim_internal.h"
#include "util/util.h"

/* Uniform in [0, range) without division (Lemire's multiply-shift). */
static inline uint64_t uniform(uint64_t *state, uint64_t range)
{
	return (uint64_t)(((unsigned __int128)splitmix64(state) * range) >> 64);
}

static bool synthetic_next(struct io_source *base, struct io *io)
{
	struct synthetic_source *src = (struct synthetic_source *)base;
	uint64_t slot;
	if (src->random) {
		slot = uniform(&src->rng, src->slots);
	} else {
		slot = src->next_slot;
		if (++src->next_slot == src->slots)
			src->next_slot = 0;
	}
	if (src->read_fraction <= 0)
		io->op = IO_WRITE;
	else if (src->read_fraction >= 1)
		io->op = IO_READ;
	else
		io->op = (double)(splitmix64(&src->rng) >> 11) * 0x1.0p-53 < src->read_fraction
				 ? IO_READ
				 : IO_WRITE;
	io->lpn = slot * src->npages;
	io->npages = src->npages;
	io->handle = io->lpn >= src->handle1_from;
	io->at = 0;
	return true;
}

void synthetic_init(struct synthetic_source *src, bool random, double read_fraction,
		    uint32_t npages, uint64_t footprint_pages, uint64_t seed)
{
	memset(src, 0, sizeof(*src));
	src->base.next = synthetic_next;
	src->random = random;
	src->read_fraction = read_fraction;
	src->npages = npages;
	src->slots = footprint_pages / npages ? footprint_pages / npages : 1;
	src->rng = seed;
	src->handle1_from = UINT64_MAX;
}

static double unit_random(uint64_t *state) { return (double)(splitmix64(state) >> 11) * 0x1.0p-53; }

static bool two_stream_next(struct io_source *base, struct io *io)
{
	struct two_stream_source *src = (struct two_stream_source *)base;
	io->op = IO_WRITE;
	io->at = 0;
	if (unit_random(&src->rng) < src->hot_io_fraction) {
		io->handle = 0;
		io->npages = src->hot_npages;
		io->lpn = uniform(&src->rng, src->hot_slots) * src->hot_npages;
		return true;
	}
	if (src->log_next + src->log_npages > src->log_end)
		src->log_next = src->log_first;
	io->handle = 1;
	io->npages = src->log_npages;
	io->lpn = src->log_next;
	src->log_next += src->log_npages;
	return true;
}

void two_stream_init(struct two_stream_source *src, uint64_t hot_pages, uint32_t hot_npages,
		     uint64_t footprint_pages, uint32_t log_npages, double hot_fraction,
		     uint64_t seed)
{
	memset(src, 0, sizeof(*src));
	src->base.next = two_stream_next;
	src->hot_npages = hot_npages;
	src->hot_slots = hot_pages / hot_npages ? hot_pages / hot_npages : 1;
	src->log_first = src->log_next = src->hot_slots * hot_npages;
	src->log_end = footprint_pages;
	src->log_npages = log_npages;
	if (src->log_first + log_npages > footprint_pages) /* no room for a log: all hot */
		hot_fraction = 1;
	/* Bytes to I/Os: a hot I/O is hot_npages, a log I/O log_npages. */
	double hot_ios = hot_fraction / hot_npages, log_ios = (1 - hot_fraction) / log_npages;
	src->hot_io_fraction = hot_ios / (hot_ios + log_ios);
	src->rng = seed;
}

uint64_t histogram_quantile(const struct histogram *h, double q)
{
	if (h->count == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen > rank) {
			if (i < (1u << HIST_SUB_BITS))
				return i;
			unsigned shift = (i >> HIST_SUB_BITS) - 1;
			uint64_t low = ((uint64_t)(1u << HIST_SUB_BITS) + (i & ((1u << HIST_SUB_BITS) - 1)))
				       << shift;
			uint64_t mid = low + (((uint64_t)1 << shift) >> 1);
			return mid < h->max ? mid : h->max;
		}
	}
	return h->max;
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct in_flight {
	uint64_t done, issued;
};

/* Min-heap on completion time: the next event of a closed-loop run. */
struct event_heap {
	struct in_flight *items;
	uint32_t count;
};

static void heap_push(struct event_heap *h, struct in_flight item)
{
	uint32_t i = h->count++;
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (h->items[parent].done <= item.done)
			break;
		h->items[i] = h->items[parent];
		i = parent;
	}
	h->items[i] = item;
}

/* Puts `item` in the root's place and sifts it down. */
static void heap_sift_down(struct event_heap *h, struct in_flight item)
{
	struct in_flight *items = h->items;
	uint32_t i = 0, n = h->count;
	for (;;) {
		uint32_t child = 2 * i + 1;
		if (child >= n)
			break;
		/* Without a branch: which child is earlier is a coin toss. items[n] exists. */
		child += (child + 1 < n) & (items[child + 1].done < items[child].done);
		if (items[child].done >= item.done)
			break;
		items[i] = items[child];
		i = child;
	}
	items[i] = item;
}

static void heap_pop(struct event_heap *h)
{
	struct in_flight last = h->items[--h->count];
	if (h->count)
		heap_sift_down(h, last);
}

struct progress {
	const char *label;
	bool enabled, tty;
	double start, last;
	uint64_t max_bytes, max_ns;
};

static void progress_tick(struct progress *p, const struct phase_result *r, uint64_t now)
{
	double t = wall_now();
	if (!p->enabled || t - p->start < 2.0 || t - p->last < (p->tty ? 1.0 : 10.0))
		return;
	p->last = t;
	double done = 0;
	if (p->max_bytes)
		done = (double)r->bytes / (double)p->max_bytes;
	if (p->max_ns) {
		double by_time = (double)(now - r->sim_start_ns) / (double)p->max_ns;
		done = by_time > done ? by_time : done;
	}
	fprintf(stderr, "%s%s: %5.1f%%  %" PRIu64 " I/Os  %.3f s simulated  %.1f s wall%s",
		p->tty ? "\r" : "", p->label, done * 100, r->ios,
		(double)(now - r->sim_start_ns) * 1e-9, t - p->start, p->tty ? "   " : "\n");
	fflush(stderr);
}

/*
 * I/Os are taken from the source ahead of their issue, to fetch what the model will look up
 * for them into the cache meanwhile: their mapping entries LOOKAHEAD_IOS I/Os ahead, then,
 * once those are in, the reverse-map entries and block records a write changes, P2L_AHEAD
 * I/Os ahead (ssd_prefetch_l2p, ssd_prefetch_p2l). On a large device each would otherwise be
 * a cache miss that nothing overlaps. Taking I/Os early changes nothing else.
 */
#define LOOKAHEAD_IOS 16
#define P2L_AHEAD 4

struct lookahead {
	struct io_source *src;
	struct ssd *ssd; /* NULL: no prefetch (zones) */
	struct io ios[LOOKAHEAD_IOS];
	uint32_t head, count;
	bool ended;
};

static bool next_io(struct lookahead *la, struct io *io)
{
	while (la->count < LOOKAHEAD_IOS && !la->ended) {
		struct io *slot = &la->ios[(la->head + la->count) % LOOKAHEAD_IOS];
		slot->handle = 0; /* sources without placement leave it */
		if (!la->src->next(la->src, slot)) {
			la->ended = true;
			break;
		}
		if (slot->op != IO_FLUSH && la->ssd)
			ssd_prefetch_l2p(la->ssd, slot->lpn, slot->npages);
		la->count++;
	}
	if (la->count == 0)
		return false;
	if (la->count > P2L_AHEAD) {
		const struct io *soon = &la->ios[(la->head + P2L_AHEAD) % LOOKAHEAD_IOS];
		if ((soon->op == IO_WRITE || soon->op == IO_TRIM) && la->ssd)
			ssd_prefetch_p2l(la->ssd, soon->lpn, soon->npages);
	}
	*io = la->ios[la->head];
	la->head = (la->head + 1) % LOOKAHEAD_IOS;
	la->count--;
	return true;
}

static inline uint64_t run_io(struct sim_target *t, const struct io *io, uint64_t at,
			      struct phase_result *r, uint32_t page_bytes, struct lat_parts *parts)
{
	struct ssd *ssd = t->ssd;
	if (!ssd) {
		if (io->op == IO_READ || io->op == IO_WRITE) {
			r->reads += io->op == IO_READ;
			r->writes += io->op == IO_WRITE;
			r->bytes += (uint64_t)io->npages * page_bytes;
		}
		return target_zoned_io(t, io->op, io->lpn, io->npages, at, parts);
	}
	switch (io->op) {
	case IO_READ:
		r->reads++;
		r->bytes += (uint64_t)io->npages * page_bytes;
		return ssd_read(ssd, io->lpn, io->npages, at, parts);
	case IO_WRITE:
		r->writes++;
		r->bytes += (uint64_t)io->npages * page_bytes;
		/* With reclaim groups, the LBA space is split among them in equal ranges. */
		return ssd_write_placed(ssd, io->lpn, io->npages, io->handle,
					r->groups > 1 ? (uint32_t)(io->lpn * r->groups / r->logical)
						      : 0,
					false, at, parts);
	case IO_TRIM:
		return ssd_trim(ssd, io->lpn, io->npages, at, parts);
	default:
		return ssd_flush(ssd, at, parts);
	}
}

/* Issues `io` at `at`; returns when it completes. The breakdown is known at once, so it is
 * recorded here rather than at completion. */
static inline uint64_t issue(struct sim_target *t, const struct io *io, uint64_t at,
			     struct phase_result *r, uint32_t page_bytes)
{
	r->ios++;
	struct breakdown *b = r->breakdown;
	if (!b)
		return run_io(t, io, at, r, page_bytes, NULL);
	struct lat_parts parts = {{0}};
	uint64_t done = run_io(t, io, at, r, page_bytes, &parts);
	uint64_t *band = b->band_sum[histogram_index(done - at)];
	for (int i = 0; i < LAT_PARTS; i++) {
		/* Most parts of most commands are zero: those are counted once, at the end. */
		if (parts.ns[i])
			histogram_record(&b->part[i], parts.ns[i]);
		band[i] += parts.ns[i];
	}
	return done;
}

/* Adds the zero parts issue() left out: every command has every part. */
static void breakdown_count_zeros(struct breakdown *b, uint64_t ios)
{
	for (int i = 0; i < LAT_PARTS; i++) {
		b->part[i].buckets[0] += ios - b->part[i].count;
		b->part[i].count = ios;
	}
}

void breakdown_band(const struct breakdown *b, const struct histogram *latency, double lo,
		    double hi, double mean_ns[LAT_PARTS])
{
	/* The bands follow bucket edges: the buckets holding ranks [lo, hi) of the commands. */
	uint64_t first = (uint64_t)(lo * (double)latency->count);
	uint64_t last = (uint64_t)(hi * (double)latency->count);
	uint64_t seen = 0, counted = 0, sum[LAT_PARTS] = {0};
	for (unsigned k = 0; k < HIST_BUCKETS && seen < last; k++) {
		uint64_t n = latency->buckets[k];
		if (n && seen + n > first) {
			counted += n;
			for (int i = 0; i < LAT_PARTS; i++)
				sum[i] += b->band_sum[k][i];
		}
		seen += n;
	}
	for (int i = 0; i < LAT_PARTS; i++)
		mean_ns[i] = counted ? (double)sum[i] / (double)counted : 0;
}

static void fdp_counters(const struct sim_target *t, const struct phase_result *r,
			 struct ssd_fdp_counters *out)
{
	for (uint32_t h = 0; t->ssd && h < r->handles; h++)
		ssd_fdp_handle_counters(t->ssd, h, &out[h]);
	for (uint32_t g = 0; t->ssd && g < r->groups; g++)
		ssd_fdp_group_counters(t->ssd, g, &out[r->handles + g]);
}

void run_phase(struct sim_target *target, struct io_source *src, uint32_t queue_depth,
	       uint64_t max_bytes, uint64_t max_ns, uint64_t *now, const char *label, bool progress,
	       struct phase_result *r)
{
	uint32_t page_bytes = target->page_bytes;
	struct histogram *latency = r->latency;
	struct breakdown *breakdown = r->breakdown;
	struct ssd_fdp_counters *fdp_before = r->fdp_before, *fdp_after = r->fdp_after;
	uint32_t handles = r->handles, groups = r->groups;
	memset(r, 0, sizeof(*r));
	r->latency = latency;
	r->breakdown = breakdown;
	r->handles = handles;
	r->groups = groups;
	r->logical = target->logical_pages;
	r->fdp_before = fdp_before;
	r->fdp_after = fdp_after;
	target_counters(target, &r->before);
	fdp_counters(target, r, fdp_before);
	r->sim_start_ns = *now;
	struct progress p = {label, progress, isatty(STDERR_FILENO), wall_now(), 0, max_bytes,
			     max_ns};
	p.last = p.start;
	uint64_t start = *now, end = *now;
	struct io io;
	struct lookahead lookahead = {.src = src, .ssd = target->ssd};

#define MAY_ISSUE(t)                                                                               \
	((!max_bytes || r->bytes < max_bytes) && (!max_ns || (t) - start < max_ns) &&              \
	 (!target->until_read_only || !ssd_read_only(target->ssd)) && next_io(&lookahead, &io))

	if (src->open_loop) {
		uint64_t last_issue = start;
		while (MAY_ISSUE(last_issue)) {
			uint64_t at = start + io.at > last_issue ? start + io.at : last_issue;
			uint64_t done = issue(target, &io, at, r, page_bytes);
			histogram_record(latency, done - at);
			last_issue = at;
			end = done > end ? done : end;
			if ((r->ios & 0xffff) == 0)
				progress_tick(&p, r, at);
		}
	} else {
		struct event_heap heap = {calloc(queue_depth + 1, sizeof(struct in_flight)), 0};
		if (!heap.items)
			abort();
		for (uint32_t i = 0; i < queue_depth && MAY_ISSUE(start); i++)
			heap_push(&heap, (struct in_flight){
					     issue(target, &io, start, r, page_bytes), start});
		while (heap.count) {
			struct in_flight ev = heap.items[0];
			histogram_record(latency, ev.done - ev.issued);
			end = ev.done > end ? ev.done : end;
			/* The I/O this completion lets in takes its place: one sift instead of two. */
			if (MAY_ISSUE(ev.done))
				heap_sift_down(&heap, (struct in_flight){issue(target, &io, ev.done,
									       r, page_bytes),
									 ev.done});
			else
				heap_pop(&heap);
			if ((r->ios & 0xffff) == 0)
				progress_tick(&p, r, ev.done);
		}
		free(heap.items);
	}
#undef MAY_ISSUE
	if (p.enabled && p.last > p.start && p.tty)
		fprintf(stderr, "\n");
	if (r->breakdown)
		breakdown_count_zeros(r->breakdown, r->ios);
	*now = end;
	r->sim_end_ns = end;
	r->wall_seconds = wall_now() - p.start;
	target_counters(target, &r->after);
	fdp_counters(target, r, fdp_after);
}
