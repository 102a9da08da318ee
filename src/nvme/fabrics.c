/* Fabrics commands: Connect, Property Get and Property Set (authentication: auth.c). */
#include <string.h>

#include "nvme/internal.h"
#include "util/log.h"

/* Connect's Invalid Parameters status names the bad field by its offset (in the SQE or the data). */
static uint16_t connect_invalid_param(struct nvme_req *req, bool in_data, uint16_t offset)
{
	req->cqe.result = offset | (uint32_t)(in_data ? 1 : 0) << 16;
	return NVME_SC_CONNECT_INVALID_PARAM | NVME_STATUS_DNR;
}

static bool nqn_terminated(const char *field)
{
	return memchr(field, '\0', NVMF_NQN_FIELD_LEN) != NULL;
}

static uint16_t connect_admin(struct nvme_req *req, struct nvme_subsys *subsys,
			      const struct nvmf_connect_command *c,
			      const struct nvmf_connect_data *data, const struct nvme_host *host)
{
	struct nvme_sq *sq = req->sq;
	if (data->cntlid != NVMF_CNTLID_DYNAMIC)
		return connect_invalid_param(req, true, offsetof(struct nvmf_connect_data, cntlid));
	/* The host sends the admin Connect before it can have read CAP.MQES. */
	if (c->sqsize >= NVME_ADMIN_QUEUE_DEPTH)
		return connect_invalid_param(req, false, NVME_SQE_AT(connect.sqsize));
	unsigned limit = subsys->target->params.max_ctrls_per_host;
	if (limit && nvme_target_count_ctrls(subsys->target, data->hostnqn) >= limit) {
		log_once(
		    &subsys->target->ctrl_limit_logged,
		    "connect refused: host %s has %u controllers already (--max-controllers-per-host)",
		    data->hostnqn, limit);
		return NVME_SC_CONNECT_CTRL_BUSY | NVME_STATUS_DNR;
	}
	struct nvme_ctrl *ctrl = nvme_ctrl_create(subsys, sq, data, c->kato, host);
	if (!ctrl)
		return NVME_SC_CONNECT_CTRL_BUSY | NVME_STATUS_DNR;
	sq->ctrl = ctrl;
	sq->qid = 0;
	sq->size = (uint16_t)(c->sqsize + 1);
	req->cqe.result = ctrl->cntlid;
	return NVME_SC_SUCCESS;
}

static uint16_t connect_io(struct nvme_req *req, struct nvme_subsys *subsys,
			   const struct nvmf_connect_command *c,
			   const struct nvmf_connect_data *data)
{
	struct nvme_sq *sq = req->sq;
	if (subsys->discovery)
		return connect_invalid_param(req, false, NVME_SQE_AT(connect.qid));
	struct nvme_ctrl *ctrl = nvme_ctrl_get_by_id(subsys, data->cntlid);
	if (!ctrl)
		return connect_invalid_param(req, true, offsetof(struct nvmf_connect_data, cntlid));
	uint16_t status = NVME_SC_SUCCESS;
	if (strcmp(ctrl->hostnqn, data->hostnqn) != 0) {
		status = connect_invalid_param(req, true, offsetof(struct nvmf_connect_data, hostnqn));
	} else if (memcmp(ctrl->hostid, data->hostid, sizeof(ctrl->hostid)) != 0) {
		status = connect_invalid_param(req, true, offsetof(struct nvmf_connect_data, hostid));
	} else if (!(ctrl->cc & NVME_CC_EN)) {
		status = NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR;
	} else if (c->sqsize == 0 || c->sqsize >= subsys->target->params.io_queue_depth) {
		status = connect_invalid_param(req, false, NVME_SQE_AT(connect.sqsize));
	} else {
		pthread_mutex_lock(&ctrl->lock);
		if (c->qid > ctrl->io_queues_granted)
			status = connect_invalid_param(req, false, NVME_SQE_AT(connect.qid));
		else if (ctrl->io_sq[c->qid])
			status = NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR;
		else
			ctrl->io_sq[c->qid] = sq;
		pthread_mutex_unlock(&ctrl->lock);
	}
	if (status) {
		nvme_ctrl_put(ctrl);
		return status;
	}
	sq->ctrl = ctrl;
	sq->qid = c->qid;
	sq->size = (uint16_t)(c->sqsize + 1);
	req->cqe.result = ctrl->cntlid;
	return NVME_SC_SUCCESS;
}

