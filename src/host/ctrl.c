/* Controller bring-up, discovery, keep-alive and shutdown over the admin queue. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "host/host_internal.h"
#include "util/log.h"

#define ADMIN_SQSIZE 31 /* 0's based: 32 entries, what Linux uses */
#define ADMIN_SLOTS 4   /* we only ever have one or two admin commands out */
#define ADMIN_INCAPSULE_MAX 8192
/* Smaller than libnvme's 4096 so that even short logs exercise LPO. */
#define DISC_CHUNK 1024
#define SHUTDOWN_TIMEOUT_MS 5000

struct host_ctrl {
	struct host_target target;
	struct host_opts opts;
	struct host_qpair *admin;
	struct host_ctrl_info info;
	int64_t last_keep_alive_ms;
};

void host_opts_init(struct host_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->kato_ms = 10000;
	opts->admin_timeout_ms = 10000;
	snprintf(opts->congestion, sizeof(opts->congestion), "cubic");
}

/* A random host identity, made once per process, unless the caller set one. */
static void fill_identity(struct host_opts *opts)
{
	static const uint8_t zero[16];
	if (!memcmp(opts->hostid, zero, sizeof(zero))) {
		if (getrandom(opts->hostid, sizeof(opts->hostid), 0) != sizeof(opts->hostid)) {
			for (size_t i = 0; i < sizeof(opts->hostid); i++)
				opts->hostid[i] = (uint8_t)(rand() ^ getpid());
		}
		opts->hostid[6] = (opts->hostid[6] & 0x0F) | 0x40; /* UUID version 4 */
		opts->hostid[8] = (opts->hostid[8] & 0x3F) | 0x80;
	}
	if (!opts->hostnqn[0]) {
		const uint8_t *u = opts->hostid;
		snprintf(opts->hostnqn, sizeof(opts->hostnqn),
			 "nqn.2014-08.org.nvmexpress:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
			 "%02x%02x%02x%02x%02x%02x",
			 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
			 u[12], u[13], u[14], u[15]);
	}
}

int host_ctrl_admin(struct host_ctrl *ctrl, struct nvme_sqe *sqe, void *buf, uint32_t len,
		    enum host_xfer xfer, struct host_cpl *cpl)
{
	return qpair_sync(ctrl->admin, sqe, buf, len, xfer, cpl, ctrl->opts.admin_timeout_ms);
}

/* An admin command that must succeed; logs `what` otherwise. */
static int admin_ok(struct host_ctrl *ctrl, struct nvme_sqe *sqe, void *buf, uint32_t len,
		    enum host_xfer xfer, struct host_cpl *cpl, const char *what)
{
	int rc = host_ctrl_admin(ctrl, sqe, buf, len, xfer, cpl);
	if (rc) {
		log_error("%s: %s", what, strerror(-rc));
		return rc;
	}
	if (!host_cpl_ok(cpl)) {
		log_error("%s: NVMe status %#x", what, cpl->status);
		return -EIO;
	}
	return 0;
}

static int property_get(struct host_ctrl *ctrl, uint32_t offset, bool eight, uint64_t *value)
{
	struct nvmf_property_get_command cmd = {
		.opcode = nvme_admin_fabrics,
		.fctype = nvme_fabrics_type_property_get,
		.attrib = eight ? 1 : 0,
		.offset = offset,
	};
	struct nvme_sqe sqe;
	struct host_cpl cpl;
	char what[48];
	memcpy(&sqe, &cmd, sizeof(sqe));
	snprintf(what, sizeof(what), "Property Get %#x", offset);
	int rc = admin_ok(ctrl, &sqe, NULL, 0, HOST_XFER_NONE, &cpl, what);
	*value = eight ? cpl.result : (uint32_t)cpl.result;
	return rc;
}

