/*
 * Scripted faults in the controller core (nvme/fault.c, fault_io.c): the statuses, the error log,
 * SMART, the events and logs a host sees, what the trace records, and the same seed giving the
 * same faults.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "nvme/internal.h"
#include "util/util.h"
#include "target_harness.h"

#define ST_INVALID_NS 0x400B
#define ST_WRITE_FAULT (0x4000 | NVME_SC_WRITE_FAULT)
#define ST_READ_ERROR (0x4000 | NVME_SC_READ_ERROR)
#define ST_READ_ONLY (0x4000 | NVME_SC_READ_ONLY)
#define HELD 0xFFFF /* what th_exec says of a command that was not answered */
#define MDTS_BYTES (4096u << TH_MDTS)

static uint64_t le(const uint8_t *p, size_t at, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = bytes; i-- > 0;)
		v = v << 8 | p[at + i];
	return v;
}

struct fixture {
	struct th_env *env;
	struct th_queue admin, io;
	uint16_t cntlid;
	uint8_t *buf;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct th_env_params p = {.allow_any_host = true};
	f->env = th_env_create(&p);
	if (!f->env)
		return -1;
	th_queue_init(&f->admin, f->env);
	th_queue_init(&f->io, f->env);
	if (th_bring_up(&f->admin, &f->io, &f->cntlid))
		return -1;
	f->buf = malloc(MDTS_BYTES);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	th_queue_close(&f->io);
	th_queue_close(&f->admin);
	th_env_destroy(f->env);
	free(f->buf);
	free(f);
	return 0;
}

static uint32_t add(struct fixture *f, const char *text)
{
	struct fault_spec spec;
	char err[256];
	uint32_t id = 0;
	if (fault_spec_parse(text, &spec, err, sizeof(err)) ||
	    nvme_target_add_fault(f->env->target, &spec, &id, err, sizeof(err)))
		fail_msg("%s: %s", text, err);
	return id;
}

static uint16_t io(struct fixture *f, uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	unsigned lba = nsid == 2 ? 512 : 4096;
	struct nvme_sqe sqe = th_rw_sqe(opcode, nsid, slba, nlb, lba);
	bool out = opcode == nvme_cmd_read;
	return th_exec(&f->io, &sqe, out ? NULL : f->buf, out ? 0 : nlb * lba, out ? f->buf : NULL,
		       out ? nlb * lba : 0, NULL);
}

static uint16_t get_log(struct fixture *f, uint8_t lid, uint32_t nsid, bool rae, void *out,
			uint32_t len)
{
	struct nvme_sqe sqe = th_get_log_sqe(lid, nsid, len, 0);
	if (rae)
		sqe.cdw10 |= NVME_GET_LOG_RAE << 8;
	return th_exec(&f->admin, &sqe, NULL, 0, out, len, NULL);
}

static void smart(struct fixture *f, uint32_t nsid, uint8_t log[512])
{
	assert_int_equal(get_log(f, NVME_LOG_SMART, nsid, false, log, 512), 0);
}

/* Runs what was posted to the admin queue's thread (events, fatal status). */
static void run_posted(struct fixture *f) { reactor_poll(f->env->reactor, 0); }

static const struct nvme_fault_status *find(const struct nvme_fault_status *list, size_t n,
					    uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].id == id)
			return &list[i];
	fail_msg("no fault %u in the list", id);
	return NULL;
}

static void counts(struct fixture *f, uint32_t id, uint64_t matched, uint64_t injected)
{
	size_t n;
	struct nvme_fault_status *list = nvme_target_list_faults(f->env->target, &n);
	const struct nvme_fault_status *st = find(list, n, id);
	assert_int_equal(st->matched, matched);
	assert_int_equal(st->injected, injected);
	free(list);
}

