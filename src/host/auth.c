/*
 * DH-HMAC-CHAP, the host's side (NVMe base 2.0 section 8.13): run right after a Connect whose
 * result asks for authentication, as Linux's nvme_queue_auth_work does it: Negotiate, fetch the
 * challenge, Reply, fetch Success1, and for bidirectional authentication check the
 * controller's response and send Success2 (or Failure2 when it is wrong).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_internal.h"
#include "util/log.h"

/* Linux's buffer for one message: large enough for ffdhe8192. */
#define AUTH_BUF_SIZE 4096

static atomic_uint next_tid;

static const struct dhchap_list all_hashes = {
    {NVME_AUTH_HASH_SHA256, NVME_AUTH_HASH_SHA384, NVME_AUTH_HASH_SHA512}, 3};
static const struct dhchap_list all_dhgroups = {{NVME_AUTH_DHGROUP_NULL, NVME_AUTH_DHGROUP_2048,
						 NVME_AUTH_DHGROUP_3072, NVME_AUTH_DHGROUP_4096,
						 NVME_AUTH_DHGROUP_6144, NVME_AUTH_DHGROUP_8192},
						6};

struct exchange {
	struct host_qpair *qp;
	const struct host_opts *opts;
	const char *subnqn;
	uint8_t *buf;
	uint16_t tid;
	uint8_t hash;
	size_t hl;
	uint8_t
	    ctrl_expected[DHCHAP_MAX_HASH_LEN]; /* bidirectional: what the controller must answer */
};

static int auth_command(struct exchange *x, bool send, uint32_t len)
{
	struct nvmf_auth_command cmd = {
	    .opcode = nvme_admin_fabrics,
	    .fctype = send ? nvme_fabrics_type_auth_send : nvme_fabrics_type_auth_receive,
	    .spsp0 = NVME_AUTH_SPSP,
	    .spsp1 = NVME_AUTH_SPSP,
	    .secp = NVME_AUTH_SECP_NVME,
	    .length = len,
	};
	struct nvme_sqe sqe;
	struct host_cpl cpl;
	memcpy(&sqe, &cmd, sizeof(sqe));
	if (!send)
		memset(x->buf, 0, len);
	int rc = qpair_sync(x->qp, &sqe, x->buf, len, send ? HOST_XFER_H2C : HOST_XFER_C2H, &cpl,
			    x->opts->admin_timeout_ms);
	if (rc)
		return rc;
	if (!host_cpl_ok(&cpl)) {
		log_error("qid %u: Authentication %s failed: status %#x", x->qp->qid,
			  send ? "Send" : "Receive", cpl.status);
		return -EACCES;
	}
	return 0;
}

/* We refuse the controller (a bad challenge, a wrong response): AUTH_Failure2, then give up. */
static int refuse(struct exchange *x, uint8_t explanation, const char *why)
{
	log_error("qid %u: DH-HMAC-CHAP: %s", x->qp->qid, why);
	struct nvme_auth_failure *f = (void *)x->buf;
	memset(f, 0, sizeof(*f));
	f->hdr.auth_type = NVME_AUTH_COMMON_MESSAGES;
	f->hdr.auth_id = NVME_AUTH_DHCHAP_MESSAGE_FAILURE2;
	f->hdr.t_id = x->tid;
	f->rescode = NVME_AUTH_FAILURE_REASON_FAILED;
	f->rescode_exp = explanation;
	auth_command(x, true, sizeof(*f));
	return -EACCES;
}

/* A received message must be `id`, of this transaction; AUTH_Failure1 says why not. */
static int expect(struct exchange *x, uint8_t id, const char *what)
{
	const struct nvme_auth_failure *f = (const void *)x->buf;
	if (f->hdr.auth_type == NVME_AUTH_COMMON_MESSAGES &&
	    f->hdr.auth_id == NVME_AUTH_DHCHAP_MESSAGE_FAILURE1) {
		log_error(
		    "qid %u: the controller refused DH-HMAC-CHAP at %s (reason %u, explanation %u)",
		    x->qp->qid, what, f->rescode, f->rescode_exp);
		return -EACCES;
	}
	if (f->hdr.auth_type != NVME_AUTH_DHCHAP_MESSAGES || f->hdr.auth_id != id ||
	    f->hdr.t_id != x->tid)
		return refuse(x, NVME_AUTH_FAILURE_INCORRECT_MESSAGE, "unexpected message");
	return 0;
}

