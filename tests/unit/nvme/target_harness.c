#include "target_harness.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "ns/ns.h"
#include "util/log.h"
#include "util/util.h"

static struct th_queue *queue_of(struct nvme_sq *sq) { return container_of(sq, struct th_queue, sq); }

static void unlink_pending(struct th_queue *q, struct th_req *req)
{
	for (struct th_req **p = &q->pending; *p; p = &(*p)->next_pending) {
		if (*p == req) {
			*p = req->next_pending;
			req->next_pending = NULL;
			return;
		}
	}
}

static void fake_queue_response(struct nvme_req *nvme)
{
	struct th_req *req = container_of(nvme, struct th_req, nvme);
	req->completions++;
	req->cqe = nvme->cqe;
	bool ok = (nvme->cqe.status >> 1) == NVME_SC_SUCCESS;
	/* The transport sends C2H data only for successful commands. */
	if (nvme->xfer == NVME_XFER_C2H && ok && nvme->data_len) {
		free(req->c2h);
		req->c2h = malloc(nvme->data_len);
		if (!req->c2h)
			abort();
		memcpy(req->c2h, nvme->data, nvme->data_len);
		req->c2h_len = nvme->data_len;
	}
	unlink_pending(queue_of(nvme->sq), req);
}

static void fake_disconnect(struct nvme_sq *sq) { queue_of(sq)->disconnect_requested = true; }

static const struct nvme_transport_ops fake_ops = {
    .queue_response = fake_queue_response,
    .disconnect = fake_disconnect,
};

struct th_env *th_env_create(const struct th_env_params *params)
{
	log_threshold = LOG_ERROR;
	struct th_env *env = calloc(1, sizeof(*env));
	if (!env)
		return NULL;
	struct nvme_target_params tp = {
	    .listen_addr = "127.0.0.1",
	    .port = TH_PORT,
	    .mdts = TH_MDTS,
	    .max_io_queues = TH_MAX_IO_QUEUES,
	    .io_queue_depth = TH_IO_DEPTH,
	    .incapsule_size = TH_INCAPSULE,
	    .allow_any_host = params->allow_any_host,
	    .max_ctrls_per_host = params->max_ctrls_per_host,
	    .dhchap_hashes = params->dhchap_hashes,
	    .dhchap_dhgroups = params->dhchap_dhgroups,
	    .nreactors = params->nreactors,
	};
	char err[256];
	env->target = nvme_target_create(&tp);
	env->reactor = reactor_create(0, false);
	if (!env->target || !env->reactor)
		goto fail;
	struct nvme_host_params host = {.nqn = params->allowed_host,
					.dhchap_key = params->dhchap_key,
					.dhchap_ctrl_key = params->dhchap_ctrl_key};
	if (params->allowed_host &&
	    nvme_target_allow_host(env->target, NULL, &host, err, sizeof(err)))
		goto fail;
	struct nvme_subsys_params sp = {.nqn = TH_SUBNQN, .serial = "HARNESS01", .model = "harness"};
	env->subsys = nvme_target_add_subsys(env->target, &sp, err, sizeof(err));
	struct nvme_subsys_params sp2 = {.nqn = TH_SUBNQN2, .serial = "HARNESS02", .model = "second"};
	if (!env->subsys || !nvme_target_add_subsys(env->target, &sp2, err, sizeof(err)))
		goto fail;
	struct ns_params np1 = {.kind = NS_KIND_RAM, .bytes = TH_NS1_BYTES, .lba_size = 4096,
				.path = params->ns1_path, .plp = -1};
	struct ns_params np2 = {.kind = NS_KIND_RAM, .bytes = TH_NS2_BYTES, .lba_size = 512};
	env->ns1 = ns_create(&np1, err, sizeof(err));
	if (!env->ns1 || nvme_subsys_add_ns(env->subsys, env->ns1, err, sizeof(err)) != 1)
		goto fail;
	env->ns2 = ns_create(&np2, err, sizeof(err));
	if (!env->ns2 || nvme_subsys_add_ns(env->subsys, env->ns2, err, sizeof(err)) != 2)
		goto fail;
	if (params->fdp_ns) {
		struct ssd_params ssd;
		ssd_params_defaults(&ssd);
		ssd.channels = 2;
		ssd.luns_per_channel = 2;
		ssd.blocks_per_plane = 64;
		ssd.pages_per_block = 16;
		ssd.op_pcent = 25;
		/* No modelled time: every command completes at once, as on the RAM namespaces
		 * (the harness runs no reactor to fire completion timers). */
		ssd.controller_ns = ssd.unmapped_read_ns = 0;
		ssd.page_read_ns = ssd.page_program_ns = ssd.block_erase_ns = 0;
		ssd.channel_xfer_ns = 0;
		ssd.channel_mbps = 0;
		ssd.fdp = true;
		ssd.fdp_nruh = 4;
		ssd.fdp_nrg = 2;
		snprintf(ssd.fdp_initially_isolated, sizeof(ssd.fdp_initially_isolated), "2-3");
		snprintf(ssd.fdp_handles, sizeof(ssd.fdp_handles), "3,1,0");
		struct ns_params np3 = {.kind = NS_KIND_SSD, .lba_size = 4096, .ssd = &ssd,
					.path = params->fdp_path, .plp = -1};
		env->ns3 = ns_create(&np3, err, sizeof(err));
		if (!env->ns3 ||
		    nvme_subsys_add_ns(env->subsys, env->ns3, err, sizeof(err)) != TH_FDP_NSID)
			goto fail;
	}
	env->max_data = nvme_target_max_data(env->target);
	if (!(env->staging = malloc(env->max_data)))
		goto fail;
	return env;
fail:
	fprintf(stderr, "harness: cannot build the target: %s\n", err);
	th_env_destroy(env);
	return NULL;
}