static void test_read_error_is_sticky_until_written(void **state)
{
	struct fixture *f = *state;
	uint32_t id = add(f, "read-error nsid=1 lba=100 count=4");
	assert_int_equal(io(f, nvme_cmd_read, 1, 0, 8), 0);
	assert_int_equal(io(f, nvme_cmd_read, 1, 104, 8), 0);
	assert_int_equal(io(f, nvme_cmd_read, 1, 96, 8), ST_READ_ERROR);
	assert_int_equal(io(f, nvme_cmd_read, 1, 103, 1), ST_READ_ERROR);

	/* The error log names the namespace and the first bad block, no SQE field. */
	uint8_t entry[64];
	assert_int_equal(get_log(f, NVME_LOG_ERROR, 0, false, entry, sizeof(entry)), 0);
	assert_int_equal(le(entry, 12, 2) >> 1, ST_READ_ERROR);
	assert_int_equal(le(entry, 14, 2), 0xFFFF);
	assert_int_equal(le(entry, 16, 8), 103);
	assert_int_equal(le(entry, 24, 4), 1);
	uint8_t log[512];
	smart(f, 0xFFFFFFFF, log);
	assert_int_equal(le(log, 160, 8), 2); /* Media and Data Integrity Errors */
	smart(f, 2, log);
	assert_int_equal(le(log, 160, 8), 0);

	/* Written blocks read again; the rest stay bad. */
	assert_int_equal(io(f, nvme_cmd_write, 1, 99, 2), 0);
	assert_int_equal(io(f, nvme_cmd_read, 1, 100, 1), 0);
	assert_int_equal(io(f, nvme_cmd_read, 1, 96, 8), ST_READ_ERROR);
	assert_int_equal(get_log(f, NVME_LOG_ERROR, 0, false, entry, sizeof(entry)), 0);
	assert_int_equal(le(entry, 16, 8), 101);
	struct nvme_sqe wz = th_rw_sqe(nvme_cmd_write_zeroes, 1, 101, 3, 4096);
	th_sgl_transport(&wz, 0);
	assert_int_equal(th_exec(&f->io, &wz, NULL, 0, NULL, 0, NULL), 0);
	assert_int_equal(io(f, nvme_cmd_read, 1, 96, 8), 0);
	counts(f, id, 5, 3);

	/* Cleared, the fault acts no more. */
	assert_int_equal(nvme_target_clear_faults(f->env->target, id, NULL, 0), 1);
	assert_int_equal(nvme_target_clear_faults(f->env->target, id, NULL, 0), -1);
	assert_int_equal(atomic_load(&f->env->target->faults.attention), 0);
}

/* Which of 400 reads of one queue fail, as a bit string. */
static void failures(struct fixture *f, const char *fault, char out[401])
{
	uint32_t id = add(f, fault);
	for (unsigned i = 0; i < 400; i++)
		out[i] = io(f, nvme_cmd_read, 1, (i * 37) % 4000, 1) ? '1' : '0';
	out[400] = '\0';
	assert_int_equal(nvme_target_clear_faults(f->env->target, id, NULL, 0), 1);
}

