/*
 * What faults do to I/O commands.  Only reached when a fault is set (the
 * target's attention count is not zero): nvme_parse_io() calls
 * nvme_fault_command() once a command passed its checks, in the order the
 * commands arrived on their queue, which is what makes the draws of one queue
 * reproducible.  The decision is kept in the request; execute, the completion
 * time and the answer act on it.
 */
#include <string.h>

#include "nvme/internal.h"

#define NS_PER_US 1000ull

enum fault_action {
	FAULT_ACT_NONE,
	FAULT_ACT_DELAY, /* executes, completes later (fault_delay_ns, fault_factor) */
	FAULT_ACT_FAIL,	 /* answered with fault_status, nothing executed */
	FAULT_ACT_HOLD,	 /* never answered */
};

static struct nvme_faults *faults_of(struct nvme_req *req) { return &req->sq->target->faults; }

/* Seq-cst like the unlink and the walker count: see nvme_faults_walk_begin(). */
static struct nvme_fault *next_fault(struct nvme_fault *f) { return atomic_load(&f->next); }

static bool in_window(const struct nvme_fault *f, uint64_t now)
{
	return now >= f->start_ns && now < f->end_ns;
}

/* The command's blocks, [*first, *end), that fall in the fault's range; false for none. */
static bool overlap(const struct nvme_fault *f, uint64_t slba, uint32_t nlb, uint64_t *first,
		    uint64_t *end)
{
	if (!f->has_range) {
		*first = slba;
		*end = slba + nlb;
		return true;
	}
	uint64_t a = slba > f->first_lba ? slba : f->first_lba;
	uint64_t b = slba + nlb < f->end_lba ? slba + nlb : f->end_lba;
	*first = a;
	*end = b;
	return nlb && a < b;
}

static bool in_scope(const struct nvme_fault *f, const struct nvme_req *req, uint32_t op)
{
	const struct nvme_ctrl *ctrl = req->sq->ctrl;
	return (!f->subsys || f->subsys == ctrl->subsys) &&
	       (!f->spec.nsid || f->spec.nsid == req->cmd.nsid) &&
	       (!f->spec.cntlid || f->spec.cntlid == ctrl->cntlid) && (f->spec.ops & op);
}

/*
 * A matching command while the fault is active: whether it fires (after its first `after`,
 * with its probability, at most `times` times).  *draw gets a second draw of the same index
 * for the latency distribution.
 */
static bool fires(struct nvme_fault *f, uint64_t *draw)
{
	const struct fault_spec *s = &f->spec;
	uint64_t n = atomic_fetch_add(&f->matched, 1);
	if (n < s->after)
		return false;
	uint64_t d = atomic_fetch_add(&f->draws, 1);
	if (draw)
		*draw = fault_draw(s->seed, 2 * d + 1);
	if (!fault_draw_hits(fault_draw(s->seed, 2 * d), s->probability))
		return false;
	uint64_t fired = atomic_load(&f->fired);
	do {
		if (s->times && fired >= s->times)
			return false;
	} while (!atomic_compare_exchange_weak(&f->fired, &fired, fired + 1));
	return true;
}

/* A fault acts; of several, the strongest action (hold, fail, delay) and the first of it names it. */
static void act(struct nvme_req *req, struct nvme_fault *f, enum fault_action action)
{
	atomic_fetch_add(&f->injected, 1);
	if (action <= req->fault_action)
		return;
	req->fault_action = (uint8_t)action;
	req->fault_type = (uint8_t)(f->spec.type + 1);
	req->fault_id = f->id;
}

static void fail(struct nvme_req *req, struct nvme_fault *f, uint16_t status, uint64_t lba)
{
	if (req->fault_action >= FAULT_ACT_FAIL)
		return;
	act(req, f, FAULT_ACT_FAIL);
	req->fault_status = status;
	req->error_lba = lba;
	req->has_error_lba = true;
}

static void delay(struct nvme_req *req, struct nvme_fault *f, uint64_t ns)
{
	if (!ns)
		return;
	act(req, f, FAULT_ACT_DELAY);
	req->fault_delay_ns += ns;
}

/* ---- the read-error map ---- */

static uint64_t *bit_word(const struct nvme_fault *f, uint64_t lba, uint64_t *mask)
{
	uint64_t i = lba - f->first_lba;
	*mask = 1ull << (i % 64);
	return (uint64_t *)&f->bits[i / 64];
}

static bool block_bad(const struct nvme_fault *f, uint64_t lba)
{
	uint64_t mask;
	uint64_t word = atomic_load_explicit((_Atomic uint64_t *)bit_word(f, lba, &mask),
					     memory_order_relaxed);
	return ((word & mask) != 0) != f->range_bad;
}

