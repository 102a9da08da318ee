/* Controller lifetime, registers, keep-alive, errors and asynchronous events. */
#include <stdlib.h>
#include <string.h>

#include "nvme/internal.h"
#include "util/log.h"
#include "util/util.h"

static void kato_expired(struct reactor_timer *timer);

static int by_time(const void *a, const void *b)
{
	const struct ns_error *x = a, *y = b;
	return x->time_ns < y->time_ns ? -1 : x->time_ns > y->time_ns;
}

/*
 * A new controller's error log starts with what the subsystem's drive directories kept
 * (docs/persistence.md): their newest entries in the order they happened, numbered after all
 * the errors the drives have seen.
 */
static void seed_errors(struct nvme_ctrl *ctrl)
{
	const struct nvme_subsys *subsys = ctrl->subsys;
	struct ns_error *all = NULL;
	size_t n = 0;
	uint64_t total = 0;
	for (uint32_t i = 0; i < subsys->nn; i++) {
		struct ns_error kept[NS_ERRORS_KEPT];
		uint64_t ns_total;
		struct ns *ns = subsys->ns[i].ns;
		unsigned k = ns ? ns_kept_errors(ns, kept, &ns_total) : 0;
		if (!k)
			continue;
		struct ns_error *more = realloc(all, (n + k) * sizeof(*all));
		if (!more)
			break;
		all = more;
		memcpy(all + n, kept, k * sizeof(*all));
		n += k;
		total += ns_total;
	}
	if (n) {
		qsort(all, n, sizeof(*all), by_time);
		size_t first = n > NVME_ERROR_LOG_ENTRIES ? n - NVME_ERROR_LOG_ENTRIES : 0;
		total = max_u64(total, n);
		for (size_t i = first; i < n; i++) {
			uint64_t number = total - (n - 1 - i);
			struct nvme_error_log_page *e = &ctrl->errors.entry[(number - 1) % NVME_ERROR_LOG_ENTRIES];
			memcpy(e, all[i].entry, sizeof(*e));
			e->error_count = number;
		}
		ctrl->errors.count = total;
	}
	free(all);
}

unsigned nvme_target_count_ctrls(struct nvme_target *target, const char *hostnqn)
{
	unsigned count = 0;
	for (size_t i = 0; i <= target->nsubsys; i++) {
		struct nvme_subsys *subsys =
		    i < target->nsubsys ? target->subsys[i] : &target->discovery;
		pthread_mutex_lock(&subsys->lock);
		for (struct nvme_ctrl *c = subsys->ctrls; c; c = c->next_in_subsys)
			count += strcmp(c->hostnqn, hostnqn) == 0;
		pthread_mutex_unlock(&subsys->lock);
	}
	return count;
}

struct nvme_ctrl *nvme_ctrl_create(struct nvme_subsys *subsys, struct nvme_sq *admin_sq,
				   const struct nvmf_connect_data *data, uint32_t kato_ms,
				   const struct nvme_host *host)
{
	struct nvme_target *target = subsys->target;
	uint16_t cntlid = nvme_target_alloc_cntlid(target);
	if (!cntlid)
		return NULL;
	struct nvme_ctrl *ctrl = calloc(1, sizeof(*ctrl));
	if (!ctrl)
		return NULL;
	ctrl->io_sq = calloc((size_t)target->params.max_io_queues + 1, sizeof(*ctrl->io_sq));
	if (!ctrl->io_sq) {
		free(ctrl);
		return NULL;
	}
	ctrl->subsys = subsys;
	ctrl->cntlid = cntlid;
	memcpy(ctrl->hostnqn, data->hostnqn, sizeof(data->hostnqn));
	ctrl->hostnqn[NVMF_NQN_SIZE - 1] = '\0';
	memcpy(ctrl->hostid, data->hostid, sizeof(ctrl->hostid));
	ctrl->host = host;
	atomic_init(&ctrl->refs, 1);
	ctrl->admin_sq = admin_sq;
	ctrl->kato_timer.fire = kato_expired;
	pthread_mutex_init(&ctrl->lock, NULL);
	pthread_mutex_init(&ctrl->errors.lock, NULL);
	seed_errors(ctrl);
	nvme_ctrl_set_kato(ctrl, kato_ms);

	pthread_mutex_lock(&subsys->lock);
	ctrl->next_in_subsys = subsys->ctrls;
	subsys->ctrls = ctrl;
	pthread_mutex_unlock(&subsys->lock);
	log_info("controller %u: %s connected to %s (keep-alive %u ms)", cntlid, ctrl->hostnqn,
		 subsys->nqn, kato_ms);
	return ctrl;
}