static void test_same_seed_same_faults(void **state)
{
	struct fixture *f = *state;
	char a[401], b[401], c[401];
	failures(f, "read-error nsid=1 probability=0.1 seed=42", a);
	/* A new fault starts with a good map: only its own draws decide. */
	failures(f, "read-error nsid=1 probability=0.1 seed=42", b);
	failures(f, "read-error nsid=1 probability=0.1 seed=43", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	unsigned ones = 0;
	for (unsigned i = 0; i < 400; i++)
		ones += a[i] == '1';
	assert_in_range(ones, 20, 70);
	/* after= lets the first reads through, times= stops it. */
	failures(f, "write-error nsid=1 op=write", a); /* no write: no failure */
	assert_null(strchr(a, '1'));
	failures(f, "read-error nsid=1 after=10 times=2", a);
	assert_string_equal(strchr(a, '1'), strstr(a, "11"));
	assert_int_equal(strchr(a, '1') - a, 10);
}

static void test_write_error_keeps_old_data(void **state)
{
	struct fixture *f = *state;
	memset(f->buf, 0x5A, 4096);
	assert_int_equal(io(f, nvme_cmd_write, 1, 7, 1), 0);
	uint32_t id = add(f, "write-error nsid=1 lba=7 count=1 dnr=0");
	memset(f->buf, 0xA5, 4096);
	assert_int_equal(io(f, nvme_cmd_write, 1, 6, 2), NVME_SC_WRITE_FAULT);
	assert_int_equal(io(f, nvme_cmd_write, 1, 8, 1), 0);
	assert_int_equal(io(f, nvme_cmd_read, 1, 7, 1), 0);
	assert_int_equal(f->buf[0], 0x5A);
	uint8_t entry[64];
	assert_int_equal(get_log(f, NVME_LOG_ERROR, 0, false, entry, sizeof(entry)), 0);
	assert_int_equal(le(entry, 16, 8), 7);
	counts(f, id, 1, 1);
}

static void test_read_only_and_spare_low(void **state)
{
	struct fixture *f = *state;
	uint8_t log[512];
	uint32_t ro = add(f, "read-only");
	assert_int_equal(io(f, nvme_cmd_write, 1, 0, 1), ST_READ_ONLY);
	assert_int_equal(io(f, nvme_cmd_write, 2, 0, 1), ST_READ_ONLY);
	assert_int_equal(io(f, nvme_cmd_read, 1, 0, 1), 0);
	smart(f, 0xFFFFFFFF, log);
	assert_int_equal(log[0], NVME_SMART_CRIT_MEDIA);
	uint32_t spare = add(f, "spare-low spare=3");
	smart(f, 0xFFFFFFFF, log);
	assert_int_equal(log[0], NVME_SMART_CRIT_MEDIA | NVME_SMART_CRIT_SPARE);
	assert_int_equal(log[3], 3);  /* Available Spare */
	assert_int_equal(log[4], 10); /* its threshold */
	nvme_target_clear_faults(f->env->target, ro, NULL, 0);
	assert_int_equal(io(f, nvme_cmd_write, 1, 0, 1), 0);
	nvme_target_clear_faults(f->env->target, spare, NULL, 0);
	smart(f, 0xFFFFFFFF, log);
	assert_int_equal(log[0], 0);
	assert_int_equal(log[3], 100);
	/* One namespace read-only: the other takes writes. */
	add(f, "read-only nsid=2");
	assert_int_equal(io(f, nvme_cmd_write, 1, 0, 1), 0);
	assert_int_equal(io(f, nvme_cmd_write, 2, 0, 1), ST_READ_ONLY);
}

/* A command delayed by a fault completes from the reactor's timer, no earlier. */
static uint64_t delayed_read(struct fixture *f, uint64_t slba)
{
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_read, 1, slba, 1, 4096);
	uint64_t t0 = clock_now_ns();
	struct th_req *req = th_submit(&f->io, &sqe, NULL, 0);
	while (!req->completions)
		reactor_poll(f->env->reactor, 1000000);
	uint64_t took = clock_now_ns() - t0;
	assert_int_equal(th_status(req), 0);
	th_req_free(&f->io, req);
	return took;
}

static void test_latency_and_read_retry(void **state)
{
	struct fixture *f = *state;
	uint32_t id = add(f, "latency op=read latency_us=3000");
	assert_true(delayed_read(f, 0) >= 3000000);
	assert_int_equal(io(f, nvme_cmd_write, 1, 0, 1), 0); /* op=read: writes untouched */
	nvme_target_clear_faults(f->env->target, id, NULL, 0);
	add(f, "read-retry nsid=1 lba=10 count=1 latency_us=2000");
	assert_true(delayed_read(f, 10) >= 2000000);
	assert_int_equal(io(f, nvme_cmd_read, 1, 11, 1), 0); /* answered at once */
}

static void test_timeout_holds_one_command(void **state)
{
	struct fixture *f = *state;
	uint32_t id = add(f, "timeout op=read after=2");
	assert_int_equal(io(f, nvme_cmd_read, 1, 0, 1), 0);
	assert_int_equal(io(f, nvme_cmd_read, 1, 0, 1), 0);
	struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_read, 1, 0, 1, 4096);
	struct th_req *held = th_submit(&f->io, &sqe, NULL, 0);
	reactor_poll(f->env->reactor, 0);
	assert_int_equal(held->completions, 0);
	assert_false(reactor_timer_armed(&held->nvme.due));
	assert_int_equal(io(f, nvme_cmd_read, 1, 0, 1), 0); /* times=1: spent */
	counts(f, id, 4, 1);
	/* The queue closing forgets it (teardown would too). */
	nvme_req_cancel(&held->nvme);
	th_req_free(&f->io, held);
}

static uint32_t csts(struct fixture *f)
{
	struct nvme_sqe sqe = th_property_get_sqe(NVME_REG_CSTS, false);
	uint64_t v = 0;
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, &v), 0);
	return (uint32_t)v;
}