struct ns *th_add_ssd_ns(struct th_env *env, char *err, size_t errlen)
{
	struct ssd_params model;
	ssd_params_defaults(&model);
	/* Flash a thousand times faster than the defaults: the model's timing still runs (commands
	 * wait on dies, timers fire), but no faster than a caller that does not wait (th_exec, the
	 * fuzz targets) submits.  At the default speed such a caller ran ahead of the model without
	 * bound: writes not yet on NAND keep their undo records and old data (fuzz_fault grew by
	 * about 1 KB per input, 1.5 GB in a campaign) and their requests stay armed on timers. */
	model.page_read_ns /= 1000;
	model.page_program_ns /= 1000;
	model.block_erase_ns /= 1000;
	model.controller_ns /= 1000;
	model.unmapped_read_ns /= 1000;
	model.suspend_ns /= 1000;
	model.channel_mbps *= 1000;
	model.channels = 2;
	model.luns_per_channel = 2;
	model.planes_per_lun = 1;
	model.blocks_per_plane = 32;
	model.pages_per_block = 16;
	model.op_pcent = 60;
	struct ns_params np = {.kind = NS_KIND_SSD, .lba_size = 4096, .ssd = &model};
	struct ns *ns = ns_create(&np, err, errlen);
	uint32_t nsid = ns ? nvme_subsys_add_ns(env->subsys, ns, err, errlen) : 0;
	if (ns && !nsid)
		ns_destroy(ns); /* not the subsystem's */
	if (nsid && nsid != 3)
		snprintf(err, errlen, "the ssd namespace got nsid %u, not 3", nsid);
	return nsid == 3 ? ns : NULL;
}

void th_env_destroy(struct th_env *env)
{
	if (!env)
		return;
	/* Calls posted to the admin queue's thread (events) hold their controller: run them. */
	if (env->reactor)
		reactor_poll(env->reactor, 0);
	nvme_target_destroy(env->target);
	reactor_destroy(env->reactor);
	while (env->spare) {
		struct th_req *req = env->spare;
		env->spare = req->next_pending;
		free(req->nvme.buf);
		free(req);
	}
	free(env->staging);
	free(env);
}