struct nvme_ctrl *nvme_ctrl_get_by_id(struct nvme_subsys *subsys, uint16_t cntlid)
{
	struct nvme_ctrl *found = NULL;
	pthread_mutex_lock(&subsys->lock);
	for (struct nvme_ctrl *c = subsys->ctrls; c; c = c->next_in_subsys) {
		if (c->cntlid == cntlid && !atomic_load(&c->dead)) {
			atomic_fetch_add(&c->refs, 1);
			found = c;
			break;
		}
	}
	pthread_mutex_unlock(&subsys->lock);
	return found;
}

void nvme_ctrl_put(struct nvme_ctrl *ctrl)
{
	if (atomic_fetch_sub(&ctrl->refs, 1) != 1)
		return;
	nvme_ctrl_clear_fatal(ctrl);
	log_info("controller %u: all queues closed, freed", ctrl->cntlid);
	pthread_mutex_destroy(&ctrl->lock);
	pthread_mutex_destroy(&ctrl->errors.lock);
	free(ctrl->io_sq);
	free(ctrl);
}

/*
 * Called on the admin queue's thread when its connection closes or its
 * keep-alive expires.  I/O queues live on other threads: they notice
 * nvme_sq_orphaned() and close themselves, each dropping its reference.
 */
void nvme_ctrl_teardown(struct nvme_ctrl *ctrl)
{
	if (atomic_exchange(&ctrl->dead, true))
		return;
	struct nvme_subsys *subsys = ctrl->subsys;
	pthread_mutex_lock(&subsys->lock);
	for (struct nvme_ctrl **p = &subsys->ctrls; *p; p = &(*p)->next_in_subsys) {
		if (*p == ctrl) {
			*p = ctrl->next_in_subsys;
			break;
		}
	}
	pthread_mutex_unlock(&subsys->lock);
	if (ctrl->admin_sq)
		reactor_timer_cancel(ctrl->admin_sq->reactor, &ctrl->kato_timer);
	log_info("controller %u: %s left %s", ctrl->cntlid, ctrl->hostnqn, subsys->nqn);
}

static uint64_t kato_deadline(const struct nvme_ctrl *ctrl, uint64_t last_activity_ns)
{
	/* Hosts send Keep Alive every KATO/2 (or skip it after traffic, with TBKAS). */
	uint64_t slack_ms = ctrl->subsys->target->params.keep_alive_slack_ms;
	return last_activity_ns + ((uint64_t)ctrl->kato_ms + slack_ms) * 1000000ull;
}

static void kato_arm(struct nvme_ctrl *ctrl)
{
	if (!ctrl->kato_ms || !ctrl->admin_sq)
		return;
	reactor_timer_arm(ctrl->admin_sq->reactor, &ctrl->kato_timer,
			  kato_deadline(ctrl, ctrl->last_keep_alive_ns));
}

/* The latest command on any of the controller's queues (traffic-based keep-alive). */
static uint64_t last_traffic_ns(struct nvme_ctrl *ctrl)
{
	uint64_t latest = atomic_load_explicit(&ctrl->admin_sq->last_command_ns, memory_order_relaxed);
	pthread_mutex_lock(&ctrl->lock);
	for (uint16_t qid = 1; qid <= ctrl->subsys->target->params.max_io_queues; qid++) {
		if (!ctrl->io_sq[qid])
			continue;
		uint64_t t = atomic_load_explicit(&ctrl->io_sq[qid]->last_command_ns, memory_order_relaxed);
		if (t > latest)
			latest = t;
	}
	pthread_mutex_unlock(&ctrl->lock);
	return latest;
}