static void test_cfs_until_reset(void **state)
{
	struct fixture *f = *state;
	add(f, "cfs");
	run_posted(f);
	assert_true(csts(f) & NVME_CSTS_CFS);
	/* Nothing but property commands is answered. */
	assert_int_equal(io(f, nvme_cmd_read, 1, 0, 1), HELD);
	struct nvme_sqe id = th_identify_sqe(NVME_ID_CNS_CTRL, 0);
	assert_int_equal(th_exec(&f->admin, &id, NULL, 0, NULL, 0, NULL), HELD);
	assert_int_equal(atomic_load(&f->env->target->faults.attention), 1); /* the fatal controller */
	/* The reset clears it. */
	struct nvme_sqe off = th_property_set_sqe(NVME_REG_CC, 0);
	assert_int_equal(th_exec(&f->admin, &off, NULL, 0, NULL, 0, NULL), 0);
	assert_false(csts(f) & NVME_CSTS_CFS);
	assert_int_equal(th_enable(&f->admin), 0);
	assert_int_equal(io(f, nvme_cmd_read, 1, 0, 1), 0);
	assert_int_equal(atomic_load(&f->env->target->faults.attention), 0);
}

static void test_cfs_on_a_command(void **state)
{
	struct fixture *f = *state;
	add(f, "cfs op=write after=1");
	assert_int_equal(io(f, nvme_cmd_read, 1, 0, 1), 0);
	assert_int_equal(io(f, nvme_cmd_write, 1, 0, 1), 0);
	assert_int_equal(io(f, nvme_cmd_write, 1, 0, 1), HELD); /* the second write fires it */
	run_posted(f);
	assert_true(csts(f) & NVME_CSTS_CFS);
	assert_int_equal(io(f, nvme_cmd_read, 1, 0, 1), HELD);
}

/* An event that fired when it became active is not fired again by the commands that other
 * faults make the data path look at; a state fault without effect on commands counts none. */
static void test_events_fire_once(void **state)
{
	struct fixture *f = *state;
	uint32_t drop = add(f, "link-drop");
	uint32_t spare = add(f, "spare-low");
	add(f, "latency op=write latency_us=0");
	for (int i = 0; i < 5; i++)
		assert_int_equal(io(f, nvme_cmd_read, 1, 0, 1), 0);
	counts(f, drop, 0, 1);
	counts(f, spare, 0, 1);
}

static uint16_t set_aec(struct fixture *f, uint32_t value)
{
	struct nvme_sqe sqe = th_sqe(nvme_admin_set_features, 0);
	sqe.cdw10 = NVME_FEAT_ASYNC_EVENT;
	sqe.cdw11 = value;
	return th_exec(&f->admin, &sqe, NULL, 0, NULL, 0, NULL);
}

static struct th_req *aer(struct fixture *f)
{
	struct nvme_sqe sqe = th_sqe(nvme_admin_async_event, 0);
	return th_submit(&f->admin, &sqe, NULL, 0);
}

static unsigned active_namespaces(struct fixture *f, uint32_t *first)
{
	uint32_t list[1024];
	struct nvme_sqe sqe = th_identify_sqe(NVME_ID_CNS_NS_ACTIVE_LIST, 0);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, list, sizeof(list), NULL), 0);
	unsigned n = 0;
	while (n < 1024 && list[n])
		n++;
	*first = list[0];
	return n;
}

static void test_namespace_hot_remove_and_add(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(set_aec(f, NVME_CTRL_OAES_NS_ATTR), 0);
	struct th_req *event = aer(f);
	assert_int_equal(event->completions, 0);
	uint32_t first;
	assert_int_equal(active_namespaces(f, &first), 2);

	add(f, "ns-remove nsid=2");
	run_posted(f);
	assert_int_equal(event->completions, 1);
	assert_int_equal(event->cqe.result,
			 NVME_AER_RESULT(NVME_AER_TYPE_NOTICE, NVME_AER_NOTICE_NS_CHANGED,
					 NVME_LOG_CHANGED_NS));
	th_req_free(&f->admin, event);
	assert_int_equal(active_namespaces(f, &first), 1);
	assert_int_equal(first, 1);
	assert_int_equal(io(f, nvme_cmd_read, 2, 0, 1), ST_INVALID_NS);
	/* An inactive NSID identifies as zeroes. */
	uint8_t id[4096];
	struct nvme_sqe sqe = th_identify_sqe(NVME_ID_CNS_NS, 2);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, id, sizeof(id), NULL), 0);
	assert_int_equal(le(id, 0, 8), 0);

	/* The next event waits until log 04h is read without RAE. */
	event = aer(f);
	add(f, "ns-add nsid=2");
	run_posted(f);
	assert_int_equal(event->completions, 0);
	uint32_t changed[1024];
	assert_int_equal(get_log(f, NVME_LOG_CHANGED_NS, 0xFFFFFFFF, true, changed, sizeof(changed)), 0);
	assert_int_equal(changed[0], 2);
	assert_int_equal(changed[1], 0);
	assert_int_equal(get_log(f, NVME_LOG_CHANGED_NS, 0xFFFFFFFF, false, changed, sizeof(changed)), 0);
	assert_int_equal(changed[0], 2);
	assert_int_equal(get_log(f, NVME_LOG_CHANGED_NS, 0xFFFFFFFF, false, changed, sizeof(changed)), 0);
	assert_int_equal(changed[0], 0);
	assert_int_equal(active_namespaces(f, &first), 2);
	assert_int_equal(io(f, nvme_cmd_read, 2, 0, 1), 0);
	add(f, "ns-remove nsid=2");
	run_posted(f);
	assert_int_equal(event->completions, 1);
	th_req_free(&f->admin, event);
}