static int property_set(struct host_ctrl *ctrl, uint32_t offset, uint32_t value)
{
	struct nvmf_property_set_command cmd = {
		.opcode = nvme_admin_fabrics,
		.fctype = nvme_fabrics_type_property_set,
		.attrib = 0,
		.offset = offset,
		.value = value,
	};
	struct nvme_sqe sqe;
	struct host_cpl cpl;
	char what[48];
	memcpy(&sqe, &cmd, sizeof(sqe));
	snprintf(what, sizeof(what), "Property Set %#x = %#x", offset, value);
	return admin_ok(ctrl, &sqe, NULL, 0, HOST_XFER_NONE, &cpl, what);
}

/* Poll CSTS until (CSTS & mask) == want, CFS, or timeout. */
static int wait_csts(struct host_ctrl *ctrl, uint32_t mask, uint32_t want, int64_t timeout_ms,
		     const char *what)
{
	int64_t deadline = host_now_ms() + timeout_ms;
	for (;;) {
		uint64_t csts;
		int rc = property_get(ctrl, NVME_REG_CSTS, false, &csts);
		if (rc)
			return rc;
		if (csts & NVME_CSTS_CFS) {
			log_error("%s: controller fatal status (CSTS %#llx)", what,
				  (unsigned long long)csts);
			return -EIO;
		}
		if ((csts & mask) == want)
			return 0;
		if (host_now_ms() >= deadline) {
			log_error("%s: timed out after %lld ms (CSTS %#llx)", what,
				  (long long)timeout_ms, (unsigned long long)csts);
			return -ETIMEDOUT;
		}
		usleep(1000);
	}
}

/* CC with EN = 0 and the command set, then EN = 1, then wait for RDY. */
static int enable_controller(struct host_ctrl *ctrl)
{
	uint64_t cap = ctrl->info.cap;
	uint32_t css;
	if (cap & NVME_CAP_CSS_CSI)
		css = NVME_CC_CSS_CSI;
	else if (cap & NVME_CAP_CSS_NVM)
		css = NVME_CC_CSS_NVM;
	else
		css = NVME_CC_CSS_ADMIN_ONLY;
	uint32_t mpsmin = (uint32_t)(cap >> 48) & 0xF;
	uint32_t cc = css << NVME_CC_CSS_SHIFT | mpsmin << NVME_CC_MPS_SHIFT |
		      6u << NVME_CC_IOSQES_SHIFT | 4u << NVME_CC_IOCQES_SHIFT;
	int64_t timeout = ((int64_t)((cap >> NVME_CAP_TO_SHIFT) & 0xFF) + 1) * 500;

	int rc = property_set(ctrl, NVME_REG_CC, cc);
	if (!rc)
		rc = property_set(ctrl, NVME_REG_CC, cc | NVME_CC_EN);
	if (!rc)
		rc = wait_csts(ctrl, NVME_CSTS_RDY, NVME_CSTS_RDY, timeout, "waiting for CSTS.RDY");
	return rc;
}

static void trim_copy(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
	for (size_t i = n; i > 0 && (dst[i - 1] == ' ' || dst[i - 1] == '\0'); i--)
		dst[i - 1] = '\0';
}

