/*
 * Per-command traces: each reactor appends the commands it answers to its own
 * bounded ring (single producer, no lock); the statistics thread drains the
 * rings into the trace file.  A full ring drops the event and counts it, so a
 * slow disk costs trace events, never reactor time.
 *
 * The rings of a namespace are allocated the first time it is traced and kept
 * until the daemon stops, so a reactor that read the sink pointer just before
 * tracing was switched off never writes into freed memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "runtime/reactor.h"
#include "stats/internal.h"
#include "util/util.h"

#define TRACE_RING_EVENTS 8192u /* a power of two: 10 ms of 800k IOPS per reactor */
#define TRACE_FILE_BUFFER (1u << 20)

struct trace_ring {
	atomic_uint_fast64_t head;    /* the reactor's */
	atomic_uint_fast64_t dropped; /* the reactor's */
	char pad[48];
	atomic_uint_fast64_t tail; /* the statistics thread's */
	struct nvme_trace_event events[TRACE_RING_EVENTS];
} __attribute__((aligned(64)));

struct stats_trace {
	struct nvme_trace_sink sink;
	struct stats_ns *sns;
	struct trace_ring *rings;
	unsigned nrings;
	FILE *out;
	bool json;
	bool active;
	char path[4096];
	uint64_t start_ns;
	uint64_t events;
	uint64_t dropped_before; /* the rings' drop counters when this trace started */
	uint64_t fault_cursor;	 /* the target's fault events written so far */
};

static uint64_t load(const atomic_uint_fast64_t *v, memory_order order)
{
	return atomic_load_explicit(v, order);
}

/* On a reactor: must stay short and never block. */
static void trace_record(struct nvme_trace_sink *sink, unsigned shard, const struct nvme_trace_event *ev)
{
	struct stats_trace *t = (struct stats_trace *)sink;
	struct trace_ring *r = &t->rings[shard];
	uint64_t head = load(&r->head, memory_order_relaxed);
	if (head - load(&r->tail, memory_order_acquire) >= TRACE_RING_EVENTS) {
		hist_shard_bump(&r->dropped, 1);
		return;
	}
	r->events[head & (TRACE_RING_EVENTS - 1)] = *ev;
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

static const char *opcode_name(uint8_t opcode)
{
	switch (opcode) {
	case nvme_cmd_flush: return "flush";
	case nvme_cmd_write: return "write";
	case nvme_cmd_read: return "read";
	case nvme_cmd_write_uncor: return "write_uncor";
	case nvme_cmd_compare: return "compare";
	case nvme_cmd_write_zeroes: return "write_zeroes";
	case nvme_cmd_dsm: return "dsm";
	case nvme_cmd_verify: return "verify";
	case nvme_cmd_zone_mgmt_send: return "zone_mgmt_send";
	case nvme_cmd_zone_mgmt_recv: return "zone_mgmt_recv";
	case nvme_cmd_zone_append: return "zone_append";
	default: return "other";
	}
}

/* The breakdown's nonzero parts: `,"parts_ns":{"nand":60000,...}` or ` nand=60.000 ...` (us). */
static void write_parts(FILE *out, const struct lat_parts *parts, bool json)
{
	bool first = true;
	for (unsigned p = 0; p < LAT_PARTS; p++) {
		if (!parts->ns[p])
			continue;
		if (json)
			fprintf(out, "%s\"%s\":%" PRIu64, first ? ",\"parts_ns\":{" : ",",
				lat_part_names[p], parts->ns[p]);
		else
			fprintf(out, " %s=%.3f", lat_part_names[p], (double)parts->ns[p] / 1e3);
		first = false;
	}
	if (json && !first)
		fputc('}', out);
}

/* What a fault did to the command, after its columns: nothing when none acted. */
static void write_fault(struct stats_trace *t, const struct nvme_trace_event *ev)
{
	if (!ev->fault_type)
		return;
	const char *type = fault_type_name((enum fault_type)(ev->fault_type - 1));
	if (t->json)
		fprintf(t->out, ",\"fault\":\"%s\",\"fault_id\":%u,\"fault_ns\":%" PRIu64 "%s", type,
			ev->fault_id, ev->fault_ns, ev->unanswered ? ",\"answered\":false" : "");
	else
		fprintf(t->out, " %s#%u +%.3f%s", type, ev->fault_id, (double)ev->fault_ns / 1e3,
			ev->unanswered ? " unanswered" : "");
}

static void write_event(struct stats_trace *t, const struct nvme_trace_event *ev)
{
	int64_t at = (int64_t)(ev->submit_ns - t->start_ns);
	uint64_t model = ev->done_ns - ev->submit_ns, total = ev->answered_ns - ev->submit_ns;
	if (t->json)
		fprintf(t->out,
			"{\"t_ns\":%" PRId64 ",\"qid\":%u,\"opcode\":\"%s\",\"opc\":%u,\"nsid\":%u,"
			"\"slba\":%" PRIu64 ",\"nlb\":%u,\"status\":%u,\"model_ns\":%" PRIu64
			",\"total_ns\":%" PRIu64,
			at, ev->qid, opcode_name(ev->opcode), ev->opcode, ev->nsid, ev->slba,
			ev->nlb, ev->status, model, total);
	else
		fprintf(t->out, "%14.3f %5u %-14s %5u %14" PRIu64 " %6u 0x%04x %12.3f %12.3f",
			(double)at / 1e3, ev->qid, opcode_name(ev->opcode), ev->nsid, ev->slba,
			ev->nlb, ev->status, (double)model / 1e3, (double)total / 1e3);
	write_parts(t->out, &ev->parts, t->json);
	write_fault(t, ev);
	fputs(t->json ? "}\n" : "\n", t->out);
	t->events++;
}

/* JSON string contents: the event texts are ours, but quote what needs it anyway. */
static void json_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, out);
	}
}