void th_queue_init(struct th_queue *q, struct th_env *env)
{
	memset(q, 0, sizeof(*q));
	q->env = env;
	nvme_sq_init(&q->sq, env->target, &fake_ops, env->reactor, env->max_data);
}

void th_queue_close(struct th_queue *q)
{
	while (q->pending) {
		struct th_req *req = q->pending;
		nvme_req_cancel(&req->nvme);
		unlink_pending(q, req);
	}
	nvme_sq_destroy(&q->sq);
}

struct th_req *th_submit(struct th_queue *q, const struct nvme_sqe *sqe, const void *h2c,
			 uint32_t h2c_len)
{
	/* Slots are reused with their buffers, as a transport's are: no 128 KiB allocation and
	 * clearing per command (the fuzzers run thousands a second).  What a command reads of
	 * its buffer is what it was given, zero-filled to its length (below), so a command's
	 * outcome never depends on the ones before it. */
	struct th_env *env = q->env;
	struct th_req *req = env->spare;
	void *buf;
	if (req) {
		env->spare = req->next_pending;
		buf = req->nvme.buf;
		memset(req, 0, sizeof(*req));
	} else {
		req = calloc(1, sizeof(*req));
		buf = calloc(1, env->max_data);
		if (!req || !buf)
			abort();
	}
	req->nvme.buf = buf;
	req->nvme.sq = &q->sq;
	req->nvme.cmd = *sqe;
	bool incapsule = sqe->dptr.type == NVME_SGL_IN_CAPSULE && h2c_len;
	if (h2c_len > env->max_data)
		h2c_len = env->max_data;
	uint32_t h2c_given = h2c_len;
	if (incapsule) {
		memcpy(env->staging, h2c, h2c_len);
		req->nvme.incapsule_len = h2c_len;
	} else {
		h2c_len = 0;
	}
	req->next_pending = q->pending;
	q->pending = req;
	uint16_t status = nvme_req_init(&req->nvme, &q->sq);
	if (status) {
		nvme_req_fail(&req->nvme, status);
		return req;
	}
	if (incapsule && nvme_req_uses_data_at_once(&req->nvme)) {
		req->nvme.incapsule_data = env->staging;
		req->data_in_place = true;
	} else if (incapsule) {
		memcpy(buf, env->staging, h2c_len);
	}
	uint32_t filled = h2c_len;
	if (req->nvme.xfer == NVME_XFER_H2C && !incapsule) {
		filled = h2c_given < req->nvme.data_len ? h2c_given : req->nvme.data_len;
		if (filled)
			memcpy(buf, h2c, filled);
	}
	if (req->nvme.xfer == NVME_XFER_H2C && filled < req->nvme.data_len)
		memset((uint8_t *)buf + filled, 0, req->nvme.data_len - filled);
	req->nvme.execute(&req->nvme);
	/* The transport's next capsules overwrite what it passed in place. */
	req->nvme.incapsule_data = NULL;
	if (incapsule)
		memset(env->staging, 0xEE, h2c_len);
	return req;
}

void th_req_free(struct th_queue *q, struct th_req *req)
{
	unlink_pending(q, req);
	free(req->c2h);
	req->c2h = NULL;
	req->next_pending = q->env->spare;
	q->env->spare = req;
}

uint16_t th_status(const struct th_req *req) { return (uint16_t)(req->cqe.status >> 1); }

uint16_t th_exec(struct th_queue *q, const struct nvme_sqe *sqe, const void *h2c,
		 uint32_t h2c_len, void *c2h, uint32_t c2h_len, uint64_t *result)
{
	struct th_req *req = th_submit(q, sqe, h2c, h2c_len);
	uint16_t status = 0xFFFF;
	if (req->completions == 1) {
		status = th_status(req);
		if (c2h) {
			uint32_t n = req->c2h_len < c2h_len ? req->c2h_len : c2h_len;
			memset(c2h, 0, c2h_len);
			if (n)
				memcpy(c2h, req->c2h, n);
		}
		if (result)
			*result = req->cqe.result;
	} else if (req->completions == 0) {
		/* Held (an AER): the caller can't see it, so forget it cleanly. */
		nvme_req_cancel(&req->nvme);
	}
	th_req_free(q, req);
	return status;
}

