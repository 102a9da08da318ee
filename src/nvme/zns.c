/*
 * Zoned Namespace Command Set: Zone Management Send/Receive and Zone Append
 * parsing, the command set's Identify data, the Changed Zone List log and its
 * asynchronous event.  What the commands do to zones is the zoned kind's
 * business (ns/zoned.h); this file only checks and translates.
 */
#include <string.h>

#include "ns/zoned.h"
#include "nvme/internal.h"

#define DNR NVME_STATUS_DNR

static const struct ns_zone_ops *zone_ops(const struct ns *ns) { return ns ? ns->ops->zone : NULL; }

bool nvme_subsys_has_zoned(const struct nvme_subsys *subsys)
{
	for (uint32_t nsid = 1; nsid <= subsys->nn; nsid++)
		if (zone_ops(subsys->ns[nsid - 1].ns))
			return true;
	return false;
}

/*
 * Zone Append limit of the controller, in bytes: Identify reports one ZASL
 * for all namespaces, so the smallest limit of any zoned namespace, never
 * above MDTS.
 */
static uint64_t append_limit(const struct nvme_subsys *subsys)
{
	uint64_t limit = 4096ull << subsys->target->params.mdts;
	for (uint32_t nsid = 1; nsid <= subsys->nn; nsid++) {
		struct ns *ns = subsys->ns[nsid - 1].ns;
		const struct ns_zone_ops *z = zone_ops(ns);
		uint64_t own = z ? z->append_limit(ns) : 0;
		if (own && own < limit)
			limit = own;
	}
	return limit;
}

/* ---- Identify ---- */

void nvme_zns_identify_ctrl(const struct nvme_subsys *subsys, struct nvme_id_ctrl_zns *id)
{
	memset(id, 0, sizeof(*id));
	uint64_t limit = append_limit(subsys);
	/* ZASL: 2^n x 4 KiB (the minimum memory page size); 0 means MDTS. */
	if (limit < 4096ull << subsys->target->params.mdts)
		id->zasl = (uint8_t)__builtin_ctzll(limit / 4096);
}

uint16_t nvme_zns_identify_ns(struct ns *ns, struct nvme_id_ns_zns *id)
{
	const struct ns_zone_ops *z = zone_ops(ns);
	if (!z)
		return NVME_SC_INVALID_IO_CMD_SET | DNR;
	const struct zone_config *c = z->config(ns);
	memset(id, 0, sizeof(*id));
	id->zoc = 0; /* no variable capacity, no zone active excursions: Linux needs both off */
	id->ozcs = (c->cross_zone_read ? NVME_ZNS_OZCS_RAZB : 0) |
		   (c->zrwa_size ? NVME_ZNS_OZCS_ZRWASUP : 0);
	/* MAR/MOR are 0's based; all ones means no limit. */
	id->mar = c->max_active ? c->max_active - 1 : 0xFFFFFFFF;
	id->mor = c->max_open ? c->max_open - 1 : 0xFFFFFFFF;
	if (c->zrwa_size) {
		id->numzrwa = c->zrwa_resources - 1;
		id->zrwafg = (uint16_t)c->zrwa_fg;
		id->zrwasz = (uint16_t)c->zrwa_size;
		id->zrwacap = 1; /* explicit ZRWA flush supported */
	}
	id->lbafe[0].zsze = c->zone_size;
	id->lbafe[0].zdes = (uint8_t)(c->zde_bytes / 64);
	return NVME_SC_SUCCESS;
}

/* ---- Changed Zone List log and its event ---- */

uint16_t nvme_zns_changed_zone_log(struct nvme_req *req, uint8_t page[4096])
{
	struct ns *ns = nvme_subsys_ns(req->sq->ctrl->subsys, req->cmd.nsid);
	const struct ns_zone_ops *z = zone_ops(ns);
	if (!z)
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | DNR, NVME_SQE_AT(nsid));
	z->changed_list(ns, page);
	return NVME_SC_SUCCESS;
}

static void zone_changed_event(struct nvme_ctrl *ctrl, uint64_t unused)
{
	(void)unused;
	if (ctrl->async_event_config & NVME_CTRL_OAES_ZONE_DESC_CHANGED)
		nvme_ctrl_post_event(ctrl, NVME_AER_RESULT(NVME_AER_TYPE_NOTICE,
							   NVME_AER_NOTICE_ZONE_DESC_CHANGED,
							   NVME_LOG_ZONE_CHANGED_LIST));
}

/* ---- I/O commands ---- */