static int negotiate(struct exchange *x)
{
	const struct host_opts *o = x->opts;
	const struct dhchap_list *hashes = o->dhchap_hashes.count ? &o->dhchap_hashes : &all_hashes;
	const struct dhchap_list *groups =
	    o->dhchap_dhgroups.count ? &o->dhchap_dhgroups : &all_dhgroups;
	struct nvme_auth_negotiate *neg = (void *)x->buf;
	size_t len = sizeof(*neg) + sizeof(neg->protocol[0]);
	memset(neg, 0, len);
	neg->hdr.auth_type = NVME_AUTH_COMMON_MESSAGES;
	neg->hdr.auth_id = NVME_AUTH_DHCHAP_MESSAGE_NEGOTIATE;
	neg->hdr.t_id = x->tid;
	neg->napd = 1;
	neg->protocol[0].authid = NVME_AUTH_DHCHAP_AUTH_ID;
	neg->protocol[0].halen = hashes->count;
	neg->protocol[0].dhlen = groups->count;
	memcpy(neg->protocol[0].idlist, hashes->ids, hashes->count);
	memcpy(neg->protocol[0].idlist + NVME_AUTH_DHLIST_OFFSET, groups->ids, groups->count);
	return auth_command(x, true, (uint32_t)len);
}

/* Answers the challenge in x->buf with a reply, written over it. */
static int reply(struct exchange *x)
{
	const struct host_opts *o = x->opts;
	const struct nvme_auth_challenge *ch = (const void *)x->buf;
	size_t hl = dhchap_hash_len(ch->hashid), dhvlen = dhchap_dhgroup_len(ch->dhgid);
	const struct dhchap_list *hashes = o->dhchap_hashes.count ? &o->dhchap_hashes : &all_hashes;
	const struct dhchap_list *groups =
	    o->dhchap_dhgroups.count ? &o->dhchap_dhgroups : &all_dhgroups;
	if (!hl || !dhchap_list_has(hashes, ch->hashid) || ch->hl != hl)
		return refuse(x, NVME_AUTH_FAILURE_HASH_UNUSABLE,
			      "the challenge's hash was not offered");
	if (!dhchap_dhgroup_name(ch->dhgid) || !dhchap_list_has(groups, ch->dhgid))
		return refuse(x, NVME_AUTH_FAILURE_DHGROUP_UNUSABLE,
			      "the challenge's DH group was not offered");
	if (ch->dhvlen != dhvlen || ch->seqnum == 0 || sizeof(*ch) + hl + dhvlen > AUTH_BUF_SIZE)
		return refuse(x, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD, "malformed challenge");
	x->hash = ch->hashid;
	x->hl = hl;

	uint8_t c1[DHCHAP_MAX_HASH_LEN], c2[DHCHAP_MAX_HASH_LEN], response[DHCHAP_MAX_HASH_LEN];
	uint8_t pub[DHCHAP_MAX_DH_LEN], session[DHCHAP_MAX_DH_LEN], key[DHCHAP_MAX_HASH_LEN];
	uint32_t s1 = ch->seqnum, s2 = 0;
	memcpy(c1, ch->cval, hl);
	struct dhchap_response_input in = {.hash = x->hash, .tid = x->tid};
	int rc = -EACCES;
	if (dhvlen) {
		struct dhchap_dh *dh = dhchap_dh_create(ch->dhgid);
		int bad = !dh || dhchap_dh_public(dh, pub, dhvlen) ||
			  dhchap_dh_shared(dh, ch->cval + hl, dhvlen, session, dhvlen);
		dhchap_dh_free(dh);
		if (bad) {
			rc = refuse(x, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD,
				    "the controller's DH value is not in its group");
			goto out;
		}
		in.session_key = session;
		in.session_key_len = dhvlen;
	}
	int keylen = dhchap_transform(&o->dhchap_key, o->hostnqn, key);
	in.key = key;
	in.keylen = keylen < 0 ? 0 : (size_t)keylen;
	in.challenge = c1;
	in.seqnum = s1;
	in.role = "HostHost";
	in.nqn1 = o->hostnqn;
	in.nqn2 = x->subnqn;
	if (keylen < 0 || dhchap_response(&in, response)) {
		rc = refuse(x, NVME_AUTH_FAILURE_FAILED, "cannot compute the response");
		goto out;
	}
	if (o->has_dhchap_ctrl_key) {
		/* Our own challenge, and the answer only the controller's secret gives. */
		do
			if (dhchap_random(&s2, sizeof(s2)))
				goto out;
		while (s2 == 0);
		keylen = dhchap_transform(&o->dhchap_ctrl_key, x->subnqn, key);
		in.keylen = keylen < 0 ? 0 : (size_t)keylen;
		in.challenge = c2;
		in.seqnum = s2;
		in.role = "Controller";
		in.nqn1 = x->subnqn;
		in.nqn2 = o->hostnqn;
		if (dhchap_random(c2, hl) || keylen < 0 || dhchap_response(&in, x->ctrl_expected)) {
			rc = refuse(x, NVME_AUTH_FAILURE_FAILED,
				    "cannot compute the controller's response");
			goto out;
		}
	}
	struct nvme_auth_reply *rep = (void *)x->buf;
	size_t len = sizeof(*rep) + 2 * hl + dhvlen;
	memset(rep, 0, len);
	rep->hdr.auth_type = NVME_AUTH_DHCHAP_MESSAGES;
	rep->hdr.auth_id = NVME_AUTH_DHCHAP_MESSAGE_REPLY;
	rep->hdr.t_id = x->tid;
	rep->hl = (uint8_t)hl;
	rep->cvalid = o->has_dhchap_ctrl_key;
	rep->dhvlen = (uint16_t)dhvlen;
	rep->seqnum = s2;
	memcpy(rep->rval, response, hl);
	if (o->has_dhchap_ctrl_key)
		memcpy(rep->rval + hl, c2, hl);
	memcpy(rep->rval + 2 * hl, pub, dhvlen);
	rc = auth_command(x, true, (uint32_t)len);
out:
	dhchap_wipe(session, sizeof(session));
	dhchap_wipe(key, sizeof(key));
	dhchap_wipe(response, sizeof(response));
	return rc;
}