/* ---- SQE builders ---- */

struct nvme_sqe th_sqe(uint8_t opcode, uint32_t nsid)
{
	static uint16_t next_cid = 1;
	struct nvme_sqe sqe;
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = opcode;
	sqe.flags = NVME_CMD_PSDT_SGL_MPTR_CONTIG;
	sqe.command_id = next_cid++;
	sqe.nsid = nsid;
	sqe.dptr.type = NVME_SGL_TRANSPORT_DATA;
	return sqe;
}

void th_sgl_transport(struct nvme_sqe *sqe, uint32_t len)
{
	sqe->dptr.type = NVME_SGL_TRANSPORT_DATA;
	sqe->dptr.addr = 0;
	sqe->dptr.length = len;
}

void th_sgl_incapsule(struct nvme_sqe *sqe, uint32_t len)
{
	sqe->dptr.type = NVME_SGL_IN_CAPSULE;
	sqe->dptr.addr = 0;
	sqe->dptr.length = len;
}

struct nvme_sqe th_connect_sqe(uint16_t qid, uint16_t sqsize, uint32_t kato)
{
	struct nvme_sqe sqe = th_sqe(nvme_admin_fabrics, 0);
	struct nvmf_connect_command *c = (struct nvmf_connect_command *)&sqe;
	c->fctype = nvme_fabrics_type_connect;
	c->qid = qid;
	c->sqsize = sqsize;
	c->kato = kato;
	th_sgl_incapsule(&sqe, sizeof(struct nvmf_connect_data));
	return sqe;
}

void th_connect_data(struct nvmf_connect_data *data, uint16_t cntlid, const char *subnqn,
		     const char *hostnqn)
{
	memset(data, 0, sizeof(*data));
	for (unsigned i = 0; i < sizeof(data->hostid); i++)
		data->hostid[i] = (uint8_t)(0xA0 + i);
	data->cntlid = cntlid;
	snprintf(data->subsysnqn, sizeof(data->subsysnqn), "%s", subnqn);
	snprintf(data->hostnqn, sizeof(data->hostnqn), "%s", hostnqn);
}

struct nvme_sqe th_property_get_sqe(uint32_t offset, bool eight_bytes)
{
	struct nvme_sqe sqe = th_sqe(nvme_admin_fabrics, 0);
	struct nvmf_property_get_command *c = (struct nvmf_property_get_command *)&sqe;
	c->fctype = nvme_fabrics_type_property_get;
	c->attrib = eight_bytes ? 1 : 0;
	c->offset = offset;
	return sqe;
}

struct nvme_sqe th_property_set_sqe(uint32_t offset, uint64_t value)
{
	struct nvme_sqe sqe = th_sqe(nvme_admin_fabrics, 0);
	struct nvmf_property_set_command *c = (struct nvmf_property_set_command *)&sqe;
	c->fctype = nvme_fabrics_type_property_set;
	c->attrib = 0;
	c->offset = offset;
	c->value = value;
	return sqe;
}

struct nvme_sqe th_rw_sqe(uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb,
			  uint32_t lba_bytes)
{
	struct nvme_sqe sqe = th_sqe(opcode, nsid);
	sqe.cdw10 = (uint32_t)slba;
	sqe.cdw11 = (uint32_t)(slba >> 32);
	sqe.cdw12 = (nlb - 1) & 0xFFFF;
	th_sgl_transport(&sqe, nlb * lba_bytes);
	return sqe;
}