/* What faults did that concerns the traced namespace and no command line shows. */
static void write_fault_events(struct stats_trace *t)
{
	struct nvme_target *target = t->sns->owner->target;
	struct nvme_fault_event events[32];
	size_t n;
	while (target && (n = nvme_target_fault_events(target, &t->fault_cursor, events,
						      ARRAY_SIZE(events)))) {
		for (size_t i = 0; i < n; i++) {
			const struct nvme_fault_event *e = &events[i];
			if ((e->subsys && e->subsys != t->sns->subsys) ||
			    (e->nsid && e->nsid != t->sns->nsid))
				continue;
			int64_t at = (int64_t)(e->t_ns - t->start_ns);
			if (t->json) {
				fprintf(t->out, "{\"t_ns\":%" PRId64 ",\"event\":\"fault\",\"fault\":\"%s\","
					"\"fault_id\":%u,\"what\":\"", at, fault_type_name(e->type),
					e->fault_id);
				json_text(t->out, e->text);
				fputs("\"}\n", t->out);
			} else {
				fprintf(t->out, "%14.3f fault %s#%u: %s\n", (double)at / 1e3,
					fault_type_name(e->type), e->fault_id, e->text);
			}
			t->events++;
		}
	}
}

static uint64_t dropped_total(const struct stats_trace *t)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < t->nrings; i++)
		n += load(&t->rings[i].dropped, memory_order_relaxed);
	return n;
}

static struct stats_trace *trace_alloc(struct stats_ns *sns)
{
	struct stats_trace *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->nrings = sns->recorder->nshards;
	t->rings = mmap(NULL, t->nrings * sizeof(*t->rings), PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->rings == MAP_FAILED) {
		free(t);
		return NULL;
	}
	t->sink.record = trace_record;
	t->sns = sns;
	return t;
}

int stats_trace_start(struct stats_ns *sns, const char *path, bool json, char *err, size_t errlen)
{
	if (sns->trace && sns->trace->active)
		return errorf(err, errlen, "namespace %u is already traced to %s", sns->nsid,
			      sns->trace->path);
	if (path[0] != '/')
		return errorf(err, errlen, "trace file '%s' is not an absolute path", path);
	if (!sns->trace && !(sns->trace = trace_alloc(sns)))
		return errorf(err, errlen, "out of memory for trace rings");
	struct stats_trace *t = sns->trace;
	t->out = fopen(path, "w");
	if (!t->out)
		return errorf(err, errlen, "cannot open %s: %s", path, strerror(errno));
	setvbuf(t->out, NULL, _IOFBF, TRACE_FILE_BUFFER);
	snprintf(t->path, sizeof(t->path), "%s", path);
	t->json = json;
	t->events = 0;
	t->start_ns = clock_now_ns();
	/* Whatever a reactor wrote after the last trace stopped belongs to no trace. */
	for (unsigned i = 0; i < t->nrings; i++)
		atomic_store_explicit(&t->rings[i].tail, load(&t->rings[i].head, memory_order_acquire),
				      memory_order_release);
	t->dropped_before = dropped_total(t);
	if (sns->owner->target)
		nvme_target_fault_events(sns->owner->target, &t->fault_cursor, NULL, 0);
	if (!json)
		fprintf(
		    t->out,
		    "# nvemu trace of namespace %u in %s; times in microseconds from the trace start;\n"
		    "# then the model's latency breakdown, its nonzero parts as part=us (they add up\n"
		    "# to the modelled latency before the transport floor comes off), then what a\n"
		    "# fault did: fault#id +added_us\n"
		    "# %12s %5s %-14s %5s %14s %6s %6s %12s %12s %s\n",
		    sns->nsid, sns->subsys_nqn, "submit_us", "qid", "opcode", "nsid", "slba", "nlb",
		    "status", "model_us", "total_us", "parts [fault#id +added_us]");
	t->active = true;
	atomic_store_explicit(&sns->recorder->trace, &t->sink, memory_order_release);
	return 0;
}

bool stats_trace_flush(struct stats_ns *sns)
{
	struct stats_trace *t = sns->trace;
	if (!t || !t->active)
		return false;
	for (unsigned i = 0; i < t->nrings; i++) {
		struct trace_ring *r = &t->rings[i];
		uint64_t head = load(&r->head, memory_order_acquire);
		uint64_t tail = load(&r->tail, memory_order_relaxed);
		for (; tail != head; tail++)
			write_event(t, &r->events[tail & (TRACE_RING_EVENTS - 1)]);
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
	write_fault_events(t);
	fflush(t->out);
	return true;
}

void stats_trace_stop(struct stats_ns *sns)
{
	struct stats_trace *t = sns->trace;
	if (!t || !t->active)
		return;
	atomic_store_explicit(&sns->recorder->trace, NULL, memory_order_release);
	stats_trace_flush(sns);
	fclose(t->out);
	t->out = NULL;
	t->active = false;
}

bool stats_trace_active(const struct stats_ns *sns, const char **path, uint64_t *events,
			uint64_t *dropped)
{
	const struct stats_trace *t = sns->trace;
	*path = t ? t->path : NULL;
	*events = t ? t->events : 0;
	*dropped = t ? dropped_total(t) - t->dropped_before : 0;
	return t && t->active;
}

void stats_trace_destroy(struct stats_trace *t)
{
	if (!t)
		return;
	stats_trace_stop(t->sns);
	munmap(t->rings, t->nrings * sizeof(*t->rings));
	free(t);
}
