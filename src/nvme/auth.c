/*
 * DH-HMAC-CHAP, the controller's side (NVMe base 2.0 section 8.13): the messages a queue's
 * host sends with Authentication Send and fetches with Authentication Receive.
 *
 *   host                                   controller
 *   Send    AUTH_Negotiate           ->    picks a hash and a DH group the host offers
 *   Receive                          <-    DH-HMAC-CHAP_Challenge (C1, seq, DH value)
 *   Send    DH-HMAC-CHAP_Reply       ->    checks the host's response (and, bidirectional,
 *                                          answers the host's challenge C2)
 *   Receive                          <-    DH-HMAC-CHAP_Success1 (with that answer)
 *   Send    DH-HMAC-CHAP_Success2    ->    (bidirectional only: the host accepted it)
 *
 * A message that is wrong in any way turns the transaction into a failure: the Send itself
 * completes successfully and the next Receive returns AUTH_Failure1 with the reason, after
 * which the queue closes.  The host refusing the controller's answer sends AUTH_Failure2.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "nvme/internal.h"
#include "util/log.h"

/* What the transaction waits for next; each says which command may come. */
enum auth_step {
	AUTH_AWAIT_NEGOTIATE, /* Send: AUTH_Negotiate */
	AUTH_SEND_CHALLENGE,  /* Receive: our challenge */
	AUTH_AWAIT_REPLY,     /* Send: the host's reply (or AUTH_Failure2) */
	AUTH_SEND_SUCCESS1,   /* Receive: our verdict, with our response when bidirectional */
	AUTH_AWAIT_SUCCESS2,  /* Send: the host's verdict on our response (Success2 or Failure2) */
	AUTH_SEND_FAILURE1,   /* Receive: AUTH_Failure1; the queue closes after it */
};

struct nvme_auth {
	enum auth_step step;
	uint8_t failure; /* AUTH_SEND_FAILURE1: the reason explanation */
	uint16_t tid;
	uint8_t hash, dhgroup;
	size_t hl;
	uint32_t seqnum;
	uint8_t challenge[DHCHAP_MAX_HASH_LEN];
	struct dhchap_dh *dh;
	bool bidirectional;
	uint8_t ctrl_response[DHCHAP_MAX_HASH_LEN];
};

static const struct dhchap_list default_hashes = {
    {NVME_AUTH_HASH_SHA512, NVME_AUTH_HASH_SHA384, NVME_AUTH_HASH_SHA256}, 3};
/* A DH exchange whenever the host offers one, in the cheapest group: the larger ones cost
 * a software-emulated host seconds per queue. */
static const struct dhchap_list default_dhgroups = {
    {NVME_AUTH_DHGROUP_2048, NVME_AUTH_DHGROUP_3072, NVME_AUTH_DHGROUP_4096, NVME_AUTH_DHGROUP_6144,
     NVME_AUTH_DHGROUP_8192, NVME_AUTH_DHGROUP_NULL},
    6};

void nvme_auth_require(struct nvme_sq *sq)
{
	sq->auth_required = true;
	sq->authenticated = false;
}

void nvme_auth_free(struct nvme_sq *sq)
{
	struct nvme_auth *auth = sq->auth;
	if (!auth)
		return;
	dhchap_dh_free(auth->dh);
	dhchap_wipe(auth, sizeof(*auth));
	free(auth);
	sq->auth = NULL;
}

static const char *hostnqn(const struct nvme_sq *sq) { return sq->ctrl->hostnqn; }

static const char *subnqn(const struct nvme_sq *sq) { return sq->ctrl->subsys->nqn; }

static const char *failure_text(uint8_t explanation)
{
	switch (explanation) {
	case NVME_AUTH_FAILURE_FAILED:
		return "authentication failed";
	case NVME_AUTH_FAILURE_PROTOCOL_UNUSABLE:
		return "no usable protocol";
	case NVME_AUTH_FAILURE_CONCAT_MISMATCH:
		return "secure channel concatenation mismatch";
	case NVME_AUTH_FAILURE_HASH_UNUSABLE:
		return "no usable hash";
	case NVME_AUTH_FAILURE_DHGROUP_UNUSABLE:
		return "no usable DH group";
	case NVME_AUTH_FAILURE_INCORRECT_PAYLOAD:
		return "incorrect payload";
	case NVME_AUTH_FAILURE_INCORRECT_MESSAGE:
		return "message out of sequence";
	default:
		return "unknown reason";
	}
}

