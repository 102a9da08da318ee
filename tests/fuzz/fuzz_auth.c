/*
 * libFuzzer target for DH-HMAC-CHAP on the controller (src/nvme/auth.c): a host's
 * Authentication Send and Receive commands on a freshly connected admin queue whose host must
 * authenticate (it has a secret and a controller secret).
 *
 * The input is a sequence of steps, each:
 *   byte 0     what: 0 Send of the bytes that follow, verbatim
 *                    1 Receive of LEN bytes (nothing follows)
 *                    2 Send of the right reply to the last challenge received (the host's
 *                      genuine response; bidirectional when LEN is odd), each following
 *                      byte XORed into it: a nonzero byte on the response spoils it
 *                    3 an Identify (not authentication): refused unless authenticated
 *   bytes 1-2  LEN (little-endian): of what follows (0 and 2), the allocation length (1)
 *   then       LEN bytes for steps 0 and 2
 *
 * Checked on every input: each command completes exactly once; before the queue has
 * authenticated, the Identify is refused with Authentication Required; a Receive that returns
 * AUTH_Failure1 leaves the queue to be closed; and the queue never authenticates without a
 * genuine, unspoilt reply (a message from the input alone cannot authenticate a host).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "target_harness.h"
#include "util/log.h"

#define HOST "nqn.2014-08.org.nvmexpress:uuid:fuzz-auth"
#define KEY "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"
#define CTRL_KEY "DHHC-1:00:ERERERERERERERERERERERERERERERERERERERERERHYIEm8:"
#define STEP_HEADER 3
#define MAX_MESSAGE 4096

static struct th_env *env;
static struct dhchap_key host_key, ctrl_key;
static uint8_t buf[MAX_MESSAGE];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* No DH exchange unless the host offers only ffdhe2048: the larger groups' modular
	 * exponentiations would take most of the time (tests/unit covers each group). */
	struct th_env_params params = {.allowed_host = HOST,
				       .dhchap_key = KEY,
				       .dhchap_ctrl_key = CTRL_KEY,
				       .dhchap_dhgroups = {{NVME_AUTH_DHGROUP_NULL}, 1}};
	env = th_env_create(&params);
	char err[160];
	if (!env || dhchap_key_parse(KEY, &host_key, err, sizeof(err)) ||
	    dhchap_key_parse(CTRL_KEY, &ctrl_key, err, sizeof(err)))
		abort();
	/* NVEMU_FUZZ_LOG=1 shows the target's view when replaying one input. */
	log_threshold = getenv("NVEMU_FUZZ_LOG") ? LOG_DEBUG : LOG_ERROR;
	return 0;
}

/* Runs a command that must complete exactly once; returns its status. */
static uint16_t exec(struct th_queue *q, const struct nvme_sqe *sqe, const void *h2c, uint32_t len,
		     void *c2h, uint32_t c2h_len)
{
	uint16_t status = th_exec(q, sqe, h2c, len, c2h, c2h_len, NULL);
	if (status == 0xFFFF)
		abort();
	return status;
}

/* The last challenge the controller sent, as a host keeps it. */
struct challenge {
	bool valid;
	uint16_t tid;
	uint8_t hash, dhgroup;
	uint32_t seqnum;
	uint8_t cval[DHCHAP_MAX_HASH_LEN];
	uint8_t dh[DHCHAP_MAX_DH_LEN];
	size_t hl, dhvlen;
};

static void keep_challenge(struct challenge *c, const uint8_t *msg, size_t len)
{
	const struct nvme_auth_challenge *ch = (const void *)msg;
	c->valid = false;
	if (len < sizeof(*ch) || ch->hdr.auth_type != NVME_AUTH_DHCHAP_MESSAGES ||
	    ch->hdr.auth_id != NVME_AUTH_DHCHAP_MESSAGE_CHALLENGE)
		return;
	c->hl = dhchap_hash_len(ch->hashid);
	c->dhvlen = ch->dhvlen;
	/* What the controller sends must be well-formed. */
	if (!c->hl || ch->hl != c->hl || c->dhvlen != dhchap_dhgroup_len(ch->dhgid) ||
	    !ch->seqnum || sizeof(*ch) + c->hl + c->dhvlen > len)
		abort();
	c->valid = true;
	c->tid = ch->hdr.t_id;
	c->hash = ch->hashid;
	c->dhgroup = ch->dhgid;
	c->seqnum = ch->seqnum;
	memcpy(c->cval, ch->cval, c->hl);
	memcpy(c->dh, ch->cval + c->hl, c->dhvlen);
}

/* The genuine reply to c into out; returns its length (0 if the challenge cannot be
 * answered, e.g. no DH key). */
