/* Identify: controller, namespaces, namespace lists and descriptors. */
#include <string.h>

#include "nvme/internal.h"

#define NVME_ID_NS_LIST_MAX 1024

static void fill_id_ctrl(const struct nvme_ctrl *ctrl, struct nvme_id_ctrl *id)
{
	const struct nvme_subsys *subsys = ctrl->subsys;
	const struct nvme_target_params *p = &subsys->target->params;
	memset(id, 0, sizeof(*id));
	memcpy(id->sn, subsys->serial, sizeof(id->sn));
	memcpy(id->mn, subsys->model, sizeof(id->mn));
	memset(id->fr, ' ', sizeof(id->fr));
	memcpy(id->fr, NVME_FIRMWARE_REVISION, strlen(NVME_FIRMWARE_REVISION));
	id->cntlid = ctrl->cntlid;
	id->ver = NVME_VS(2, 0, 0);
	/* Traffic-based keep-alive: any command counts, so a busy host is never dropped. */
	id->ctratt = NVME_CTRL_CTRATT_128_ID | NVME_CTRL_CTRATT_TBKAS;
	id->sgls = NVME_CTRL_SGLS_SUPPORTED | NVME_CTRL_SGLS_OFFSET;
	id->maxcmd = subsys->discovery ? NVME_ADMIN_QUEUE_DEPTH : p->io_queue_depth;
	id->sqes = 0x66;
	id->cqes = 0x44;
	id->aerl = NVME_AER_LIMIT - 1;
	id->elpe = NVME_ERROR_LOG_ENTRIES - 1;
	/* KAS is in 100 ms units: Keep Alive is timed to the tenth of a second. */
	id->kas = 1;
	id->msdbd = 1;
	memcpy(id->subnqn, subsys->nqn, sizeof(id->subnqn));
	if (subsys->discovery) {
		id->cntrltype = NVME_CTRL_DISC;
		id->oaes = NVME_CTRL_OAES_DISC_LOG_CHANGE;
		id->lpa = NVME_CTRL_LPA_EXTENDED;
		return;
	}
	id->cntrltype = NVME_CTRL_IO;
	id->cmic = NVME_CTRL_CMIC_MULTI_CTRL;
	/* Temperature thresholds: a thermal fault's, else the defaults it would have. */
	struct nvme_health health;
	nvme_subsys_health(ctrl->subsys, 0, &health);
	id->wctemp = health.wctemp_k;
	id->cctemp = health.cctemp_k;
	id->mdts = p->mdts;
	id->oaes = NVME_CTRL_OAES_NS_ATTR;
	if (nvme_subsys_has_zoned(subsys))
		id->oaes |= NVME_CTRL_OAES_ZONE_DESC_CHANGED;
	id->lpa = NVME_CTRL_LPA_SMART_PER_NS | NVME_CTRL_LPA_CMD_EFFECTS | NVME_CTRL_LPA_EXTENDED;
	id->oacs = NVME_CTRL_OACS_FORMAT_NVM;
	id->fna = 0; /* Format NVM applies to the namespace it names (or all, with FFFFFFFFh) */
	id->frmw = (1u << 1) | 1u; /* one slot, slot 1 read-only */
	if (nvme_subsys_has_fdp(subsys)) {
		/* Every namespace is an endurance group (ENDGID = NSID; see fdp.c). */
		id->ctratt |= NVME_CTRL_CTRATT_ENDURANCE_GROUPS | NVME_CTRL_CTRATT_FDPS;
		id->endgidmax = (uint16_t)(subsys->nn < 0xFFFF ? subsys->nn : 0xFFFF);
	}
	id->npss = 0;
	id->psd[0].max_power = 2500; /* 25 W in 0.01 W units */
	id->nn = subsys->nn;
	id->oncs = NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES |
		   NVME_CTRL_ONCS_VERIFY;
	/* Present, and Flush with NSID FFFFFFFFh flushes every namespace. */
	id->vwc = NVME_CTRL_VWC_PRESENT | 3u << 1;
	id->ioccsz = (64 + p->incapsule_size) / 16;
	id->iorcsz = 1;
}