/* The transaction fails: the host learns why from the next Authentication Receive. */
static void fail(struct nvme_sq *sq, uint8_t explanation, const char *why)
{
	struct nvme_auth *auth = sq->auth;
	log_warn("controller %u queue %u: host %s: DH-HMAC-CHAP %s (%s)", sq->ctrl->cntlid, sq->qid,
		 hostnqn(sq), failure_text(explanation), why);
	dhchap_dh_free(auth->dh);
	auth->dh = NULL;
	auth->step = AUTH_SEND_FAILURE1;
	auth->failure = explanation;
}

static void succeed(struct nvme_sq *sq)
{
	struct nvme_auth *auth = sq->auth;
	if (sq->qid == 0)
		log_info("controller %u: host %s authenticated (%s, %s%s)", sq->ctrl->cntlid,
			 hostnqn(sq), dhchap_hash_name(auth->hash),
			 dhchap_dhgroup_name(auth->dhgroup),
			 auth->bidirectional ? ", controller authenticated too" : "");
	sq->authenticated = true;
	nvme_auth_free(sq);
}

/* The first entry of ours (in our order of preference) that the host lists too. */
static int pick(const struct dhchap_list *ours, const uint8_t *theirs, size_t count)
{
	for (size_t i = 0; i < ours->count; i++)
		if (memchr(theirs, ours->ids[i], count))
			return ours->ids[i];
	return -1;
}

static void negotiate(struct nvme_sq *sq, const uint8_t *msg, size_t len)
{
	struct nvme_auth *auth = sq->auth;
	const struct nvme_auth_negotiate *neg = (const void *)msg;
	const struct nvme_target_params *params = &sq->target->params;
	auth->tid = neg->hdr.t_id;
	if (len < sizeof(*neg) || neg->napd == 0 ||
	    len != sizeof(*neg) + neg->napd * sizeof(struct nvme_auth_dhchap_protocol)) {
		fail(sq, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD, "negotiate length");
		return;
	}
	if (neg->sc_c != 0) {
		fail(sq, NVME_AUTH_FAILURE_CONCAT_MISMATCH, "secure channel asked for");
		return;
	}
	const struct nvme_auth_dhchap_protocol *proto = NULL;
	for (unsigned i = 0; i < neg->napd && !proto; i++)
		if (neg->protocol[i].authid == NVME_AUTH_DHCHAP_AUTH_ID)
			proto = &neg->protocol[i];
	if (!proto) {
		fail(sq, NVME_AUTH_FAILURE_PROTOCOL_UNUSABLE, "no DH-HMAC-CHAP descriptor");
		return;
	}
	if (proto->halen > NVME_AUTH_DHLIST_OFFSET ||
	    proto->dhlen > sizeof(proto->idlist) - NVME_AUTH_DHLIST_OFFSET) {
		fail(sq, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD, "identifier list lengths");
		return;
	}
	int hash = pick(params->dhchap_hashes.count ? &params->dhchap_hashes : &default_hashes,
			proto->idlist, proto->halen);
	if (hash < 0) {
		fail(sq, NVME_AUTH_FAILURE_HASH_UNUSABLE, "none of the host's hashes");
		return;
	}
	int dhgroup =
	    pick(params->dhchap_dhgroups.count ? &params->dhchap_dhgroups : &default_dhgroups,
		 proto->idlist + NVME_AUTH_DHLIST_OFFSET, proto->dhlen);
	if (dhgroup < 0) {
		fail(sq, NVME_AUTH_FAILURE_DHGROUP_UNUSABLE, "none of the host's DH groups");
		return;
	}
	auth->hash = (uint8_t)hash;
	auth->hl = dhchap_hash_len(auth->hash);
	auth->dhgroup = (uint8_t)dhgroup;
	auth->step = AUTH_SEND_CHALLENGE;
}