static int identify_controller(struct host_ctrl *ctrl, bool discovery)
{
	struct nvme_id_ctrl *id = malloc(sizeof(*id));
	if (!id)
		return -ENOMEM;
	struct nvme_sqe sqe = { .opcode = nvme_admin_identify, .cdw10 = NVME_ID_CNS_CTRL };
	struct host_cpl cpl;
	int rc = admin_ok(ctrl, &sqe, id, sizeof(*id), HOST_XFER_C2H, &cpl, "Identify Controller");
	if (rc)
		goto out;

	struct host_ctrl_info *info = &ctrl->info;
	if (id->cntlid != info->cntlid)
		log_warn("Identify CNTLID %u differs from the Connect result %u", id->cntlid,
			 info->cntlid);
	if (discovery && id->cntrltype && id->cntrltype != NVME_CTRL_DISC)
		log_warn("discovery controller reports CNTRLTYPE %u", id->cntrltype);
	trim_copy(info->mn, id->mn, sizeof(id->mn));
	trim_copy(info->sn, id->sn, sizeof(id->sn));
	trim_copy(info->fr, id->fr, sizeof(id->fr));
	info->nn = id->nn;
	info->maxcmd = id->maxcmd;
	info->kas = id->kas;
	uint32_t mpsmin_bytes = 4096u << ((info->cap >> 48) & 0xF);
	info->max_transfer = id->mdts ? (id->mdts >= 20 ? 0 : mpsmin_bytes << id->mdts) : 0;
	/* IOCCSZ counts 16-byte units of the whole capsule, the 64-byte SQE included. */
	info->incapsule_max = id->ioccsz >= 4 ? id->ioccsz * 16 - 64 : 0;
	if (id->icdoff != 0 || ctrl->opts.no_incapsule)
		info->incapsule_max = 0; /* we only place in-capsule data at offset 0 */
	log_debug("Identify: CNTLID %u VER %#x CNTRLTYPE %u MDTS %u MAXCMD %u KAS %u NN %u SGLS %#x "
		  "IOCCSZ %u IORCSZ %u ICDOFF %u CMIC %#x LPA %#x OAES %#x CTRATT %#x SUBNQN %.64s",
		  id->cntlid, id->ver, id->cntrltype, id->mdts, id->maxcmd, id->kas, id->nn, id->sgls,
		  id->ioccsz, id->iorcsz, id->icdoff, id->cmic, id->lpa, id->oaes, id->ctratt,
		  id->subnqn);
	if (id->ver && id->ver != info->vs)
		log_warn("Identify VER %#x differs from the VS property %#x", id->ver, info->vs);
	if (!discovery && !(id->sgls & 3))
		log_warn("SGLS %#x says SGLs are unsupported; NVMe/TCP needs them", id->sgls);
out:
	free(id);
	return rc;
}

static int set_queue_count(struct host_ctrl *ctrl, uint16_t wanted)
{
	struct nvme_sqe sqe = {
		.opcode = nvme_admin_set_features,
		.cdw10 = NVME_FEAT_NUM_QUEUES,
		.cdw11 = (uint32_t)(wanted - 1) | (uint32_t)(wanted - 1) << 16,
	};
	struct host_cpl cpl;
	int rc = admin_ok(ctrl, &sqe, NULL, 0, HOST_XFER_NONE, &cpl, "Set Features Number of Queues");
	if (rc)
		return rc;
	uint32_t nsqa = (uint32_t)cpl.result & 0xFFFF, ncqa = (uint32_t)(cpl.result >> 16) & 0xFFFF;
	uint32_t granted = (nsqa < ncqa ? nsqa : ncqa) + 1;
	ctrl->info.io_queues = (uint16_t)(granted < wanted ? granted : wanted);
	if (granted < wanted)
		log_warn("asked for %u I/O queues, controller allows %u", wanted, granted);
	return 0;
}