static void append_done(struct nvme_req *req, uint16_t status)
{
	if (!status) {
		/* The LBA written: Linux makes it the bio's sector. */
		req->cqe.result = req->io.slba;
		nvme_req_count_write(req, req->data_len);
	}
	nvme_req_complete_at(req, status, req->io.now_ns, req->io.done_ns);
}

static void execute_append(struct nvme_req *req)
{
	req->io = (struct ns_io){
	    .slba = req->cmd.rw.slba,
	    .nlb = req->cmd.rw.nlb + 1u,
	    .fua = req->cmd.rw.control & NVME_RW_CONTROL_FUA,
	    .buf = req->buf,
	    .now_ns = clock_now_ns(),
	    .parts = req->io_shard ? &req->parts : NULL,
	};
	nvme_run_io(req, req->ns->ops->zone->append, append_done);
}

static void execute_send(struct nvme_req *req)
{
	struct ns *ns = req->ns;
	struct zone_send cmd = {
	    .slba = req->cmd.zms.slba,
	    .action = req->cmd.zms.zsa,
	    .select_all = req->cmd.zms.zsflags & NVME_ZONE_SEND_SELECT_ALL,
	    .zrwa_alloc = req->cmd.zms.zsflags & NVME_ZONE_SEND_ZRWAA,
	    .extension = req->buf,
	    .now_ns = clock_now_ns(),
	};
	uint16_t status = ns->ops->zone->send(ns, &cmd);
	if (cmd.zones_changed)
		nvme_subsys_for_each_ctrl(req->sq->ctrl->subsys, 0, zone_changed_event, 0);
	nvme_req_complete_at(req, status, cmd.now_ns, cmd.done_ns);
}

static void execute_receive(struct nvme_req *req)
{
	struct ns *ns = req->ns;
	struct zone_report rep = {
	    .slba = req->cmd.zmr.slba,
	    .filter = req->cmd.zmr.zrasf,
	    .extended = req->cmd.zmr.zra == NVME_ZRA_EXT_ZONE_REPORT,
	    .partial = req->cmd.zmr.zraflags & NVME_ZONE_RECV_PARTIAL,
	    .buf = req->buf,
	    .len = req->data_len,
	};
	uint16_t status = ns->ops->zone->report(ns, &rep);
	req->data = req->buf;
	nvme_req_complete(req, status);
}

static uint16_t parse_append(struct nvme_req *req)
{
	uint16_t status = nvme_check_rw_range(req);
	if (status)
		return status;
	uint64_t len = ((uint64_t)req->cmd.rw.nlb + 1) << req->ns->lba_shift;
	if (len > append_limit(req->sq->ctrl->subsys))
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | DNR, NVME_SQE_AT(rw.nlb));
	req->execute = execute_append;
	return nvme_req_expect_data(req, NVME_XFER_H2C, (uint32_t)len);
}

static uint16_t parse_send(struct nvme_req *req)
{
	req->execute = execute_send;
	if (req->cmd.zms.zsa != NVME_ZONE_SET_DESC_EXT)
		return nvme_req_expect_data(req, NVME_XFER_NONE, 0);
	uint32_t len = req->ns->ops->zone->config(req->ns)->zde_bytes;
	if (!len) /* no zone descriptor extensions to set */
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | DNR, NVME_SQE_AT(zms.zsa));
	return nvme_req_expect_data(req, NVME_XFER_H2C, len);
}

static uint16_t parse_receive(struct nvme_req *req)
{
	uint8_t action = req->cmd.zmr.zra;
	if (action != NVME_ZRA_ZONE_REPORT && action != NVME_ZRA_EXT_ZONE_REPORT)
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | DNR, NVME_SQE_AT(zmr.zra));
	uint64_t len = ((uint64_t)req->cmd.zmr.numd + 1) * 4;
	if (len > 4096ull << req->sq->target->params.mdts)
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | DNR, NVME_SQE_AT(zmr.numd));
	req->execute = execute_receive;
	return nvme_req_expect_data(req, NVME_XFER_C2H, (uint32_t)len);
}

uint16_t nvme_parse_zns(struct nvme_req *req)
{
	if (!zone_ops(req->ns))
		return nvme_req_error_at(req, NVME_SC_INVALID_OPCODE | DNR, NVME_SQE_AT(opcode));
	switch (req->cmd.opcode) {
	case nvme_cmd_zone_append:
		return parse_append(req);
	case nvme_cmd_zone_mgmt_send:
		return parse_send(req);
	case nvme_cmd_zone_mgmt_recv:
		return parse_receive(req);
	default:
		return nvme_req_error_at(req, NVME_SC_INVALID_OPCODE | DNR, NVME_SQE_AT(opcode));
	}
}