/* The namespace's endurance group, when the controller reports them (fdp.c). */
static uint16_t endgid(const struct nvme_subsys *subsys, uint32_t nsid)
{
	return nvme_subsys_has_fdp(subsys) && nsid <= 0xFFFF ? (uint16_t)nsid : 0;
}

static void fill_id_ns(const struct nvme_ns_slot *slot, uint16_t endgid, struct nvme_id_ns *id)
{
	const struct ns *ns = slot->ns;
	memset(id, 0, sizeof(*id));
	id->nsze = ns->nlbas;
	id->ncap = ns->nlbas;
	id->nuse = ns->ops->blocks_in_use((struct ns *)ns);
	id->nsfeat = NVME_NS_FEAT_THIN;
	id->nlbaf = 0;
	id->flbas = 0;
	id->nmic = NVME_NS_NMIC_SHARED;
	if (ns->deallocated_reads_zero)
		id->dlfeat = NVME_NS_DLFEAT_READ_ZEROES | NVME_NS_DLFEAT_WRITE_ZEROES;
	id->lbaf[0].ds = ns->lba_shift;
	id->endgid = endgid;
	memcpy(id->nguid, slot->nguid, sizeof(id->nguid));
}

static size_t put_descriptor(uint8_t *out, size_t at, uint8_t type, const void *value, uint8_t len)
{
	struct nvme_ns_id_desc header = {.nidt = type, .nidl = len};
	memcpy(out + at, &header, sizeof(header));
	memcpy(out + at + sizeof(header), value, len);
	return at + sizeof(header) + len;
}

static uint16_t identify_ns_descriptors(const struct nvme_ns_slot *slot, uint8_t *out)
{
	memset(out, 0, NVME_IDENTIFY_DATA_SIZE);
	size_t at = put_descriptor(out, 0, NVME_NIDT_NGUID, slot->nguid, NVME_NIDT_NGUID_LEN);
	at = put_descriptor(out, at, NVME_NIDT_UUID, slot->uuid, NVME_NIDT_UUID_LEN);
	put_descriptor(out, at, NVME_NIDT_CSI, &slot->ns->csi, NVME_NIDT_CSI_LEN);
	return NVME_SC_SUCCESS;
}

static uint16_t identify_active_list(struct nvme_req *req, uint32_t *out)
{
	const struct nvme_subsys *subsys = req->sq->ctrl->subsys;
	uint32_t after = req->cmd.nsid;
	if (after >= 0xFFFFFFFE)
		return nvme_req_error_at(req, NVME_SC_INVALID_NS | NVME_STATUS_DNR,
					 NVME_SQE_AT(nsid));
	memset(out, 0, NVME_IDENTIFY_DATA_SIZE);
	unsigned n = 0;
	for (uint32_t nsid = after + 1; nsid <= subsys->nn && n < NVME_ID_NS_LIST_MAX; nsid++)
		if (nvme_subsys_ns(subsys, nsid))
			out[n++] = nsid;
	return NVME_SC_SUCCESS;
}

/* CNS 08h: the fields every command set shares. */
static void fill_id_ns_independent(uint16_t endgid, struct nvme_id_ns_cs_indep *id)
{
	memset(id, 0, sizeof(*id));
	id->nsfeat = NVME_NS_FEAT_THIN;
	id->nmic = NVME_NS_NMIC_SHARED;
	id->endgid = endgid;
	id->nstat = NVME_NSTAT_NRDY;
}

/* The namespace nsid names; *slot NULL for an inactive one (detached by ns-remove). */
static uint16_t identify_ns_slot(struct nvme_req *req, const struct nvme_ns_slot **slot)
{
	const struct nvme_subsys *subsys = req->sq->ctrl->subsys;
	uint32_t nsid = req->cmd.nsid;
	if (nsid == 0 || nsid > subsys->nn)
		return nvme_req_error_at(req, NVME_SC_INVALID_NS | NVME_STATUS_DNR,
					 NVME_SQE_AT(nsid));
	*slot = nvme_subsys_ns(subsys, nsid) ? &subsys->ns[nsid - 1] : NULL;
	return NVME_SC_SUCCESS;
}