/* Connect the admin queue of subnqn and enable the controller. */
static int admin_bring_up(struct host_ctrl *ctrl, const char *subnqn, uint32_t kato_ms)
{
	struct host_opts *o = &ctrl->opts;
	int rc = qpair_open(&ctrl->admin, ctrl->target.traddr, ctrl->target.trsvcid, 0, ADMIN_SLOTS,
			    o->header_digest, o->data_digest, o->congestion, o->admin_timeout_ms);
	if (rc)
		return rc;
	ctrl->admin->incapsule_max = ADMIN_INCAPSULE_MAX;
	struct host_cpl cpl;
	rc = qpair_fabrics_connect(ctrl->admin, o, subnqn, NVMF_CNTLID_DYNAMIC, ADMIN_SQSIZE,
				   kato_ms, &cpl);
	if (rc)
		return rc;
	snprintf(ctrl->info.subnqn, sizeof(ctrl->info.subnqn), "%s", subnqn);
	ctrl->info.cntlid = (uint16_t)cpl.result;
	ctrl->last_keep_alive_ms = host_now_ms();

	uint64_t vs;
	rc = property_get(ctrl, NVME_REG_CAP, true, &ctrl->info.cap);
	if (!rc)
		rc = property_get(ctrl, NVME_REG_VS, false, &vs);
	if (rc)
		return rc;
	ctrl->info.vs = (uint32_t)vs;
	log_debug("%s: CNTLID %u CAP %#llx VS %#x", subnqn, ctrl->info.cntlid,
		  (unsigned long long)ctrl->info.cap, ctrl->info.vs);
	ctrl->info.max_queue_entries = (uint16_t)(NVME_CAP_MQES(ctrl->info.cap) + 1);
	if ((ctrl->info.cap >> 48) & 0xF)
		log_warn("CAP.MPSMIN is %llu (not 4 KiB)",
			 (unsigned long long)((ctrl->info.cap >> 48) & 0xF));
	return enable_controller(ctrl);
}

static void ctrl_close(struct host_ctrl *ctrl)
{
	host_qpair_disconnect(ctrl->admin);
	free(ctrl);
}

static int shutdown_controller(struct host_ctrl *ctrl)
{
	uint64_t cc;
	int rc = property_get(ctrl, NVME_REG_CC, false, &cc);
	if (rc)
		return rc;
	cc = (cc & ~(uint64_t)NVME_CC_SHN_MASK) | 1u << NVME_CC_SHN_SHIFT;
	rc = property_set(ctrl, NVME_REG_CC, (uint32_t)cc);
	if (!rc)
		rc = wait_csts(ctrl, 3u << NVME_CSTS_SHST_SHIFT, NVME_CSTS_SHST_CMPLT,
			       SHUTDOWN_TIMEOUT_MS, "waiting for CSTS.SHST complete");
	return rc;
}

int host_ctrl_disconnect(struct host_ctrl *ctrl)
{
	if (!ctrl)
		return 0;
	int rc = ctrl->admin && !ctrl->admin->failed ? shutdown_controller(ctrl) : -ENOTCONN;
	ctrl_close(ctrl);
	return rc;
}

static void copy_field(char *dst, size_t dstsize, const char *src, size_t n)
{
	size_t len = n < dstsize - 1 ? n : dstsize - 1;
	trim_copy(dst, src, len);
}

static int get_log(struct host_ctrl *ctrl, uint8_t lid, void *buf, uint32_t len, uint64_t offset)
{
	uint32_t numd = len / 4 - 1;
	struct nvme_sqe sqe = {
		.opcode = nvme_admin_get_log_page,
		.cdw10 = lid | (numd & 0xFFFF) << 16,
		.cdw11 = numd >> 16,
		.cdw12 = (uint32_t)offset,
		.cdw13 = (uint32_t)(offset >> 32),
	};
	struct host_cpl cpl;
	return admin_ok(ctrl, &sqe, buf, len, HOST_XFER_C2H, &cpl, "Get Log Page (discovery)");
}

/* Read the whole discovery log in chunks, until GENCTR holds still across a read. */
static int read_discovery_log(struct host_ctrl *ctrl, uint8_t **log_out, uint64_t *numrec_out)
{
	uint32_t chunk = DISC_CHUNK;
	if (ctrl->info.max_transfer && ctrl->info.max_transfer < chunk)
		chunk = ctrl->info.max_transfer;
	for (int attempt = 0; attempt < 10; attempt++) {
		struct nvmf_disc_log_page_hdr hdr;
		int rc = get_log(ctrl, NVME_LOG_DISC, &hdr, sizeof(hdr), 0);
		if (rc)
			return rc;
		uint64_t numrec = hdr.numrec > 1024 ? 1024 : hdr.numrec;
		size_t total = sizeof(hdr) + numrec * sizeof(struct nvmf_disc_log_entry);
		uint8_t *log = calloc(1, total);
		if (!log)
			return -ENOMEM;
		for (size_t off = 0; off < total && !rc; off += chunk) {
			uint32_t n = total - off < chunk ? (uint32_t)(total - off) : chunk;
			rc = get_log(ctrl, NVME_LOG_DISC, log + off, n, off);
		}
		const struct nvmf_disc_log_page_hdr *again = (const void *)log;
		if (!rc && again->genctr == hdr.genctr && again->numrec == hdr.numrec) {
			*log_out = log;
			*numrec_out = numrec;
			return 0;
		}
		free(log);
		if (rc)
			return rc;
	}
	log_error("discovery log kept changing (GENCTR)");
	return -EAGAIN;
}