/* Checks Success1; bidirectional: the controller's response, then Success2. */
static int conclude(struct exchange *x)
{
	const struct nvme_auth_success1 *s1 = (const void *)x->buf;
	if (s1->hl != x->hl)
		return refuse(x, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD,
			      "success1 has the wrong hash length");
	if (!x->opts->has_dhchap_ctrl_key)
		return 0;
	if (!s1->rvalid)
		return refuse(x, NVME_AUTH_FAILURE_FAILED,
			      "the controller did not answer our challenge");
	if (CRYPTO_memcmp(s1->rval, x->ctrl_expected, x->hl) != 0)
		return refuse(
		    x, NVME_AUTH_FAILURE_FAILED,
		    "the controller's response is wrong: it does not know the controller secret");
	struct nvme_auth_success2 *s2 = (void *)x->buf;
	memset(s2, 0, sizeof(*s2));
	s2->hdr.auth_type = NVME_AUTH_DHCHAP_MESSAGES;
	s2->hdr.auth_id = NVME_AUTH_DHCHAP_MESSAGE_SUCCESS2;
	s2->hdr.t_id = x->tid;
	return auth_command(x, true, sizeof(*s2));
}

int qpair_authenticate(struct host_qpair *qp, const struct host_opts *opts, const char *subnqn)
{
	if (!opts->has_dhchap_key) {
		log_error("qid %u: %s requires DH-HMAC-CHAP and no secret was given (--dhchap-key)",
			  qp->qid, subnqn);
		return -ENOKEY;
	}
	struct exchange x = {.qp = qp,
			     .opts = opts,
			     .subnqn = subnqn,
			     .tid = (uint16_t)atomic_fetch_add(&next_tid, 1)};
	x.buf = malloc(AUTH_BUF_SIZE);
	if (!x.buf)
		return -ENOMEM;
	int rc = negotiate(&x);
	if (!rc)
		rc = auth_command(&x, false, AUTH_BUF_SIZE);
	if (!rc)
		rc = expect(&x, NVME_AUTH_DHCHAP_MESSAGE_CHALLENGE, "the challenge");
	if (!rc)
		rc = reply(&x);
	if (!rc)
		rc = auth_command(&x, false, AUTH_BUF_SIZE);
	if (!rc)
		rc = expect(&x, NVME_AUTH_DHCHAP_MESSAGE_SUCCESS1, "the reply");
	if (!rc)
		rc = conclude(&x);
	if (!rc)
		log_debug("qid %u: authenticated with %s%s", qp->qid, dhchap_hash_name(x.hash),
			  opts->has_dhchap_ctrl_key ? ", controller authenticated" : "");
	dhchap_wipe(x.buf, AUTH_BUF_SIZE);
	free(x.buf);
	dhchap_wipe(x.ctrl_expected, sizeof(x.ctrl_expected));
	return rc;
}
