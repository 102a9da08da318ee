/* Request life: parse, data checks, completion (now or at a modelled time), cancellation. */
#include <string.h>

#include "nvme/internal.h"
#include "util/util.h"

void nvme_sq_init(struct nvme_sq *sq, struct nvme_target *target,
		  const struct nvme_transport_ops *ops, struct reactor *reactor, uint32_t max_data)
{
	memset(sq, 0, sizeof(*sq));
	sq->target = target;
	sq->ops = ops;
	sq->reactor = reactor;
	sq->max_data = max_data;
	sq->size = NVME_ADMIN_QUEUE_DEPTH;
}

void nvme_sq_destroy(struct nvme_sq *sq)
{
	nvme_auth_free(sq);
	struct nvme_ctrl *ctrl = sq->ctrl;
	if (!ctrl)
		return;
	sq->ctrl = NULL;
	if (sq->qid == 0) {
		nvme_ctrl_teardown(ctrl);
		ctrl->admin_sq = NULL;
	} else {
		pthread_mutex_lock(&ctrl->lock);
		if (ctrl->io_sq[sq->qid] == sq)
			ctrl->io_sq[sq->qid] = NULL;
		pthread_mutex_unlock(&ctrl->lock);
	}
	nvme_ctrl_put(ctrl);
}

bool nvme_sq_busy(const struct nvme_sq *sq) { return sq->io_pending != 0; }

bool nvme_sq_orphaned(const struct nvme_sq *sq)
{
	return sq->auth_failed ||
	       (sq->ctrl && atomic_load_explicit(&sq->ctrl->dead, memory_order_relaxed));
}

bool nvme_sq_ready(const struct nvme_sq *sq)
{
	return sq->ctrl && (!sq->auth_required || sq->authenticated);
}

static bool sgl_psdt_valid(uint8_t flags)
{
	/* Fabrics carry SGLs only (PSDT 01b or 10b); fused operations are not supported. */
	uint8_t psdt = flags & NVME_CMD_PSDT_MASK;
	return (psdt == 0x40 || psdt == 0x80) && (flags & 0x3) == 0;
}

uint16_t nvme_req_init(struct nvme_req *req, struct nvme_sq *sq)
{
	req->sq = sq;
	req->ns = NULL;
	req->xfer = NVME_XFER_NONE;
	req->data_len = 0;
	req->data = NULL;
	req->data_iovcnt = 0;
	req->execute = NULL;
	req->io_shard = NULL;
	req->has_error_loc = false;
	req->faulted = false;
	memset(&req->cqe, 0, sizeof(req->cqe));

	atomic_store_explicit(&sq->last_command_ns, clock_coarse_ns(), memory_order_relaxed);
	if (!sgl_psdt_valid(req->cmd.flags))
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					 NVME_SQE_AT(flags));
	if (req->cmd.opcode == nvme_admin_fabrics)
		return nvme_parse_fabrics(req);
	if (!sq->ctrl)
		return NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR;
	if (!nvme_sq_ready(sq))
		return NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR;
	if (sq->qid != 0)
		return nvme_parse_io(req);
	if (sq->ctrl->subsys->discovery)
		return nvme_parse_discovery_admin(req);
	return nvme_parse_admin(req);
}

uint16_t nvme_req_error_at(struct nvme_req *req, uint16_t status, size_t sqe_byte)
{
	req->has_error_loc = true;
	req->error_loc = (uint8_t)sqe_byte;
	return status;
}

/* The Data Pointer's fields a data check can blame. */
static uint16_t bad_sgl(struct nvme_req *req, uint16_t status, size_t field)
{
	return nvme_req_error_at(req, status | NVME_STATUS_DNR, NVME_SQE_AT(dptr) + field);
}