/* Marks [first, end) bad (bad) or good again. */
static void mark(struct nvme_fault *f, uint64_t first, uint64_t end, bool bad)
{
	bool set = bad != f->range_bad;
	for (uint64_t lba = first; lba < end; lba++) {
		uint64_t mask;
		_Atomic uint64_t *word = (_Atomic uint64_t *)bit_word(f, lba, &mask);
		if (set)
			atomic_fetch_or_explicit(word, mask, memory_order_relaxed);
		else
			atomic_fetch_and_explicit(word, ~mask, memory_order_relaxed);
	}
}

/* The first bad block of [first, end), or end. */
static uint64_t first_bad(const struct nvme_fault *f, uint64_t first, uint64_t end)
{
	for (uint64_t lba = first; lba < end; lba++)
		if (block_bad(f, lba))
			return lba;
	return end;
}

static void read_error(struct nvme_req *req, struct nvme_fault *f, uint64_t first, uint64_t end,
		       uint64_t now)
{
	uint16_t status = NVME_SC_READ_ERROR | (f->spec.dnr ? NVME_STATUS_DNR : 0);
	if (now < f->start_ns)
		return;
	/* Bad blocks stay bad past the window: only a write makes them good. */
	uint64_t bad = first_bad(f, first, end);
	bool active = now < f->end_ns;
	if (bad < end || f->range_bad || !active) {
		if (active)
			atomic_fetch_add(&f->matched, 1);
		if (bad < end)
			fail(req, f, status, bad);
		return;
	}
	if (!fires(f, NULL))
		return;
	mark(f, first, end, true);
	fail(req, f, status, first);
}

/* A read while a die is offline fails at the first block whose data the die held. */
static void die_read(struct nvme_req *req, struct nvme_fault *f, uint64_t slba, uint32_t nlb)
{
	atomic_fetch_add(&f->matched, 1);
	uint64_t lost = f->ns->ops->first_lost_block(f->ns, slba, nlb);
	if (lost != UINT64_MAX)
		fail(req, f, NVME_SC_READ_ERROR | NVME_STATUS_DNR, lost);
}

/* ---- thermal ---- */

/* Advances the fault's temperature to now with `bytes` moved; under its lock. */
static double heat_locked(struct nvme_fault *f, uint64_t now, uint64_t bytes)
{
	double before = f->temp_c;
	uint64_t dt = now > f->temp_ns ? now - f->temp_ns : 0;
	double seconds = (double)dt / 1e9;
	if (before >= (double)f->spec.threshold_c)
		f->warning_s += seconds;
	if (before >= (double)f->spec.critical_c)
		f->critical_s += seconds;
	f->temp_c = fault_thermal_step(&f->spec, before, dt, bytes);
	f->temp_ns = now > f->temp_ns ? now : f->temp_ns;
	return before;
}

/* Logs a crossing of the threshold, and warns the controllers when it is upward. */
static void crossed(struct nvme_fault *f, double before, double after)
{
	double threshold = (double)f->spec.threshold_c;
	if ((before >= threshold) == (after >= threshold))
		return;
	nvme_fault_log(f->target, f, f->subsys, 0, "%s: %.1f C (threshold %.0f C)",
		       after >= threshold ? "throttling" : "cooled below the threshold", after,
		       threshold);
	if (after >= threshold) {
		for (size_t i = 0; i < f->target->nsubsys; i++)
			if (!f->subsys || f->subsys == f->target->subsys[i])
				nvme_fault_warnings_changed(f->target->subsys[i]);
	}
}

double nvme_fault_temperature(struct nvme_fault *f, uint64_t now_ns)
{
	if (now_ns < f->start_ns)
		return (double)f->spec.ambient_c;
	pthread_mutex_lock(&f->state_lock);
	double before = heat_locked(f, now_ns, 0);
	double after = f->temp_c;
	pthread_mutex_unlock(&f->state_lock);
	crossed(f, before, after);
	return after;
}

double nvme_fault_temperature_peek(struct nvme_fault *f, uint64_t now_ns)
{
	if (now_ns < f->start_ns)
		return (double)f->spec.ambient_c;
	pthread_mutex_lock(&f->state_lock);
	uint64_t dt = now_ns > f->temp_ns ? now_ns - f->temp_ns : 0;
	double t = fault_thermal_step(&f->spec, f->temp_c, dt, 0);
	pthread_mutex_unlock(&f->state_lock);
	return t;
}

