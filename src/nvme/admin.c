/* Admin commands other than Identify and Get Log Page: features, keep-alive, AER, abort. */
#include <string.h>

#include "nvme/internal.h"
#include "util/log.h"

static void execute_keep_alive(struct nvme_req *req)
{
	nvme_ctrl_keep_alive(req->sq->ctrl);
	nvme_req_complete(req, NVME_SC_SUCCESS);
}

static void execute_async_event(struct nvme_req *req)
{
	nvme_ctrl_queue_aer(req->sq->ctrl, req);
}

static void execute_abort(struct nvme_req *req)
{
	/* DW0 bit 0 set means "not aborted", which the spec allows for any command: commands
	 * finish too fast to be caught, and one a timeout fault holds stays held until the host
	 * resets (the path Linux takes anyway; docs/faults.md). */
	req->cqe.result = 1;
	nvme_req_complete(req, NVME_SC_SUCCESS);
}

static uint32_t queues_field(uint16_t count) { return (uint32_t)(count - 1) * 0x10001u; }

static uint16_t bad_feature_value(struct nvme_req *req, uint16_t status)
{
	return nvme_req_error_at(req, status | NVME_STATUS_DNR, NVME_SQE_AT(features.dword11));
}

static void execute_set_features(struct nvme_req *req)
{
	struct nvme_ctrl *ctrl = req->sq->ctrl;
	uint32_t value = req->cmd.features.dword11;
	uint16_t status = NVME_SC_SUCCESS;
	switch (req->cmd.features.fid) {
	case NVME_FEAT_NUM_QUEUES: {
		/* Number of I/O Submission and Completion Queues Requested, 0's based */
		uint16_t nsqr = (uint16_t)(value & 0xFFFF), ncqr = (uint16_t)(value >> 16);
		if (nsqr == 0xFFFF || ncqr == 0xFFFF) {
			status = bad_feature_value(req, NVME_SC_INVALID_FIELD);
			break;
		}
		uint16_t wanted = (uint16_t)((nsqr < ncqr ? nsqr : ncqr) + 1);
		uint16_t max = ctrl->subsys->target->params.max_io_queues;
		pthread_mutex_lock(&ctrl->lock);
		/* A host may ask again after a reset; queues already connected keep their IDs. */
		if (!ctrl->io_queues_granted)
			ctrl->io_queues_granted = wanted < max ? wanted : max;
		req->cqe.result = queues_field(ctrl->io_queues_granted);
		pthread_mutex_unlock(&ctrl->lock);
		break;
	}
	case NVME_FEAT_ASYNC_EVENT:
		ctrl->async_event_config = value;
		break;
	case NVME_FEAT_VOLATILE_WC:
		/* A drive's setting: every namespace follows it, and a drive directory keeps it. */
		for (uint32_t nsid = 1; nsid <= ctrl->subsys->nn; nsid++)
			ns_set_write_cache(ctrl->subsys->ns[nsid - 1].ns, value & 1);
		break;
	case NVME_FEAT_KATO:
		nvme_ctrl_set_kato(ctrl, value);
		break;
	case NVME_FEAT_HOST_ID:
		/* The host identifier is fixed by Connect on fabrics. */
		status = nvme_req_error_at(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR,
					   NVME_SQE_AT(features.fid));
		break;
	case NVME_FEAT_IOCS_PROFILE:
		if (value & 0x1FF) /* only command set combination 0 exists */
			status = bad_feature_value(req, NVME_SC_INVALID_IO_CMD_SET);
		break;
	case NVME_FEAT_FDP:
	case NVME_FEAT_FDP_EVENTS:
		status = nvme_fdp_set_feature(req);
		break;
	default:
		status = nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					   NVME_SQE_AT(features.fid));
	}
	nvme_req_complete(req, status);
}