/* Fills the challenge message into out (room: len bytes); returns its length, 0 on failure. */
static size_t challenge(struct nvme_sq *sq, uint8_t *out, size_t len)
{
	struct nvme_auth *auth = sq->auth;
	size_t dhvlen = dhchap_dhgroup_len(auth->dhgroup);
	struct nvme_auth_challenge *msg = (void *)out;
	size_t size = sizeof(*msg) + auth->hl + dhvlen;
	if (len < size) {
		fail(sq, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD,
		     "receive buffer too small for the challenge");
		return 0;
	}
	if (dhchap_random(auth->challenge, auth->hl)) {
		fail(sq, NVME_AUTH_FAILURE_FAILED, "no random numbers");
		return 0;
	}
	if (dhvlen) {
		auth->dh = dhchap_dh_create(auth->dhgroup);
		if (!auth->dh || dhchap_dh_public(auth->dh, msg->cval + auth->hl, dhvlen)) {
			fail(sq, NVME_AUTH_FAILURE_FAILED, "no DH key");
			return 0;
		}
	}
	/* Sequence numbers are never 0: that means "none" in a reply. */
	unsigned seq;
	do
		seq = atomic_fetch_add(&sq->target->auth_seqnum, 1);
	while (seq == 0);
	auth->seqnum = seq;
	msg->hdr.auth_type = NVME_AUTH_DHCHAP_MESSAGES;
	msg->hdr.auth_id = NVME_AUTH_DHCHAP_MESSAGE_CHALLENGE;
	msg->hdr.t_id = auth->tid;
	msg->hl = (uint8_t)auth->hl;
	msg->hashid = auth->hash;
	msg->dhgid = auth->dhgroup;
	msg->dhvlen = (uint16_t)dhvlen;
	msg->seqnum = auth->seqnum;
	memcpy(msg->cval, auth->challenge, auth->hl);
	auth->step = AUTH_AWAIT_REPLY;
	return size;
}

static void reply(struct nvme_sq *sq, const uint8_t *msg, size_t len)
{
	struct nvme_auth *auth = sq->auth;
	const struct nvme_auth_reply *rep = (const void *)msg;
	const struct nvme_host *host = sq->ctrl->host;
	size_t hl = auth->hl, dhvlen = dhchap_dhgroup_len(auth->dhgroup);
	if (len < sizeof(*rep) || rep->hl != hl || rep->dhvlen != dhvlen ||
	    len != sizeof(*rep) + 2 * hl + dhvlen) {
		fail(sq, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD, "reply length");
		return;
	}
	if (rep->hdr.t_id != auth->tid) {
		fail(sq, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD, "transaction ID");
		return;
	}
	if (rep->cvalid > 1 || (rep->cvalid && rep->seqnum == 0)) {
		fail(sq, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD, "host challenge fields");
		return;
	}
	if (!host || !host->has_key) {
		fail(sq, NVME_AUTH_FAILURE_FAILED, "no secret is configured for this host");
		return;
	}
	if (rep->cvalid && !host->has_ctrl_key) {
		fail(
		    sq, NVME_AUTH_FAILURE_FAILED,
		    "the host asks the controller to authenticate, and no controller secret is configured");
		return;
	}

	uint8_t session[DHCHAP_MAX_DH_LEN], key[DHCHAP_MAX_HASH_LEN], expected[DHCHAP_MAX_HASH_LEN];
	struct dhchap_response_input in = {
	    .hash = auth->hash,
	    .tid = auth->tid,
	};
	if (dhvlen) {
		if (dhchap_dh_shared(auth->dh, rep->rval + 2 * hl, dhvlen, session, dhvlen)) {
			fail(sq, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD,
			     "the host's DH value is not in the group");
			goto out;
		}
		in.session_key = session;
		in.session_key_len = dhvlen;
	}
	int keylen = dhchap_transform(&host->key, hostnqn(sq), key);
	in.key = key;
	in.keylen = keylen < 0 ? 0 : (size_t)keylen;
	in.challenge = auth->challenge;
	in.seqnum = auth->seqnum;
	in.role = "HostHost";
	in.nqn1 = hostnqn(sq);
	in.nqn2 = subnqn(sq);
	if (keylen < 0 || dhchap_response(&in, expected)) {
		fail(sq, NVME_AUTH_FAILURE_FAILED, "cannot compute the response");
		goto out;
	}
	if (CRYPTO_memcmp(expected, rep->rval, hl) != 0) {
		fail(sq, NVME_AUTH_FAILURE_FAILED, "wrong response: the host's secret differs");
		goto out;
	}
	auth->bidirectional = rep->cvalid;
	if (auth->bidirectional) {
		keylen = dhchap_transform(&host->ctrl_key, subnqn(sq), key);
		in.keylen = keylen < 0 ? 0 : (size_t)keylen;
		in.challenge = rep->rval + hl;
		in.seqnum = rep->seqnum;
		in.role = "Controller";
		in.nqn1 = subnqn(sq);
		in.nqn2 = hostnqn(sq);
		if (keylen < 0 || dhchap_response(&in, auth->ctrl_response)) {
			fail(sq, NVME_AUTH_FAILURE_FAILED,
			     "cannot compute the controller's response");
			goto out;
		}
	}
	dhchap_dh_free(auth->dh);
	auth->dh = NULL;
	auth->step = AUTH_SEND_SUCCESS1;
out:
	dhchap_wipe(session, sizeof(session));
	dhchap_wipe(key, sizeof(key));
	dhchap_wipe(expected, sizeof(expected));
}