static void test_thermal_heats_throttles_and_warns(void **state)
{
	struct fixture *f = *state;
	uint8_t log[512];
	/* 1 GiB heats by 4000 degrees: each 128 KiB write by about 0.5. */
	add(f, "thermal heat=4000 tau_ms=3600000 threshold_c=50 critical_c=60");
	smart(f, 0xFFFFFFFF, log);
	assert_int_equal(le(log, 1, 2), 35 + 273);
	assert_int_equal(log[0], 0);
	assert_int_equal(set_aec(f, NVME_SMART_CRIT_TEMPERATURE), 0);
	struct th_req *event = aer(f);
	memset(f->buf, 1, MDTS_BYTES);
	for (int i = 0; i < 40; i++)
		assert_int_equal(io(f, nvme_cmd_write, 1, 0, MDTS_BYTES / 4096), 0);
	smart(f, 0xFFFFFFFF, log);
	uint64_t kelvin = le(log, 1, 2);
	assert_in_range(kelvin, 35 + 273 + 18, 35 + 273 + 21);
	assert_int_equal(log[0], NVME_SMART_CRIT_TEMPERATURE);
	run_posted(f);
	assert_int_equal(event->completions, 1);
	assert_int_equal(event->cqe.result, NVME_AER_RESULT(NVME_AER_TYPE_SMART,
							    NVME_AER_SMART_TEMP_THRESH, NVME_LOG_SMART));
	th_req_free(&f->admin, event);
	/* Identify reports the fault's thresholds. */
	uint8_t id[4096];
	struct nvme_sqe sqe = th_identify_sqe(NVME_ID_CNS_CTRL, 0);
	assert_int_equal(th_exec(&f->admin, &sqe, NULL, 0, id, sizeof(id), NULL), 0);
	assert_int_equal(le(id, offsetof(struct nvme_id_ctrl, wctemp), 2), 50 + 273);
	assert_int_equal(le(id, offsetof(struct nvme_id_ctrl, cctemp), 2), 60 + 273);
	/* A pinned temperature. */
	nvme_target_clear_faults(f->env->target, 0, NULL, 0);
	add(f, "thermal temp_c=90");
	smart(f, 1, log);
	assert_int_equal(le(log, 1, 2), 90 + 273);
}

static void test_windows(void **state)
{
	struct fixture *f = *state;
	uint32_t id = add(f, "write-error nsid=1 at_ms=100000");
	assert_int_equal(io(f, nvme_cmd_write, 1, 0, 1), 0); /* not yet */
	size_t n;
	struct nvme_fault_status *list = nvme_target_list_faults(f->env->target, &n);
	assert_string_equal(find(list, n, id)->state, "pending");
	free(list);
	id = add(f, "ns-remove nsid=2 for_ms=50");
	assert_int_equal(io(f, nvme_cmd_read, 2, 0, 1), ST_INVALID_NS);
	uint64_t deadline = clock_now_ns() + 5000000000ull;
	while (io(f, nvme_cmd_read, 2, 0, 1) != 0 && clock_now_ns() < deadline)
		reactor_poll(f->env->reactor, 10000000);
	assert_int_equal(io(f, nvme_cmd_read, 2, 0, 1), 0); /* back when the window ended */
	list = nvme_target_list_faults(f->env->target, &n);
	assert_string_equal(find(list, n, id)->state, "ended");
	free(list);
}

/* What a trace sink receives. */
struct fake_sink {
	struct nvme_trace_sink sink;
	struct nvme_trace_event events[16];
	unsigned n;
};

static void record(struct nvme_trace_sink *sink, unsigned shard, const struct nvme_trace_event *ev)
{
	(void)shard;
	struct fake_sink *s = (struct fake_sink *)sink;
	if (s->n < 16)
		s->events[s->n++] = *ev;
}