static void execute_get_features(struct nvme_req *req)
{
	struct nvme_ctrl *ctrl = req->sq->ctrl;
	uint32_t sel = req->cmd.features.sel & NVME_FEAT_SEL_MASK;
	uint16_t status = NVME_SC_SUCCESS;
	if (sel == NVME_FEAT_SEL_SUPPORTED) {
		/* Every supported feature is changeable and none is saveable. */
		req->cqe.result = 1u << 2;
		if (req->xfer == NVME_XFER_C2H) { /* FDP Events: no descriptors to go with it */
			memset(req->buf, 0, req->data_len);
			req->data = req->buf;
		}
		nvme_req_complete(req, status);
		return;
	}
	bool current = sel == NVME_FEAT_SEL_CURRENT || sel == NVME_FEAT_SEL_SAVED;
	switch (req->cmd.features.fid) {
	case NVME_FEAT_NUM_QUEUES: {
		uint16_t granted = ctrl->subsys->target->params.max_io_queues;
		pthread_mutex_lock(&ctrl->lock);
		if (current && ctrl->io_queues_granted)
			granted = ctrl->io_queues_granted;
		pthread_mutex_unlock(&ctrl->lock);
		req->cqe.result = queues_field(granted);
		break;
	}
	case NVME_FEAT_ASYNC_EVENT:
		req->cqe.result = current ? ctrl->async_event_config : 0;
		break;
	case NVME_FEAT_VOLATILE_WC: {
		struct ns *first = nvme_subsys_ns(ctrl->subsys, 1);
		req->cqe.result = !current || !first || atomic_load(&first->write_cache);
		break;
	}
	case NVME_FEAT_KATO:
		req->cqe.result = current ? ctrl->kato_ms : 0;
		break;
	case NVME_FEAT_ARBITRATION:
	case NVME_FEAT_POWER_MGMT:
	case NVME_FEAT_IOCS_PROFILE:
		req->cqe.result = 0;
		break;
	case NVME_FEAT_HOST_ID:
		nvme_req_copy_out(req, ctrl->hostid, sizeof(ctrl->hostid));
		break;
	case NVME_FEAT_FDP:
	case NVME_FEAT_FDP_EVENTS:
		status = nvme_fdp_get_feature(req);
		break;
	default:
		status = nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					   NVME_SQE_AT(features.fid));
	}
	nvme_req_complete(req, status);
}

static uint16_t parse_get_features(struct nvme_req *req)
{
	req->execute = execute_get_features;
	if (req->cmd.features.fid == NVME_FEAT_HOST_ID) {
		/* Only the 128-bit host identifier exists on fabrics: EXHID must be set. */
		if (!(req->cmd.features.dword11 & 1))
			return bad_feature_value(req, NVME_SC_INVALID_FIELD);
		return nvme_req_expect_data(req, NVME_XFER_C2H, 16);
	}
	if (req->cmd.features.fid == NVME_FEAT_FDP || req->cmd.features.fid == NVME_FEAT_FDP_EVENTS)
		return nvme_fdp_parse_feature(req, false);
	return nvme_req_expect_data(req, NVME_XFER_NONE, 0);
}

static uint16_t parse_set_features(struct nvme_req *req)
{
	req->execute = execute_set_features;
	if (req->cmd.features.fid == NVME_FEAT_FDP || req->cmd.features.fid == NVME_FEAT_FDP_EVENTS)
		return nvme_fdp_parse_feature(req, true);
	return nvme_req_expect_data(req, NVME_XFER_NONE, 0);
}