static void kato_expired(struct reactor_timer *timer)
{
	struct nvme_ctrl *ctrl = container_of(timer, struct nvme_ctrl, kato_timer);
	uint64_t traffic = last_traffic_ns(ctrl);
	if (traffic > ctrl->last_keep_alive_ns && kato_deadline(ctrl, traffic) > clock_now_ns()) {
		reactor_timer_arm(ctrl->admin_sq->reactor, timer, kato_deadline(ctrl, traffic));
		return;
	}
	log_warn("controller %u: no Keep Alive from %s within %u ms; tearing it down", ctrl->cntlid,
		 ctrl->hostnqn, ctrl->kato_ms);
	ctrl->admin_sq->ops->disconnect(ctrl->admin_sq);
}

void nvme_ctrl_keep_alive(struct nvme_ctrl *ctrl)
{
	ctrl->last_keep_alive_ns = clock_now_ns();
	kato_arm(ctrl);
}

void nvme_ctrl_set_kato(struct nvme_ctrl *ctrl, uint32_t kato_ms)
{
	ctrl->kato_ms = kato_ms;
	if (!kato_ms && ctrl->admin_sq)
		reactor_timer_cancel(ctrl->admin_sq->reactor, &ctrl->kato_timer);
	nvme_ctrl_keep_alive(ctrl);
}

uint64_t nvme_ctrl_cap(const struct nvme_ctrl *ctrl)
{
	const struct nvme_target *target = ctrl->subsys->target;
	uint64_t mqes = ctrl->subsys->discovery ? NVME_ADMIN_QUEUE_DEPTH - 1
						: (uint64_t)target->params.io_queue_depth - 1;
	uint64_t timeout_500ms = 20;
	return mqes | NVME_CAP_CQR | timeout_500ms << NVME_CAP_TO_SHIFT | NVME_CAP_CSS_NVM |
	       NVME_CAP_CSS_CSI;
}

static bool cc_valid(uint32_t cc)
{
	uint32_t css = (cc & NVME_CC_CSS_MASK) >> NVME_CC_CSS_SHIFT;
	return (cc & NVME_CC_IOSQES_MASK) >> NVME_CC_IOSQES_SHIFT == 6 &&
	       (cc & NVME_CC_IOCQES_MASK) >> NVME_CC_IOCQES_SHIFT == 4 &&
	       (cc & NVME_CC_MPS_MASK) == 0 && (cc & NVME_CC_AMS_MASK) == 0 &&
	       (css == NVME_CC_CSS_NVM || css == NVME_CC_CSS_CSI);
}

void nvme_ctrl_write_cc(struct nvme_ctrl *ctrl, uint32_t cc)
{
	uint32_t old = ctrl->cc;
	uint32_t csts = atomic_load(&ctrl->csts);
	ctrl->cc = cc;
	if ((cc & NVME_CC_EN) && !(old & NVME_CC_EN)) {
		if (cc_valid(cc) || ctrl->subsys->discovery)
			csts |= NVME_CSTS_RDY;
		else
			csts |= NVME_CSTS_CFS;
	} else if (!(cc & NVME_CC_EN) && (old & NVME_CC_EN)) {
		csts &= ~(NVME_CSTS_RDY | NVME_CSTS_CFS | 3u << NVME_CSTS_SHST_SHIFT);
		nvme_ctrl_clear_fatal(ctrl); /* a reset ends a fault's fatal status */
	}
	if ((cc & NVME_CC_SHN_MASK) && !(old & NVME_CC_SHN_MASK)) {
		/* Nothing is cached that a shutdown would have to write back. */
		csts = (csts & ~(3u << NVME_CSTS_SHST_SHIFT)) | NVME_CSTS_SHST_CMPLT;
	} else if (!(cc & NVME_CC_SHN_MASK)) {
		csts &= ~(3u << NVME_CSTS_SHST_SHIFT);
	}
	atomic_store(&ctrl->csts, csts);
}