static void test_trace_and_event_log(void **state)
{
	struct fixture *f = *state;
	struct fake_sink sink = {.sink.record = record};
	struct nvme_ns_recorder *rec = nvme_subsys_ns_recorder(f->env->subsys, 1);
	atomic_store(&rec->trace, &sink.sink);
	uint32_t bad = add(f, "read-error nsid=1 lba=5 count=1");
	uint32_t hold = add(f, "timeout op=flush");
	assert_int_equal(io(f, nvme_cmd_read, 1, 5, 1), ST_READ_ERROR);
	struct nvme_sqe flush = th_sqe(nvme_cmd_flush, 1);
	th_sgl_transport(&flush, 0);
	struct th_req *held = th_submit(&f->io, &flush, NULL, 0);
	assert_int_equal(held->completions, 0);
	nvme_req_cancel(&held->nvme);
	th_req_free(&f->io, held);
	atomic_store(&rec->trace, NULL);
	assert_int_equal(sink.n, 2);
	assert_int_equal(sink.events[0].fault_type, FAULT_READ_ERROR + 1);
	assert_int_equal(sink.events[0].fault_id, bad);
	assert_int_equal(sink.events[0].status, ST_READ_ERROR);
	assert_false(sink.events[0].unanswered);
	assert_int_equal(sink.events[1].fault_type, FAULT_TIMEOUT + 1);
	assert_int_equal(sink.events[1].fault_id, hold);
	assert_true(sink.events[1].unanswered);

	struct nvme_fault_event events[8];
	uint64_t cursor = 0;
	size_t n = nvme_target_fault_events(f->env->target, &cursor, events, 8);
	assert_int_equal(n, 2);
	assert_string_equal(events[0].text, "added: read-error nsid=1 lba=5 count=1");
	assert_int_equal(events[1].type, FAULT_TIMEOUT);
	assert_int_equal(nvme_target_fault_events(f->env->target, &cursor, events, 8), 0);
	nvme_target_clear_faults(f->env->target, 0, NULL, 0);
	assert_int_equal(nvme_target_fault_events(f->env->target, &cursor, events, 8), 2);
	assert_string_equal(events[1].text, "cleared");
}