static uint16_t parse_common(struct nvme_req *req, bool *handled)
{
	*handled = true;
	switch (req->cmd.opcode) {
	case nvme_admin_identify:
		req->execute = nvme_execute_identify;
		return nvme_req_expect_data(req, NVME_XFER_C2H, NVME_IDENTIFY_DATA_SIZE);
	case nvme_admin_get_log_page:
		req->execute = nvme_execute_get_log_page;
		return nvme_req_expect_data(req, NVME_XFER_C2H, nvme_get_log_len(req));
	case nvme_admin_keep_alive:
		req->execute = execute_keep_alive;
		return nvme_req_expect_data(req, NVME_XFER_NONE, 0);
	case nvme_admin_async_event:
		req->execute = execute_async_event;
		return nvme_req_expect_data(req, NVME_XFER_NONE, 0);
	case nvme_admin_set_features:
		return parse_set_features(req);
	case nvme_admin_get_features:
		return parse_get_features(req);
	default:
		*handled = false;
		return nvme_req_error_at(req, NVME_SC_INVALID_OPCODE | NVME_STATUS_DNR,
					 NVME_SQE_AT(opcode));
	}
}

/* Format NVM: one LBA format, no protection information; every secure erase is an erase. */
static void execute_format(struct nvme_req *req)
{
	const struct nvme_subsys *subsys = req->sq->ctrl->subsys;
	uint32_t nsid = req->cmd.nsid, first = nsid, last = nsid;
	if (nsid == 0xFFFFFFFF) {
		first = 1;
		last = subsys->nn;
	}
	uint16_t status = NVME_SC_SUCCESS;
	for (uint32_t i = first; i <= last && !status; i++) {
		struct ns *ns = nvme_subsys_ns(subsys, i);
		log_info("Format NVM of namespace %u of %s", i, subsys->nqn);
		status = ns_format(ns);
	}
	nvme_req_complete(req, status);
}

static uint16_t parse_format(struct nvme_req *req)
{
	const struct nvme_format_fields *f = &req->cmd.format;
	uint32_t nsid = req->cmd.nsid;
	if (nsid != 0xFFFFFFFF && !nvme_subsys_ns(req->sq->ctrl->subsys, nsid))
		return nvme_req_error_at(req, NVME_SC_INVALID_NS | NVME_STATUS_DNR, NVME_SQE_AT(nsid));
	if ((f->lbaf & (NVME_FORMAT_LBAF_MASK | NVME_FORMAT_PI_MASK)) ||
	    (f->ses & NVME_FORMAT_LBAFU_MASK))
		return nvme_req_error_at(req, NVME_SC_INVALID_FORMAT | NVME_STATUS_DNR,
					 NVME_SQE_AT(format.lbaf));
	if (((f->ses & NVME_FORMAT_SES_MASK) >> NVME_FORMAT_SES_SHIFT) > 2)
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					 NVME_SQE_AT(format.ses));
	req->execute = execute_format;
	return nvme_req_expect_data(req, NVME_XFER_NONE, 0);
}

static bool ctrl_ready(const struct nvme_ctrl *ctrl)
{
	return (ctrl->cc & NVME_CC_EN) && (atomic_load(&ctrl->csts) & NVME_CSTS_RDY);
}

uint16_t nvme_parse_admin(struct nvme_req *req)
{
	if (!ctrl_ready(req->sq->ctrl))
		return NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR;
	if (nvme_fault_hold_admin(req))
		return NVME_SC_SUCCESS;
	if (req->cmd.opcode == nvme_admin_abort_cmd) {
		req->execute = execute_abort;
		return nvme_req_expect_data(req, NVME_XFER_NONE, 0);
	}
	if (req->cmd.opcode == nvme_admin_format_nvm)
		return parse_format(req);
	bool handled;
	return parse_common(req, &handled);
}

uint16_t nvme_parse_discovery_admin(struct nvme_req *req)
{
	if (!ctrl_ready(req->sq->ctrl))
		return NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR;
	bool handled;
	uint16_t status = parse_common(req, &handled);
	if (!handled)
		return status;
	/* A discovery controller has no namespaces and only the discovery log. */
	if (req->cmd.opcode == nvme_admin_identify && req->cmd.identify.cns != NVME_ID_CNS_CTRL)
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					 NVME_SQE_AT(identify.cns));
	return status;
}