/* An inactive NSID: a zero-filled structure (CNS 00h, 05h, 08h), or Invalid Namespace. */
static uint16_t inactive_ns(struct nvme_req *req, uint8_t *out, bool zeroes)
{
	if (!zeroes)
		return nvme_req_error_at(req, NVME_SC_INVALID_NS | NVME_STATUS_DNR,
					 NVME_SQE_AT(nsid));
	memset(out, 0, NVME_IDENTIFY_DATA_SIZE);
	return NVME_SC_SUCCESS;
}

static uint16_t bad_csi(struct nvme_req *req)
{
	return nvme_req_error_at(req, NVME_SC_INVALID_IO_CMD_SET | NVME_STATUS_DNR,
				 NVME_SQE_AT(identify.csi));
}

void nvme_execute_identify(struct nvme_req *req)
{
	struct nvme_ctrl *ctrl = req->sq->ctrl;
	uint8_t csi = req->cmd.identify.csi;
	const struct nvme_ns_slot *slot = NULL;
	uint8_t *out = req->buf;
	uint16_t status = NVME_SC_SUCCESS;
	req->data = req->buf;

	switch (req->cmd.identify.cns) {
	case NVME_ID_CNS_CTRL:
		fill_id_ctrl(ctrl, req->buf);
		break;
	case NVME_ID_CNS_NS:
		status = identify_ns_slot(req, &slot);
		if (!status && !slot)
			status = inactive_ns(req, out, true);
		else if (!status)
			fill_id_ns(slot, endgid(ctrl->subsys, req->cmd.nsid), req->buf);
		break;
	case NVME_ID_CNS_NS_ACTIVE_LIST:
		status = identify_active_list(req, req->buf);
		break;
	case NVME_ID_CNS_NS_DESC_LIST:
		status = identify_ns_slot(req, &slot);
		if (!status && !slot)
			status = inactive_ns(req, out, false);
		else if (!status)
			status = identify_ns_descriptors(slot, out);
		break;
	case NVME_ID_CNS_NS_CS_INDEP:
		status = identify_ns_slot(req, &slot);
		if (!status && !slot)
			status = inactive_ns(req, out, true);
		else if (!status)
			fill_id_ns_independent(endgid(ctrl->subsys, req->cmd.nsid), req->buf);
		break;
	case NVME_ID_CNS_CS_NS:
		status = identify_ns_slot(req, &slot);
		if (!status && !slot)
			status = inactive_ns(req, out, true);
		else if (!status && csi != slot->ns->csi)
			status = bad_csi(req);
		else if (!status && csi == NVME_CSI_ZNS)
			status = nvme_zns_identify_ns(slot->ns, req->buf);
		else if (!status)
			memset(out, 0, NVME_IDENTIFY_DATA_SIZE); /* NVM: no extended LBA formats */
		break;
	case NVME_ID_CNS_CS_CTRL:
		if (csi == NVME_CSI_ZNS)
			nvme_zns_identify_ctrl(ctrl->subsys, req->buf);
		else if (csi != NVME_CSI_NVM)
			status = bad_csi(req);
		else
			memset(out, 0, NVME_IDENTIFY_DATA_SIZE);
		break;
	case NVME_ID_CNS_IOCS: {
		/* One command set combination: NVM and Zoned Namespace. */
		uint64_t vector = NVME_IOCS_VECTOR_NVM | NVME_IOCS_VECTOR_ZNS;
		memset(out, 0, NVME_IDENTIFY_DATA_SIZE);
		memcpy(out, &vector, sizeof(vector));
		break;
	}
	default:
		status = nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					   NVME_SQE_AT(identify.cns));
	}
	nvme_req_complete(req, status);
}