/* Fill target->subnqn (and address) from the first NVM subsystem entry. */
static int discover(const struct host_target *in, const struct host_opts *opts,
		    struct host_target *out)
{
	struct host_ctrl *disc = calloc(1, sizeof(*disc));
	if (!disc)
		return -ENOMEM;
	disc->target = *in;
	disc->opts = *opts;
	disc->opts.header_digest = disc->opts.data_digest = false;
	int rc = admin_bring_up(disc, NVME_NQN_DISC, 0);
	if (!rc)
		rc = identify_controller(disc, true);
	uint8_t *log = NULL;
	uint64_t numrec = 0;
	if (!rc)
		rc = read_discovery_log(disc, &log, &numrec);
	if (!rc) {
		rc = -ENOENT;
		const struct nvmf_disc_log_entry *e = (const void *)(log + 1024);
		for (uint64_t i = 0; i < numrec; i++, e++) {
			log_debug("discovery entry %llu: TRTYPE %u ADRFAM %u SUBTYPE %u TREQ %#x PORTID %u "
				  "CNTLID %#x ASQSZ %u TRSVCID %.32s TRADDR %.64s SUBNQN %.64s",
				  (unsigned long long)i, e->trtype, e->adrfam, e->subtype, e->treq,
				  e->portid, e->cntlid, e->asqsz, e->trsvcid, e->traddr, e->subnqn);
			if (e->subtype != NVME_NQN_NVM || e->trtype != NVMF_TRTYPE_TCP)
				continue;
			*out = *in;
			copy_field(out->subnqn, sizeof(out->subnqn), e->subnqn, sizeof(e->subnqn));
			copy_field(out->traddr, sizeof(out->traddr), e->traddr, sizeof(e->traddr));
			copy_field(out->trsvcid, sizeof(out->trsvcid), e->trsvcid, sizeof(e->trsvcid));
			log_info("discovered %s at %s:%s", out->subnqn, out->traddr, out->trsvcid);
			rc = 0;
			break;
		}
		if (rc)
			log_error("discovery log has no NVM subsystem over TCP (%llu records)",
				  (unsigned long long)numrec);
	}
	free(log);
	int src = host_ctrl_disconnect(disc);
	if (src && !rc)
		log_warn("discovery controller shutdown: %s", strerror(-src));
	return rc;
}

int host_ctrl_connect(struct host_ctrl **out, const struct host_target *target,
		      const struct host_opts *opts, uint16_t io_queues)
{
	struct host_ctrl *ctrl = calloc(1, sizeof(*ctrl));
	if (!ctrl)
		return -ENOMEM;
	ctrl->opts = *opts;
	fill_identity(&ctrl->opts);
	ctrl->target = *target;
	int rc = 0;
	if (!target->subnqn[0])
		rc = discover(target, &ctrl->opts, &ctrl->target);
	if (!rc)
		rc = admin_bring_up(ctrl, ctrl->target.subnqn, ctrl->opts.kato_ms);
	if (!rc)
		rc = identify_controller(ctrl, false);
	if (!rc && io_queues)
		rc = set_queue_count(ctrl, io_queues);
	if (rc) {
		ctrl_close(ctrl);
		return rc;
	}
	*out = ctrl;
	return 0;
}