static void test_scope_is_resolved_when_added(void **state)
{
	struct fixture *f = *state;
	struct fault_spec spec;
	char err[256];
	uint32_t id;
	static const struct {
		const char *text, *reason;
	} bad[] = {
	    {"read-error", "read-error needs nsid"},
	    {"read-error nsid=3", "no namespace 3"},
	    {"read-error nsid=1 lba=4096", "past namespace 1's 4096 blocks"},
	    {"read-error nsid=1 lba=4000 count=97", "past namespace 1's"},
	    {"read-error nsid=1 zone=0", "namespace 1 is not zoned"},
	    {"latency nqn=nqn.2024-01.io.nvemu:none", "no subsystem"},
	    {"ns-add nsid=9", "no namespace 9"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(fault_spec_parse(bad[i].text, &spec, err, sizeof(err)), 0);
		assert_int_equal(nvme_target_add_fault(f->env->target, &spec, &id, err, sizeof(err)), -1);
		if (!strstr(err, bad[i].reason))
			fail_msg("%s: '%s', not '%s'", bad[i].text, err, bad[i].reason);
	}
	/* nqn picks the subsystem: the second has no namespace 1. */
	assert_int_equal(fault_spec_parse("read-error nsid=1 nqn=" TH_SUBNQN2, &spec, err, sizeof(err)), 0);
	assert_int_equal(nvme_target_add_fault(f->env->target, &spec, &id, err, sizeof(err)), -1);
	add(f, "write-error nqn=" TH_SUBNQN2);
	assert_int_equal(io(f, nvme_cmd_write, 1, 0, 1), 0);
}

/* A command answered whenever the model says (the reactor's timer), its status. */
static uint16_t io_wait(struct fixture *f, uint8_t opcode, uint32_t nsid, uint64_t slba)
{
	struct nvme_sqe sqe = th_rw_sqe(opcode, nsid, slba, 1, 4096);
	bool out = opcode == nvme_cmd_read;
	struct th_req *req = th_submit(&f->io, &sqe, out ? NULL : f->buf, out ? 0 : 4096);
	while (!req->completions)
		reactor_poll(f->env->reactor, 1000000);
	uint16_t status = th_status(req);
	th_req_free(&f->io, req);
	return status;
}

/* die-offline on an ssd namespace (nsid 3): the reads of what the die held fail, at their
 * block, until rewritten; SMART says reliability degraded while it lasts. */
static void test_die_offline(void **state)
{
	struct fixture *f = *state;
	struct fault_spec spec;
	char err[256];
	uint32_t id;
	assert_int_equal(fault_spec_parse("die-offline nsid=1 die=0", &spec, err, sizeof(err)), 0);
	assert_int_equal(nvme_target_add_fault(f->env->target, &spec, &id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no flash dies"));
	assert_int_equal(fault_spec_parse("die-offline nsid=1", &spec, err, sizeof(err)), -1);

	assert_non_null(th_add_ssd_ns(f->env, err, sizeof(err)));
	memset(f->buf, 5, 4096);
	for (uint64_t lba = 0; lba < 64; lba++)
		assert_int_equal(io_wait(f, nvme_cmd_write, 3, lba), 0);

	assert_int_equal(fault_spec_parse("die-offline nsid=3 die=4", &spec, err, sizeof(err)), 0);
	assert_int_equal(nvme_target_add_fault(f->env->target, &spec, &id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "dies 0 to 3"));
	id = add(f, "die-offline nsid=3 die=1");
	bool bad[64];
	unsigned nbad = 0, last = 0;
	for (uint64_t lba = 0; lba < 64; lba++) {
		uint16_t st = io_wait(f, nvme_cmd_read, 3, lba);
		assert_true(st == 0 || st == ST_READ_ERROR);
		bad[lba] = st != 0;
		if (bad[lba])
			nbad++, last = (unsigned)lba;
	}
	/* Written over four dies in turn: a quarter of the blocks were on die 1. */
	assert_int_equal(nbad, 16);
	uint8_t entry[64], log[512];
	assert_int_equal(get_log(f, NVME_LOG_ERROR, 0, false, entry, sizeof(entry)), 0);
	assert_int_equal(le(entry, 12, 2) >> 1, ST_READ_ERROR);
	assert_int_equal(le(entry, 16, 8), last);
	assert_int_equal(le(entry, 24, 4), 3);
	smart(f, 3, log);
	assert_int_equal(log[0], NVME_SMART_CRIT_RELIABILITY);
	assert_int_equal(le(log, 160, 8), 16); /* Media and Data Integrity Errors */
	/* Rewritten, they land on the other dies and read again; the rest never failed. */
	for (uint64_t lba = 0; lba < 64; lba++)
		if (bad[lba])
			assert_int_equal(io_wait(f, nvme_cmd_write, 3, lba), 0);
	for (uint64_t lba = 0; lba < 64; lba++)
		assert_int_equal(io_wait(f, nvme_cmd_read, 3, lba), 0);
	counts(f, id, 128, 17); /* reads seen; the die going offline and 16 failed reads */
	assert_int_equal(nvme_target_clear_faults(f->env->target, id, NULL, 0), 1);
	smart(f, 3, log);
	assert_int_equal(log[0], 0);
}

/* A listing while the drive cools below its threshold (it used to log the crossing under the
 * faults lock it held, and hang). */
static void test_list_while_cooling(void **state)
{
	struct fixture *f = *state;
	uint32_t id = add(f, "thermal heat=4000 tau_ms=5 threshold_c=37 critical_c=60");
	memset(f->buf, 1, MDTS_BYTES);
	for (int i = 0; i < 10; i++)
		assert_int_equal(io(f, nvme_cmd_write, 1, 0, MDTS_BYTES / 4096), 0);
	size_t n;
	struct nvme_fault_status *list = nvme_target_list_faults(f->env->target, &n);
	assert_true(find(list, n, id)->temp_c >= 37);
	free(list);
	nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000}, NULL);
	list = nvme_target_list_faults(f->env->target, &n);
	assert_true(find(list, n, id)->temp_c < 37);
	free(list);
}

struct churn {
	struct nvme_target *target;
	const char *const *faults; /* NULL-terminated */
	atomic_bool stop;
	atomic_uint rounds;
};

/* Adds the faults, lists them and clears them, round after round until told to stop. */
static void *churn_main(void *arg)
{
	struct churn *c = arg;
	while (!atomic_load(&c->stop)) {
		for (const char *const *text = c->faults; *text; text++) {
			struct fault_spec spec;
			uint32_t id;
			if (fault_spec_parse(*text, &spec, NULL, 0) ||
			    nvme_target_add_fault(c->target, &spec, &id, NULL, 0))
				return NULL;
		}
		size_t n;
		free(nvme_target_list_faults(c->target, &n));
		nvme_target_clear_faults(c->target, 0, NULL, 0);
		c->rounds++;
	}
	return c;
}

/* Faults cleared while commands walk them: never a fault freed under a walker (ASan would
 * see it), and the commands they did not match answered well. */
static void test_clear_while_io_runs(void **state)
{
	struct fixture *f = *state;
	/* Faults that every command walks past. */
	static const char *const faults[] = {"read-error nsid=1 lba=3000 count=8",
					     "write-error nsid=2", "latency op=flush latency_us=1",
					     "thermal heat=0.001", NULL};
	struct churn c = {.target = f->env->target, .faults = faults};
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, churn_main, &c), 0);
	memset(f->buf, 7, MDTS_BYTES);
	uint8_t log[512];
	/* At least 20,000 commands and 100 rounds of the churn beside them: on a loaded machine
	 * the churn thread may not run at all during the first 20,000 (the test then checked
	 * nothing and failed on "rounds > 0"). */
	uint64_t deadline = clock_now_ns() + 60000000000ull;
	for (unsigned i = 0;
	     i < 20000 || (atomic_load(&c.rounds) < 100 && clock_now_ns() < deadline); i++) {
		assert_int_equal(io(f, i % 2 ? nvme_cmd_read : nvme_cmd_write, 1, i % 256, 1), 0);
		if (i % 64 == 0)
			smart(f, 0xFFFFFFFF, log);
	}
	atomic_store(&c.stop, true);
	void *ret;
	assert_int_equal(pthread_join(thread, &ret), 0);
	assert_ptr_equal(ret, &c);
	assert_true(atomic_load(&c.rounds) >= 100);
	run_posted(f);
}