static void execute_connect(struct nvme_req *req)
{
	const struct nvmf_connect_command *c = &req->cmd.connect;
	struct nvmf_connect_data *data = req->buf;
	struct nvme_sq *sq = req->sq;
	uint16_t status;

	if (!nqn_terminated(data->subsysnqn)) {
		status = connect_invalid_param(req, true, offsetof(struct nvmf_connect_data, subsysnqn));
		goto done;
	}
	if (!nqn_terminated(data->hostnqn)) {
		status = connect_invalid_param(req, true, offsetof(struct nvmf_connect_data, hostnqn));
		goto done;
	}
	struct nvme_subsys *subsys = nvme_target_find_subsys(sq->target, data->subsysnqn);
	if (!subsys) {
		log_warn("connect from %s to unknown subsystem %s", data->hostnqn, data->subsysnqn);
		status = connect_invalid_param(req, true, offsetof(struct nvmf_connect_data, subsysnqn));
		goto done;
	}
	const struct nvme_host *host;
	if (!nvme_subsys_admits(subsys, data->hostnqn, &host)) {
		log_warn("connect refused: host %s is not allowed in %s", data->hostnqn,
			 subsys->nqn);
		status = NVME_SC_CONNECT_INVALID_HOST | NVME_STATUS_DNR;
		goto done;
	}
	status = c->qid == 0 ? connect_admin(req, subsys, c, data, host)
			     : connect_io(req, subsys, c, data);
	if (status != NVME_SC_SUCCESS)
		goto done;
	if (c->cattr & NVMF_CONNECT_CATTR_DISABLE_SQFLOW) {
		sq->sqflow_disabled = true;
		if (c->qid == 0)
			log_info("controller %u: the host disabled SQ flow control",
				 sq->ctrl->cntlid);
	}
	/* Discovery tells nothing a host could not learn by asking: it never authenticates. */
	if (!subsys->discovery && sq->ctrl->host && sq->ctrl->host->has_key) {
		nvme_auth_require(sq);
		req->cqe.result |= NVMF_CONNECT_AUTHREQ_ATR;
	}
done:
	nvme_req_complete(req, status);
}

static uint16_t property_width(uint32_t offset)
{
	switch (offset) {
	case NVME_REG_CAP:
		return 8;
	case NVME_REG_VS:
	case NVME_REG_CC:
	case NVME_REG_CSTS:
		return 4;
	default:
		return 0;
	}
}

static uint32_t attrib_width(uint8_t attrib) { return (attrib & 1) ? 8 : 4; }

static void execute_property_get(struct nvme_req *req)
{
	const struct nvmf_property_get_command *c = &req->cmd.prop_get;
	struct nvme_ctrl *ctrl = req->sq->ctrl;
	uint16_t status = NVME_SC_SUCCESS;
	switch (c->offset) {
	case NVME_REG_CAP:
		req->cqe.result = nvme_ctrl_cap(ctrl);
		break;
	case NVME_REG_VS:
		req->cqe.result = NVME_VS(2, 0, 0);
		break;
	case NVME_REG_CC:
		req->cqe.result = ctrl->cc;
		break;
	case NVME_REG_CSTS:
		req->cqe.result = atomic_load(&ctrl->csts);
		break;
	default: /* property_width() let only these through */
		status = NVME_SC_INVALID_FIELD | NVME_STATUS_DNR;
	}
	nvme_req_complete(req, status);
}

static void execute_property_set(struct nvme_req *req)
{
	const struct nvmf_property_set_command *c = &req->cmd.prop_set;
	if (c->offset != NVME_REG_CC) {
		nvme_req_complete(req,
				  nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
						    NVME_SQE_AT(prop_set.offset)));
		return;
	}
	nvme_ctrl_write_cc(req->sq->ctrl, (uint32_t)c->value);
	nvme_req_complete(req, NVME_SC_SUCCESS);
}

uint16_t nvme_parse_fabrics(struct nvme_req *req)
{
	const struct nvme_sqe *c = &req->cmd;
	struct nvme_sq *sq = req->sq;
	if (c->fabrics.fctype == nvme_fabrics_type_connect) {
		if (sq->ctrl)
			return NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR;
		if (c->connect.recfmt != 0)
			return nvme_req_error_at(req, NVME_SC_CONNECT_FORMAT | NVME_STATUS_DNR,
						 NVME_SQE_AT(connect.recfmt));
		req->execute = execute_connect;
		return nvme_req_expect_data(req, NVME_XFER_H2C, sizeof(struct nvmf_connect_data));
	}
	if (!sq->ctrl)
		return NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR;
	if (c->fabrics.fctype == nvme_fabrics_type_auth_send ||
	    c->fabrics.fctype == nvme_fabrics_type_auth_receive)
		return nvme_parse_auth(req);
	if (!nvme_sq_ready(sq))
		return NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR;
	/* Properties belong to the controller: admin queue only. */
	if (sq->qid != 0)
		return nvme_req_error_at(req, NVME_SC_INVALID_OPCODE | NVME_STATUS_DNR,
					 NVME_SQE_AT(fabrics.fctype));
	if (c->fabrics.fctype == nvme_fabrics_type_property_get) {
		uint16_t width = property_width(c->prop_get.offset);
		if (!width)
			return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
						 NVME_SQE_AT(prop_get.offset));
		if (width != attrib_width(c->prop_get.attrib))
			return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
						 NVME_SQE_AT(prop_get.attrib));
		req->execute = execute_property_get;
		return nvme_req_expect_data(req, NVME_XFER_NONE, 0);
	}
	if (c->fabrics.fctype == nvme_fabrics_type_property_set) {
		if (attrib_width(c->prop_set.attrib) != 4)
			return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
						 NVME_SQE_AT(prop_set.attrib));
		req->execute = execute_property_set;
		return nvme_req_expect_data(req, NVME_XFER_NONE, 0);
	}
	return nvme_req_error_at(req, NVME_SC_INVALID_OPCODE | NVME_STATUS_DNR,
				 NVME_SQE_AT(fabrics.fctype));
}