struct nvme_sqe th_get_log_sqe(uint8_t lid, uint32_t nsid, uint32_t len, uint64_t offset)
{
	struct nvme_sqe sqe = th_sqe(nvme_admin_get_log_page, nsid);
	uint32_t numd = len / 4 - 1;
	sqe.cdw10 = lid | (numd & 0xFFFF) << 16;
	sqe.cdw11 = numd >> 16;
	sqe.cdw12 = (uint32_t)offset;
	sqe.cdw13 = (uint32_t)(offset >> 32);
	th_sgl_transport(&sqe, len);
	return sqe;
}

struct nvme_sqe th_identify_sqe(uint8_t cns, uint32_t nsid)
{
	struct nvme_sqe sqe = th_sqe(nvme_admin_identify, nsid);
	sqe.cdw10 = cns;
	th_sgl_transport(&sqe, NVME_IDENTIFY_DATA_SIZE);
	return sqe;
}

uint32_t th_newest_error_location(struct th_queue *admin)
{
	uint8_t entry[64];
	struct nvme_sqe sqe = th_get_log_sqe(NVME_LOG_ERROR, 0, sizeof(entry), 0);
	if (th_exec(admin, &sqe, NULL, 0, entry, sizeof(entry), NULL))
		return UINT32_MAX;
	return (uint32_t)(entry[14] | entry[15] << 8);
}

uint32_t th_cc_enable(uint32_t css)
{
	return NVME_CC_EN | css << NVME_CC_CSS_SHIFT | 6u << NVME_CC_IOSQES_SHIFT |
	       4u << NVME_CC_IOCQES_SHIFT;
}

/* ---- DH-HMAC-CHAP ---- */

struct nvme_sqe th_auth_sqe(bool send, uint32_t len)
{
	struct nvme_sqe sqe = th_sqe(nvme_admin_fabrics, 0);
	sqe.auth.fctype = send ? nvme_fabrics_type_auth_send : nvme_fabrics_type_auth_receive;
	sqe.auth.secp = NVME_AUTH_SECP_NVME;
	sqe.auth.spsp0 = sqe.auth.spsp1 = NVME_AUTH_SPSP;
	sqe.auth.length = len;
	if (send)
		th_sgl_incapsule(&sqe, len);
	else
		th_sgl_transport(&sqe, len);
	return sqe;
}

uint16_t th_auth_send(struct th_queue *q, const void *msg, uint32_t len)
{
	struct nvme_sqe sqe = th_auth_sqe(true, len);
	return th_exec(q, &sqe, msg, len, NULL, 0, NULL);
}

uint16_t th_auth_receive(struct th_queue *q, void *out, uint32_t al)
{
	struct nvme_sqe sqe = th_auth_sqe(false, al);
	return th_exec(q, &sqe, NULL, 0, out, al, NULL);
}

/* A failure message in buf: its explanation (+ offset), else -1. */
static int failure_in(const uint8_t *buf, uint8_t id, unsigned offset)
{
	const struct nvme_auth_failure *f = (const void *)buf;
	if (f->hdr.auth_type == NVME_AUTH_COMMON_MESSAGES && f->hdr.auth_id == id)
		return (int)(f->rescode_exp + offset);
	return -1;
}

static unsigned refuse_controller(struct th_queue *q, uint16_t tid, uint8_t why)
{
	struct nvme_auth_failure f = {.hdr = {.auth_type = NVME_AUTH_COMMON_MESSAGES,
					      .auth_id = NVME_AUTH_DHCHAP_MESSAGE_FAILURE2,
					      .t_id = tid},
				      .rescode = NVME_AUTH_FAILURE_REASON_FAILED,
				      .rescode_exp = why};
	return th_auth_send(q, &f, sizeof(f)) ? 0xFFFF : 0x100u + why;
}