static size_t success1(struct nvme_sq *sq, uint8_t *out, size_t len)
{
	struct nvme_auth *auth = sq->auth;
	struct nvme_auth_success1 *msg = (void *)out;
	size_t size = sizeof(*msg) + (auth->bidirectional ? auth->hl : 0);
	if (len < size) {
		fail(sq, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD,
		     "receive buffer too small for success1");
		return 0;
	}
	msg->hdr.auth_type = NVME_AUTH_DHCHAP_MESSAGES;
	msg->hdr.auth_id = NVME_AUTH_DHCHAP_MESSAGE_SUCCESS1;
	msg->hdr.t_id = auth->tid;
	/* Linux checks HL whether or not a response follows. */
	msg->hl = (uint8_t)auth->hl;
	msg->rvalid = auth->bidirectional;
	if (auth->bidirectional) {
		memcpy(msg->rval, auth->ctrl_response, auth->hl);
		auth->step = AUTH_AWAIT_SUCCESS2;
	} else {
		succeed(sq);
	}
	return size;
}

/* The queue's transaction, begun if there is none (the first, or a host authenticating a
 * live queue again); NULL, with req answered, when out of memory. */
static struct nvme_auth *transaction(struct nvme_req *req)
{
	struct nvme_sq *sq = req->sq;
	if (!sq->auth && !(sq->auth = calloc(1, sizeof(*sq->auth))))
		nvme_req_complete(req, NVME_SC_INTERNAL);
	return sq->auth;
}