/* A namespace detached while a Flush of it runs: the Flush looked it up twice, and a detach
 * between the two crashed the target (fuzz_fault found it, with timed ns-remove faults).
 * Every Flush is answered: done, or Invalid Namespace when it came while detached. A race,
 * so a chance: with a million Flushes the old code crashed in 4 runs of 5. */
static void test_flush_while_namespace_detaches(void **state)
{
	struct fixture *f = *state;
	/* Namespace 1 detached and attached again, round after round. */
	static const char *const faults[] = {"ns-remove nsid=1", "ns-add nsid=1", NULL};
	struct churn c = {.target = f->env->target, .faults = faults};
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, churn_main, &c), 0);
	unsigned done = 0, invalid = 0;
	uint64_t deadline = clock_now_ns() + 60000000000ull;
	for (unsigned i = 0;
	     i < 1000000 || (atomic_load(&c.rounds) < 1000 && clock_now_ns() < deadline); i++) {
		struct nvme_sqe sqe = th_rw_sqe(nvme_cmd_flush, 1, 0, 1, 4096);
		th_sgl_transport(&sqe, 0);
		uint16_t status = th_exec(&f->io, &sqe, NULL, 0, NULL, 0, NULL);
		done += status == NVME_SC_SUCCESS;
		invalid += status == (NVME_SC_INVALID_NS | NVME_STATUS_DNR);
		if (status && status != (NVME_SC_INVALID_NS | NVME_STATUS_DNR))
			fail_msg("Flush: status %#x", status);
		if (i % 256 == 0)
			run_posted(f); /* the namespace-change notices the toggling posts */
	}
	atomic_store(&c.stop, true);
	void *ret;
	assert_int_equal(pthread_join(thread, &ret), 0);
	assert_ptr_equal(ret, &c);
	assert_true(atomic_load(&c.rounds) >= 1000);
	assert_true(done > 0 && invalid > 0); /* both sides of the race were reached */
	run_posted(f);
	add(f, "ns-add nsid=1");
	nvme_target_clear_faults(f->env->target, 0, NULL, 0);
	run_posted(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_read_error_is_sticky_until_written, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_same_seed_same_faults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_error_keeps_old_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_only_and_spare_low, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_latency_and_read_retry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_holds_one_command, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cfs_until_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cfs_on_a_command, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_fire_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_namespace_hot_remove_and_add, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thermal_heats_throttles_and_warns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_windows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trace_and_event_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scope_is_resolved_when_added, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_die_offline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_while_cooling, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clear_while_io_runs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_while_namespace_detaches, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