uint16_t nvme_req_expect_data(struct nvme_req *req, enum nvme_xfer xfer, uint32_t len)
{
	const struct nvme_sgl_desc *sgl = &req->cmd.dptr;
	const size_t length = offsetof(struct nvme_sgl_desc, length);
	if (len == 0 && xfer == NVME_XFER_NONE) {
		if (sgl->length != 0 || req->incapsule_len)
			return bad_sgl(req, NVME_SC_SGL_INVALID_DATA, length);
		return NVME_SC_SUCCESS;
	}
	if (sgl->type == NVME_SGL_IN_CAPSULE) {
		if (xfer != NVME_XFER_H2C)
			return bad_sgl(req, NVME_SC_INVALID_FIELD,
				       offsetof(struct nvme_sgl_desc, type));
		if (sgl->addr != 0)
			return bad_sgl(req, NVME_SC_SGL_INVALID_OFFSET,
				       offsetof(struct nvme_sgl_desc, addr));
		if (req->incapsule_len != sgl->length)
			return bad_sgl(req, NVME_SC_SGL_INVALID_DATA, length);
	} else if (sgl->type == NVME_SGL_TRANSPORT_DATA) {
		if (req->incapsule_len)
			return bad_sgl(req, NVME_SC_SGL_INVALID_DATA, length);
	} else {
		return bad_sgl(req, NVME_SC_SGL_INVALID_TYPE, offsetof(struct nvme_sgl_desc, type));
	}
	if (sgl->length != len)
		return bad_sgl(req, NVME_SC_SGL_INVALID_DATA, length);
	if (len > req->sq->max_data)
		return bad_sgl(req, NVME_SC_INVALID_FIELD, length);
	req->xfer = xfer;
	req->data_len = len;
	return NVME_SC_SUCCESS;
}

void nvme_req_copy_out(struct nvme_req *req, const void *src, size_t len)
{
	if (len > req->data_len)
		len = req->data_len;
	memcpy(req->buf, src, len);
	memset((char *)req->buf + len, 0, req->data_len - len);
	req->data = req->buf;
}

/* unanswered: a command a fault held whose connection is closing */
static void record_answer(struct nvme_req *req, uint16_t status, uint64_t done_ns, uint64_t now_ns,
			  bool unanswered)
{
	struct nvme_io_shard *shard = req->io_shard;
	req->io_shard = NULL;
	hist_shard_add(&shard->latency, now_ns - req->submit_ns);
	bool has_parts = false;
	for (int i = 0; i < LAT_PARTS; i++) {
		if (req->parts.ns[i]) {
			hist_shard_add(&shard->parts[i], req->parts.ns[i]);
			has_parts = true;
		}
	}
	if (has_parts)
		hist_shard_bump(&shard->parts_cmds, 1);
	hist_shard_bump(&shard->answered, 1);
	struct nvme_ns_recorder *rec = shard->owner;
	struct nvme_trace_sink *sink = atomic_load_explicit(&rec->trace, memory_order_acquire);
	if (!sink)
		return;
	struct nvme_trace_event ev = {
	    .submit_ns = req->submit_ns,
	    .done_ns = done_ns < now_ns ? done_ns : now_ns,
	    .answered_ns = now_ns,
	    .nsid = req->cmd.nsid,
	    .qid = req->sq->qid,
	    .status = status,
	    .opcode = req->cmd.opcode,
	    .parts = req->parts,
	    .unanswered = unanswered,
	};
	if (req->faulted) {
		ev.fault_type = req->fault_type;
		ev.fault_id = req->fault_id;
		ev.fault_ns = req->fault_delay_ns;
	}
	nvme_io_cmd_range(&req->cmd, &ev.slba, &ev.nlb);
	sink->record(sink, (unsigned)(shard - rec->shards), &ev);
}

/* A recorded command goes away unanswered (its connection closed); a trace shows the ones a
 * fault held. */
static void forget_record(struct nvme_req *req)
{
	if (req->io_shard && nvme_fault_held(req)) {
		uint64_t now_ns = clock_now_ns();
		record_answer(req, 0, now_ns, now_ns, true);
	} else if (req->io_shard) {
		hist_shard_bump(&req->io_shard->answered, 1);
		req->io_shard = NULL;
	}
}