const struct host_ctrl_info *host_ctrl_get_info(const struct host_ctrl *ctrl)
{
	return &ctrl->info;
}

int host_ctrl_identify_ns(struct host_ctrl *ctrl, uint32_t nsid, struct host_ns_info *ns)
{
	struct nvme_id_ns *id = malloc(sizeof(*id));
	if (!id)
		return -ENOMEM;
	struct nvme_sqe sqe = { .opcode = nvme_admin_identify, .nsid = nsid, .cdw10 = NVME_ID_CNS_NS };
	struct host_cpl cpl;
	int rc = admin_ok(ctrl, &sqe, id, sizeof(*id), HOST_XFER_C2H, &cpl, "Identify Namespace");
	if (!rc) {
		unsigned fmt = (id->flbas & 0xF) | ((id->flbas >> 5) & 3) << 4;
		const struct nvme_lbaf *lbaf = &id->lbaf[fmt];
		if (id->ncap == 0 || id->nsze == 0) {
			log_error("namespace %u is not active", nsid);
			rc = -ENODEV;
		} else if (lbaf->ms != 0) {
			log_error("namespace %u has %u bytes of metadata per block; not supported", nsid,
				  lbaf->ms);
			rc = -ENODEV;
		} else if (lbaf->ds < 9 || lbaf->ds > 24) {
			log_error("namespace %u LBADS %u is out of range", nsid, lbaf->ds);
			rc = -ENODEV;
		} else {
			ns->nsid = nsid;
			ns->nsze = id->nsze;
			ns->lba_size = 1u << lbaf->ds;
		}
	}
	free(id);
	return rc;
}

int host_ctrl_keep_alive_tick(struct host_ctrl *ctrl)
{
	if (!ctrl->opts.kato_ms)
		return 0;
	int64_t now = host_now_ms();
	if (now - ctrl->last_keep_alive_ms < ctrl->opts.kato_ms / 2)
		return 0;
	struct nvme_sqe sqe = { .opcode = nvme_admin_keep_alive };
	struct host_cpl cpl;
	ctrl->last_keep_alive_ms = now;
	return admin_ok(ctrl, &sqe, NULL, 0, HOST_XFER_NONE, &cpl, "Keep Alive");
}

int host_qpair_connect(struct host_ctrl *ctrl, uint16_t qid, uint16_t depth,
		       struct host_qpair **out)
{
	const struct host_ctrl_info *info = &ctrl->info;
	if (qid == 0 || qid > info->io_queues) {
		log_error("qid %u outside the %u granted I/O queues", qid, info->io_queues);
		return -EINVAL;
	}
	/* A queue of N entries holds N - 1 commands, so SQSIZE (0's based) = depth. */
	if (depth < 1 || depth > info->max_queue_entries - 1 ||
	    (info->maxcmd && depth > info->maxcmd)) {
		log_error("queue depth %u: controller allows 1..%u (MQES+1 = %u, MAXCMD = %u)", depth,
			  info->maxcmd && info->maxcmd < info->max_queue_entries - 1
				  ? info->maxcmd
				  : info->max_queue_entries - 1,
			  info->max_queue_entries, info->maxcmd);
		return -EINVAL;
	}
	struct host_qpair *qp;
	int rc = qpair_open(&qp, ctrl->target.traddr, ctrl->target.trsvcid, qid, depth,
			    ctrl->opts.header_digest, ctrl->opts.data_digest, ctrl->opts.congestion,
			    ctrl->opts.admin_timeout_ms);
	if (rc)
		return rc;
	struct host_cpl cpl;
	rc = qpair_fabrics_connect(qp, &ctrl->opts, info->subnqn, info->cntlid, depth, 0, &cpl);
	if (rc) {
		host_qpair_disconnect(qp);
		return rc;
	}
	qp->incapsule_max = info->incapsule_max;
	*out = qp;
	return 0;
}