static void thermal(struct nvme_req *req, struct nvme_fault *f, uint64_t now, uint32_t op)
{
	bool moves = op & (FAULT_OP_READ | FAULT_OP_WRITE | FAULT_OP_APPEND | FAULT_OP_COMPARE);
	pthread_mutex_lock(&f->state_lock);
	double before = heat_locked(f, now, moves ? req->data_len : 0);
	double after = f->temp_c;
	pthread_mutex_unlock(&f->state_lock);
	crossed(f, before, after);
	atomic_fetch_add(&f->matched, 1);
	if (after < (double)f->spec.threshold_c)
		return;
	act(req, f, FAULT_ACT_DELAY);
	if (f->spec.factor > req->fault_factor)
		req->fault_factor = (uint32_t)f->spec.factor;
}

/* ---- the decision ---- */

static bool is_write(const struct nvme_req *req, uint32_t op)
{
	return (op & FAULT_OP_WRITES) ||
	       (op == FAULT_OP_DSM && (req->cmd.dsm.attributes & NVME_DSM_ATTR_AD));
}

static void one_fault(struct nvme_req *req, struct nvme_fault *f, uint32_t op, uint64_t slba,
		      uint32_t nlb, uint64_t now)
{
	const struct fault_spec *s = &f->spec;
	uint64_t first, end, draw;
	/* Events that fire when they become active, and spare-low, never look at commands. */
	if ((fault_class_of(s->type) == FAULT_CLASS_EVENT && !fault_spec_command_triggered(s)) ||
	    s->type == FAULT_SPARE_LOW)
		return;
	switch (s->type) {
	case FAULT_READ_ERROR:
		if (f->subsys != req->sq->ctrl->subsys || s->nsid != req->cmd.nsid)
			return;
		if (is_write(req, op))
			req->fault_heal = true; /* it rewrites blocks this fault may have marked */
		else if (in_scope(f, req, op) && overlap(f, slba, nlb, &first, &end))
			read_error(req, f, first, end, now);
		return;
	case FAULT_READ_ONLY:
		if (in_window(f, now) && (!f->subsys || f->subsys == req->sq->ctrl->subsys) &&
		    (!s->nsid || s->nsid == req->cmd.nsid) && is_write(req, op))
			fail(req, f, NVME_SC_READ_ONLY | NVME_STATUS_DNR, slba);
		return;
	case FAULT_THERMAL:
		if (in_window(f, now) && (!f->subsys || f->subsys == req->sq->ctrl->subsys))
			thermal(req, f, now, op);
		return;
	case FAULT_DIE_OFFLINE:
		if (in_window(f, now) && f->subsys == req->sq->ctrl->subsys &&
		    s->nsid == req->cmd.nsid && (op & FAULT_OP_READS) && atomic_load(&f->die_down))
			die_read(req, f, slba, nlb);
		return;
	default:
		break;
	}
	if (!in_scope(f, req, op) || !in_window(f, now) || !overlap(f, slba, nlb, &first, &end))
		return;
	if (s->type == FAULT_GC_STORM && !(op & FAULT_OP_WRITES) && !s->read_latency_us)
		return; /* reads are not slowed by this storm */
	if (!fires(f, &draw))
		return;
	switch (s->type) {
	case FAULT_WRITE_ERROR:
		fail(req, f, NVME_SC_WRITE_FAULT | (s->dnr ? NVME_STATUS_DNR : 0), first);
		break;
	case FAULT_READ_RETRY:
		delay(req, f, s->latency_us * NS_PER_US);
		break;
	case FAULT_LATENCY:
		delay(req, f, fault_latency_ns(s, draw));
		break;
	case FAULT_GC_STORM:
		delay(req, f, (op & FAULT_OP_WRITES ? s->latency_us : s->read_latency_us) * NS_PER_US);
		break;
	case FAULT_TIMEOUT:
		act(req, f, FAULT_ACT_HOLD);
		break;
	case FAULT_CFS:
	case FAULT_LINK_DROP:
		/* The command goes unanswered: its controller is fatal, its connection closing. */
		act(req, f, FAULT_ACT_HOLD);
		nvme_fault_fire(f);
		break;
	case FAULT_NS_ADD:
	case FAULT_NS_REMOVE:
		nvme_fault_fire(f);
		break;
	default:
		break;
	}
}