unsigned th_authenticate(struct th_queue *q, const struct th_auth_host *h)
{
	static uint8_t buf[4096];
	char err[160];
	struct dhchap_key key, ctrl_key;
	if ((h->key && dhchap_key_parse(h->key, &key, err, sizeof(err))) ||
	    (h->ctrl_key && dhchap_key_parse(h->ctrl_key, &ctrl_key, err, sizeof(err))))
		return 0xFFFF;
	uint8_t n[sizeof(struct nvme_auth_negotiate) + sizeof(struct nvme_auth_dhchap_protocol)] = {
	    0};
	struct nvme_auth_negotiate *neg = (void *)n;
	neg->hdr = (struct nvme_auth_common){NVME_AUTH_COMMON_MESSAGES,
					     NVME_AUTH_DHCHAP_MESSAGE_NEGOTIATE, 0, h->tid};
	neg->napd = 1;
	neg->protocol[0].authid = NVME_AUTH_DHCHAP_AUTH_ID;
	neg->protocol[0].halen = 1;
	neg->protocol[0].dhlen = 1;
	neg->protocol[0].idlist[0] = h->hash;
	neg->protocol[0].idlist[NVME_AUTH_DHLIST_OFFSET] = h->dhgroup;
	if (th_auth_send(q, n, sizeof(n)) || th_auth_receive(q, buf, sizeof(buf)))
		return 0xFFFF;
	int failed = failure_in(buf, NVME_AUTH_DHCHAP_MESSAGE_FAILURE1, 0);
	if (failed >= 0)
		return (unsigned)failed;
	const struct nvme_auth_challenge *ch = (const void *)buf;
	size_t hl = dhchap_hash_len(ch->hashid), dhvlen = dhchap_dhgroup_len(ch->dhgid);
	if (ch->hdr.auth_id != NVME_AUTH_DHCHAP_MESSAGE_CHALLENGE || ch->hashid != h->hash ||
	    ch->dhgid != h->dhgroup || ch->hl != hl || ch->dhvlen != dhvlen || !ch->seqnum)
		return refuse_controller(q, h->tid, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD);
	uint8_t c1[64], pub[DHCHAP_MAX_DH_LEN], session[DHCHAP_MAX_DH_LEN], tkey[64];
	uint8_t reply[sizeof(struct nvme_auth_reply) + 2 * 64 + DHCHAP_MAX_DH_LEN];
	memcpy(c1, ch->cval, hl);
	struct dhchap_response_input in = {.hash = ch->hashid,
					   .tid = h->tid,
					   .seqnum = ch->seqnum,
					   .challenge = c1,
					   .role = "HostHost",
					   .nqn1 = h->hostnqn,
					   .nqn2 = h->subnqn,
					   .key = tkey};
	if (dhvlen) {
		struct dhchap_dh *dh = dhchap_dh_create(ch->dhgid);
		int bad = !dh || dhchap_dh_public(dh, pub, dhvlen) ||
			  dhchap_dh_shared(dh, ch->cval + hl, dhvlen, session, dhvlen);
		dhchap_dh_free(dh);
		if (bad)
			return 0xFFFF;
		in.session_key = session;
		in.session_key_len = dhvlen;
	}
	struct nvme_auth_reply *rep = (void *)reply;
	memset(reply, 0, sizeof(reply));
	rep->hdr = (struct nvme_auth_common){NVME_AUTH_DHCHAP_MESSAGES,
					     NVME_AUTH_DHCHAP_MESSAGE_REPLY, 0, h->tid};
	rep->hl = (uint8_t)hl;
	rep->dhvlen = (uint16_t)dhvlen;
	if (h->key) {
		in.keylen = (size_t)dhchap_transform(&key, h->hostnqn, tkey);
		if (dhchap_response(&in, rep->rval))
			return 0xFFFF;
	}
	uint8_t c2[64], expected[64];
	if (h->ctrl_key) {
		for (size_t i = 0; i < hl; i++)
			c2[i] = (uint8_t)(0x5A ^ i);
		rep->cvalid = 1;
		rep->seqnum = 0x12345678;
		memcpy(rep->rval + hl, c2, hl);
		in.keylen = (size_t)dhchap_transform(&ctrl_key, h->subnqn, tkey);
		in.challenge = c2;
		in.seqnum = rep->seqnum;
		in.role = "Controller";
		in.nqn1 = h->subnqn;
		in.nqn2 = h->hostnqn;
		if (dhchap_response(&in, expected))
			return 0xFFFF;
	}
	memcpy(rep->rval + 2 * hl, pub, dhvlen);
	if (th_auth_send(q, reply, (uint32_t)(sizeof(*rep) + 2 * hl + dhvlen)) ||
	    th_auth_receive(q, buf, sizeof(buf)))
		return 0xFFFF;
	failed = failure_in(buf, NVME_AUTH_DHCHAP_MESSAGE_FAILURE1, 0);
	if (failed >= 0)
		return (unsigned)failed;
	const struct nvme_auth_success1 *s1 = (const void *)buf;
	if (s1->hdr.auth_id != NVME_AUTH_DHCHAP_MESSAGE_SUCCESS1 || s1->hl != hl ||
	    s1->rvalid != (h->ctrl_key != NULL))
		return refuse_controller(q, h->tid, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD);
	if (!h->ctrl_key)
		return 0;
	if (memcmp(s1->rval, expected, hl))
		return refuse_controller(q, h->tid, NVME_AUTH_FAILURE_FAILED);
	struct nvme_auth_success2 s2 = {
	    .hdr = {NVME_AUTH_DHCHAP_MESSAGES, NVME_AUTH_DHCHAP_MESSAGE_SUCCESS2, 0, h->tid}};
	return th_auth_send(q, &s2, sizeof(s2)) ? 0xFFFF : 0;
}