/* done_ns: when the model said the command completes; now_ns: read only for recorded commands. */
static void answer(struct nvme_req *req, uint16_t status, uint64_t done_ns, uint64_t now_ns)
{
	struct nvme_sq *sq = req->sq;
	struct nvme_cqe *cqe = &req->cqe;
	cqe->command_id = req->cmd.command_id;
	cqe->sq_id = sq->qid;
	cqe->status = (uint16_t)(status << 1);
	if (sq->sqflow_disabled) {
		cqe->sq_head = 0xFFFF;
	} else {
		sq->head = sq->head + 1u == sq->size ? 0 : (uint16_t)(sq->head + 1u);
		cqe->sq_head = sq->head;
	}
	if (status && sq->ctrl)
		nvme_ctrl_record_error(sq->ctrl, req, status);
	req->has_error_loc = false; /* a transfer failure of the slot's next command names none */
	if (req->faulted)
		nvme_fault_answered(req, status);
	if (req->io_shard)
		record_answer(req, status, done_ns, now_ns, false);
	sq->ops->queue_response(req);
}

void nvme_req_complete(struct nvme_req *req, uint16_t status)
{
	uint64_t now_ns = req->io_shard ? clock_now_ns() : 0;
	answer(req, status, now_ns, now_ns);
}

void nvme_req_cancel(struct nvme_req *req)
{
	struct nvme_sq *sq = req->sq;
	forget_record(req);
	if (req->io_pending)
		req->canceled = true; /* its namespace still calls back; that answer is dropped */
	if (reactor_timer_armed(&req->due))
		reactor_timer_cancel(sq->reactor, &req->due);
	struct nvme_ctrl *ctrl = sq->ctrl;
	if (!ctrl || sq->qid != 0)
		return;
	for (unsigned i = 0; i < ctrl->naer; i++) {
		if (ctrl->aer[i] == req) {
			ctrl->aer[i] = ctrl->aer[--ctrl->naer];
			return;
		}
	}
}

void nvme_req_fail(struct nvme_req *req, uint16_t status)
{
	/* The command may never have been parsed: nothing of an earlier one may leak out. */
	memset(&req->cqe, 0, sizeof(req->cqe));
	req->xfer = NVME_XFER_NONE;
	req->data_len = 0;
	nvme_req_complete(req, status);
}

static void due_fired(struct reactor_timer *timer)
{
	struct nvme_req *req = container_of(timer, struct nvme_req, due);
	answer(req, req->pending_status, timer->due_ns, req->io_shard ? clock_now_ns() : 0);
}

void nvme_req_io_wait(struct nvme_req *req)
{
	req->io_pending = true;
	req->sq->io_pending++;
}

bool nvme_req_io_back(struct nvme_req *req)
{
	req->io_pending = false;
	req->sq->io_pending--;
	bool canceled = req->canceled;
	req->canceled = false;
	return !canceled;
}

uint64_t nvme_model_due(const struct ns *ns, uint64_t start_ns, uint64_t done_ns)
{
	uint64_t floor_ns = ns->transport_floor_ns;
	return done_ns > start_ns + floor_ns ? done_ns - floor_ns : start_ns;
}

void nvme_req_complete_at(struct nvme_req *req, uint16_t status, uint64_t start_ns,
			  uint64_t done_ns)
{
	if (req->faulted)
		done_ns = nvme_fault_due(req, start_ns, done_ns);
	uint64_t due_ns = req->ns ? nvme_model_due(req->ns, start_ns, done_ns) : done_ns;
	uint64_t now_ns = reactor_now_ns(req->sq->reactor);
	if (due_ns <= now_ns) {
		answer(req, status, due_ns, now_ns);
		return;
	}
	req->pending_status = status;
	req->due.fire = due_fired;
	reactor_timer_arm(req->sq->reactor, &req->due, due_ns);
}