static size_t genuine_reply(const struct challenge *c, bool bidirectional, uint8_t *out)
{
	struct nvme_auth_reply *rep = (void *)out;
	size_t len = sizeof(*rep) + 2 * c->hl + c->dhvlen;
	uint8_t session[DHCHAP_MAX_DH_LEN], key[DHCHAP_MAX_HASH_LEN];
	memset(out, 0, len);
	struct dhchap_response_input in = {.hash = c->hash,
					   .tid = c->tid,
					   .seqnum = c->seqnum,
					   .challenge = c->cval,
					   .role = "HostHost",
					   .nqn1 = HOST,
					   .nqn2 = TH_SUBNQN,
					   .key = key};
	if (c->dhvlen) {
		struct dhchap_dh *dh = dhchap_dh_create(c->dhgroup);
		int bad = !dh || dhchap_dh_public(dh, rep->rval + 2 * c->hl, c->dhvlen) ||
			  dhchap_dh_shared(dh, c->dh, c->dhvlen, session, c->dhvlen);
		dhchap_dh_free(dh);
		if (bad)
			return 0;
		in.session_key = session;
		in.session_key_len = c->dhvlen;
	}
	in.keylen = (size_t)dhchap_transform(&host_key, HOST, key);
	if (dhchap_response(&in, rep->rval))
		abort();
	rep->hdr = (struct nvme_auth_common){NVME_AUTH_DHCHAP_MESSAGES,
					     NVME_AUTH_DHCHAP_MESSAGE_REPLY, 0, c->tid};
	rep->hl = (uint8_t)c->hl;
	rep->dhvlen = (uint16_t)c->dhvlen;
	if (bidirectional) {
		rep->cvalid = 1;
		rep->seqnum = 1;
		memset(rep->rval + c->hl, 0x3C, c->hl);
	}
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct th_queue q;
	th_queue_init(&q, env);
	struct nvme_sqe connect = th_connect_sqe(0, 31, 0);
	struct nvmf_connect_data cd;
	th_connect_data(&cd, NVMF_CNTLID_DYNAMIC, TH_SUBNQN, HOST);
	if (exec(&q, &connect, &cd, sizeof(cd), NULL, 0) != 0 || nvme_sq_ready(&q.sq))
		abort();
	struct challenge ch = {0};
	bool genuine_sent = false;
	while (size >= STEP_HEADER) {
		uint8_t what = data[0] % 4;
		uint32_t len = (uint32_t)data[1] | (uint32_t)data[2] << 8;
		data += STEP_HEADER;
		size -= STEP_HEADER;
		uint32_t take = what == 0 || what == 2 ? (len < size ? len : (uint32_t)size) : 0;
		if (what == 0) {
			struct nvme_sqe sqe = th_auth_sqe(true, take);
			exec(&q, &sqe, data, take, NULL, 0);
		} else if (what == 1) {
			uint32_t al = len % (MAX_MESSAGE + 1);
			struct nvme_sqe sqe = th_auth_sqe(false, al);
			if (exec(&q, &sqe, NULL, 0, buf, al) == 0) {
				keep_challenge(&ch, buf, al);
				if (al >= 2 && buf[0] == NVME_AUTH_COMMON_MESSAGES &&
				    buf[1] == NVME_AUTH_DHCHAP_MESSAGE_FAILURE1 &&
				    !nvme_sq_orphaned(&q.sq))
					abort(); /* a failure must close the queue */
			}
		} else if (what == 2 && ch.valid) {
			size_t n = genuine_reply(&ch, len & 1, buf);
			bool spoilt = false;
			/* Only the response proves the secret: other fields may change and pass. */
			for (size_t i = 0; i < take && i < n; i++) {
				buf[i] ^= data[i];
				spoilt |= data[i] != 0 && i >= sizeof(struct nvme_auth_reply) &&
					  i < sizeof(struct nvme_auth_reply) + ch.hl;
			}
			if (n) {
				struct nvme_sqe sqe = th_auth_sqe(true, (uint32_t)n);
				exec(&q, &sqe, buf, (uint32_t)n, NULL, 0);
				genuine_sent |= !spoilt;
			}
		} else if (what == 3) {
			struct nvme_sqe id = th_identify_sqe(NVME_ID_CNS_CTRL, 0);
			uint16_t status = exec(&q, &id, NULL, 0, buf, sizeof(buf));
			if (!nvme_sq_ready(&q.sq) &&
			    status != (NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR))
				abort();
		}
		data += take;
		size -= take;
	}
	/* Authenticated only by answering a challenge with the secret. */
	if (nvme_sq_ready(&q.sq) && !genuine_sent)
		abort();
	th_queue_close(&q);
	return 0;
}