/* ---- Whole steps ---- */

uint16_t th_connect_admin(struct th_queue *q, const char *subnqn, const char *hostnqn,
			  uint16_t *cntlid)
{
	struct nvme_sqe sqe = th_connect_sqe(0, NVME_ADMIN_QUEUE_DEPTH - 1, 0);
	struct nvmf_connect_data data;
	th_connect_data(&data, NVMF_CNTLID_DYNAMIC, subnqn, hostnqn);
	uint64_t result = 0;
	uint16_t status = th_exec(q, &sqe, &data, sizeof(data), NULL, 0, &result);
	if (cntlid)
		*cntlid = (uint16_t)result;
	return status;
}

uint16_t th_connect_io(struct th_queue *q, uint16_t qid, uint16_t cntlid, const char *hostnqn)
{
	struct nvme_sqe sqe = th_connect_sqe(qid, TH_IO_DEPTH - 1, 0);
	struct nvmf_connect_data data;
	th_connect_data(&data, cntlid, TH_SUBNQN, hostnqn);
	return th_exec(q, &sqe, &data, sizeof(data), NULL, 0, NULL);
}

uint16_t th_enable(struct th_queue *q)
{
	struct nvme_sqe sqe = th_property_set_sqe(NVME_REG_CC, th_cc_enable(NVME_CC_CSS_NVM));
	return th_exec(q, &sqe, NULL, 0, NULL, 0, NULL);
}

uint16_t th_set_num_queues(struct th_queue *q, uint16_t nsqr0, uint16_t ncqr0, uint64_t *result)
{
	struct nvme_sqe sqe = th_sqe(nvme_admin_set_features, 0);
	sqe.cdw10 = NVME_FEAT_NUM_QUEUES;
	sqe.cdw11 = nsqr0 | (uint32_t)ncqr0 << 16;
	th_sgl_transport(&sqe, 0);
	return th_exec(q, &sqe, NULL, 0, NULL, 0, result);
}

uint16_t th_bring_up(struct th_queue *admin, struct th_queue *io, uint16_t *cntlid)
{
	uint16_t id = 0;
	uint16_t status = th_connect_admin(admin, TH_SUBNQN, TH_HOSTNQN, &id);
	if (!status)
		status = th_enable(admin);
	if (!status)
		status = th_set_num_queues(admin, TH_MAX_IO_QUEUES - 1, TH_MAX_IO_QUEUES - 1, NULL);
	if (!status && io)
		status = th_connect_io(io, 1, id, TH_HOSTNQN);
	if (cntlid)
		*cntlid = id;
	return status;
}