static void execute_send(struct nvme_req *req)
{
	struct nvme_sq *sq = req->sq;
	const uint8_t *msg = req->buf;
	size_t len = req->data_len;
	const struct nvme_auth_common *hdr = (const void *)msg;
	struct nvme_auth *auth = transaction(req);
	if (!auth)
		return;
	uint8_t type = len >= sizeof(*hdr) ? hdr->auth_type : 0xFF;
	uint8_t id = len >= sizeof(*hdr) ? hdr->auth_id : 0xFF;
	if (auth->step == AUTH_AWAIT_NEGOTIATE && type == NVME_AUTH_COMMON_MESSAGES &&
	    id == NVME_AUTH_DHCHAP_MESSAGE_NEGOTIATE) {
		negotiate(sq, msg, len);
	} else if (auth->step == AUTH_AWAIT_REPLY && type == NVME_AUTH_DHCHAP_MESSAGES &&
		   id == NVME_AUTH_DHCHAP_MESSAGE_REPLY) {
		reply(sq, msg, len);
	} else if (auth->step == AUTH_AWAIT_SUCCESS2 && type == NVME_AUTH_DHCHAP_MESSAGES &&
		   id == NVME_AUTH_DHCHAP_MESSAGE_SUCCESS2) {
		if (len != sizeof(struct nvme_auth_success2) || hdr->t_id != auth->tid)
			fail(sq, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD, "success2");
		else
			succeed(sq);
	} else if ((auth->step == AUTH_AWAIT_REPLY || auth->step == AUTH_AWAIT_SUCCESS2) &&
		   type == NVME_AUTH_COMMON_MESSAGES && id == NVME_AUTH_DHCHAP_MESSAGE_FAILURE2 &&
		   len == sizeof(struct nvme_auth_failure)) {
		/* The host gave up: it did not accept the challenge or our response. */
		const struct nvme_auth_failure *f = (const void *)msg;
		log_warn("controller %u queue %u: host %s refused DH-HMAC-CHAP: %s",
			 sq->ctrl->cntlid, sq->qid, hostnqn(sq), failure_text(f->rescode_exp));
		sq->auth_failed = true;
		nvme_auth_free(sq);
	} else if (len < sizeof(*hdr)) {
		fail(sq, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD, "message shorter than its header");
	} else if (auth->step != AUTH_SEND_FAILURE1) {
		fail(sq, NVME_AUTH_FAILURE_INCORRECT_MESSAGE, "unexpected message");
	}
	nvme_req_complete(req, NVME_SC_SUCCESS);
}

static void execute_receive(struct nvme_req *req)
{
	struct nvme_sq *sq = req->sq;
	uint8_t *out = req->buf;
	size_t len = req->data_len, size = 0;
	memset(out, 0, len);
	struct nvme_auth *auth = transaction(req);
	if (!auth)
		return;
	if (auth->step == AUTH_SEND_CHALLENGE)
		size = challenge(sq, out, len);
	else if (auth->step == AUTH_SEND_SUCCESS1)
		size = success1(sq, out, len);
	else if (auth->step != AUTH_SEND_FAILURE1)
		fail(sq, NVME_AUTH_FAILURE_INCORRECT_MESSAGE, "receive out of sequence");
	if (!size) {
		/* AUTH_Failure1; the queue closes once it is sent. */
		struct nvme_auth_failure *f = (void *)out;
		memset(out, 0, len);
		if (len < sizeof(*f)) {
			sq->auth_failed = true;
			nvme_auth_free(sq);
			nvme_req_complete(
			    req, nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
						   NVME_SQE_AT(auth.length)));
			return;
		}
		f->hdr.auth_type = NVME_AUTH_COMMON_MESSAGES;
		f->hdr.auth_id = NVME_AUTH_DHCHAP_MESSAGE_FAILURE1;
		f->hdr.t_id = auth->tid;
		f->rescode = NVME_AUTH_FAILURE_REASON_FAILED;
		f->rescode_exp = auth->failure;
		sq->auth_failed = true;
		nvme_auth_free(sq);
	}
	/* The whole allocation length goes back, zero-padded past the message. */
	req->data = req->buf;
	nvme_req_complete(req, NVME_SC_SUCCESS);
}

uint16_t nvme_parse_auth(struct nvme_req *req)
{
	const struct nvmf_auth_command *c = &req->cmd.auth;
	if (c->secp != NVME_AUTH_SECP_NVME)
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					 NVME_SQE_AT(auth.secp));
	if (c->spsp0 != NVME_AUTH_SPSP || c->spsp1 != NVME_AUTH_SPSP)
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					 NVME_SQE_AT(auth.spsp0));
	if (c->length == 0)
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					 NVME_SQE_AT(auth.length));
	bool send = c->fctype == nvme_fabrics_type_auth_send;
	req->execute = send ? execute_send : execute_receive;
	return nvme_req_expect_data(req, send ? NVME_XFER_H2C : NVME_XFER_C2H, c->length);
}