void nvme_ctrl_record_error(struct nvme_ctrl *ctrl, const struct nvme_req *req, uint16_t status)
{
	struct nvme_error_log *log = &ctrl->errors;
	pthread_mutex_lock(&log->lock);
	struct nvme_error_log_page *e = &log->entry[log->count % NVME_ERROR_LOG_ENTRIES];
	memset(e, 0, sizeof(*e));
	e->error_count = ++log->count;
	e->sqid = req->sq->qid;
	e->cmdid = req->cmd.command_id;
	e->status_field = (uint16_t)(status << 1);
	/* The byte of the SQE (bits 7:0) and the bit in it (10:8, always the field's first);
	 * FFFFh when no field is to blame. */
	e->parm_error_location = req->has_error_loc ? req->error_loc : 0xFFFF;
	e->nsid = req->cmd.nsid;
	/* The first block in error when a fault named it, else the command's first block. */
	if (req->faulted && req->has_error_lba)
		e->lba = req->error_lba;
	else if (req->sq->qid && (req->cmd.opcode == nvme_cmd_read || req->cmd.opcode == nvme_cmd_write ||
				  req->cmd.opcode == nvme_cmd_compare ||
				  req->cmd.opcode == nvme_cmd_write_zeroes ||
				  req->cmd.opcode == nvme_cmd_verify))
		e->lba = req->cmd.rw.slba;
	e->trtype = NVMF_TRTYPE_TCP;
	struct nvme_error_log_page kept = *e;
	pthread_mutex_unlock(&log->lock);
	/* The drive directory of the namespace keeps it too. */
	struct ns *ns = kept.nsid && kept.nsid != 0xFFFFFFFF ? nvme_subsys_ns(ctrl->subsys, kept.nsid)
							     : NULL;
	if (ns)
		ns_record_error(ns, &kept);
}

/* Held Asynchronous Event Requests complete only when something happens. */
void nvme_ctrl_queue_aer(struct nvme_ctrl *ctrl, struct nvme_req *req)
{
	if (ctrl->npending_events) {
		uint32_t event = ctrl->pending_events[0];
		memmove(ctrl->pending_events, ctrl->pending_events + 1,
			--ctrl->npending_events * sizeof(ctrl->pending_events[0]));
		req->cqe.result = event;
		nvme_req_complete(req, NVME_SC_SUCCESS);
		return;
	}
	if (ctrl->naer == NVME_AER_LIMIT) {
		nvme_req_complete(req, NVME_SC_ASYNC_LIMIT | NVME_STATUS_DNR);
		return;
	}
	ctrl->aer[ctrl->naer++] = req;
}

void nvme_ctrl_post_event(struct nvme_ctrl *ctrl, uint32_t event)
{
	if (ctrl->naer) {
		struct nvme_req *aer = ctrl->aer[--ctrl->naer];
		aer->cqe.result = event;
		nvme_req_complete(aer, NVME_SC_SUCCESS);
	} else if (ctrl->npending_events < NVME_AER_LIMIT) {
		ctrl->pending_events[ctrl->npending_events++] = event;
	}
}

struct ctrl_call {
	struct nvme_ctrl *ctrl;
	void (*fn)(struct nvme_ctrl *ctrl, uint64_t arg);
	uint64_t arg;
};

/* On the controller's admin-queue thread, which owns its AER slots and registers. */
static void run_ctrl_call(void *p)
{
	struct ctrl_call *call = p;
	if (!atomic_load(&call->ctrl->dead) && call->ctrl->admin_sq)
		call->fn(call->ctrl, call->arg);
	nvme_ctrl_put(call->ctrl);
	free(call);
}

void nvme_subsys_for_each_ctrl(struct nvme_subsys *subsys, uint16_t cntlid,
			       void (*fn)(struct nvme_ctrl *ctrl, uint64_t arg), uint64_t arg)
{
	pthread_mutex_lock(&subsys->lock);
	for (struct nvme_ctrl *c = subsys->ctrls; c; c = c->next_in_subsys) {
		/* A controller in the list still has its admin queue (teardown unlinks it first). */
		if (atomic_load(&c->dead) || !c->admin_sq || (cntlid && c->cntlid != cntlid))
			continue;
		struct ctrl_call *call = malloc(sizeof(*call));
		if (!call)
			continue;
		*call = (struct ctrl_call){c, fn, arg};
		atomic_fetch_add(&c->refs, 1);
		if (reactor_post(c->admin_sq->reactor, run_ctrl_call, call)) {
			atomic_fetch_sub(&c->refs, 1); /* the list still holds it: not the last */
			free(call);
		}
	}
	pthread_mutex_unlock(&subsys->lock);
}

void nvme_ctrl_clear_fatal(struct nvme_ctrl *ctrl)
{
	if (atomic_exchange(&ctrl->fatal, false))
		atomic_fetch_sub(&ctrl->subsys->target->faults.attention, 1);
}