static void fault_execute(struct nvme_req *req)
{
	if (req->fault_action == FAULT_ACT_HOLD)
		return; /* never answered: nvme_req_cancel() forgets it when its connection goes */
	uint16_t sc = req->fault_status & 0x7FF;
	if (sc == NVME_SC_READ_ERROR || sc == NVME_SC_WRITE_FAULT) {
		struct nvme_ns_slot *slot = &req->sq->ctrl->subsys->ns[req->cmd.nsid - 1];
		atomic_fetch_add_explicit(&slot->media_errors, 1, memory_order_relaxed);
	}
	nvme_req_complete(req, req->fault_status);
}

void nvme_fault_command(struct nvme_req *req)
{
	struct nvme_ctrl *ctrl = req->sq->ctrl;
	req->faulted = true;
	req->fault_type = 0;
	req->fault_action = FAULT_ACT_NONE;
	req->fault_heal = false;
	req->has_error_lba = false;
	req->fault_factor = 0;
	req->fault_delay_ns = 0;
	if (atomic_load_explicit(&ctrl->fatal, memory_order_relaxed)) {
		/* Controller Fatal Status: nothing is answered until the host resets. */
		req->fault_type = FAULT_CFS + 1;
		req->fault_id = ctrl->fatal_fault_id;
		req->fault_action = FAULT_ACT_HOLD;
	} else {
		uint32_t op = fault_op_of(req->cmd.opcode);
		uint64_t slba;
		uint32_t nlb;
		nvme_io_cmd_range(&req->cmd, &slba, &nlb);
		for (struct nvme_fault *f = nvme_faults_walk_begin(faults_of(req)); f;
		     f = next_fault(f))
			if (!atomic_load_explicit(&f->cleared, memory_order_relaxed))
				one_fault(req, f, op, slba, nlb, req->submit_ns);
		nvme_faults_walk_end(faults_of(req));
	}
	if (req->fault_action == FAULT_ACT_FAIL || req->fault_action == FAULT_ACT_HOLD) {
		req->fault_execute = req->execute;
		req->execute = fault_execute;
	}
}

/* Admin commands of a fatal controller are held too (fabrics commands are not parsed here). */
bool nvme_fault_hold_admin(struct nvme_req *req)
{
	struct nvme_ctrl *ctrl = req->sq->ctrl;
	if (!atomic_load_explicit(&ctrl->fatal, memory_order_relaxed))
		return false;
	req->faulted = true;
	req->fault_type = FAULT_CFS + 1;
	req->fault_id = ctrl->fatal_fault_id;
	req->fault_action = FAULT_ACT_HOLD;
	req->fault_heal = false;
	req->has_error_lba = false;
	req->fault_factor = 0;
	req->fault_delay_ns = 0;
	req->execute = fault_execute;
	return true;
}

bool nvme_fault_held(const struct nvme_req *req)
{
	return req->faulted && req->fault_action == FAULT_ACT_HOLD;
}

uint64_t nvme_fault_due(struct nvme_req *req, uint64_t start_ns, uint64_t done_ns)
{
	uint64_t extra = req->fault_delay_ns;
	if (req->fault_factor && done_ns > start_ns)
		extra += (done_ns - start_ns) * (req->fault_factor - FAULT_MILLI) / FAULT_MILLI;
	req->fault_delay_ns = extra;
	return done_ns + extra;
}

/* The blocks a successful write covered heal in every read-error fault that watches them. */
static void heal(struct nvme_req *req, uint64_t slba, uint64_t nlb)
{
	for (struct nvme_fault *f = nvme_faults_walk_begin(faults_of(req)); f; f = next_fault(f)) {
		uint64_t first, end;
		if (f->spec.type != FAULT_READ_ERROR || atomic_load(&f->cleared) ||
		    f->subsys != req->sq->ctrl->subsys || f->spec.nsid != req->cmd.nsid ||
		    !overlap(f, slba, (uint32_t)nlb, &first, &end) || req->submit_ns < f->start_ns)
			continue;
		mark(f, first, end, false);
	}
	nvme_faults_walk_end(faults_of(req));
}

void nvme_fault_answered(struct nvme_req *req, uint16_t status)
{
	if (!req->fault_heal || status)
		return;
	switch (req->cmd.opcode) {
	case nvme_cmd_zone_append: /* the blocks written are where the result says */
		heal(req, req->cqe.result, req->cmd.rw.nlb + 1u);
		break;
	case nvme_cmd_dsm: {
		const struct nvme_dsm_range *ranges = req->buf;
		for (uint32_t i = 0; i <= req->cmd.dsm.nr; i++)
			heal(req, ranges[i].slba, ranges[i].nlb);
		break;
	}
	default:
		heal(req, req->cmd.rw.slba, req->cmd.rw.nlb + 1u);
	}
}
