/*
 * DH-HMAC-CHAP on the controller: what Connect says, what a queue serves before it has
 * authenticated, the whole exchange with every hash and DH group, bidirectional, and each
 * way it fails (with the failure explanation the specification gives), then the queue closes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "target_harness.h"
#include "util/util.h"

#define HOST "nqn.2014-08.org.nvmexpress:uuid:auth-host"
#define KEY "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"
#define CTRL_KEY                                                                                   \
	"DHHC-1:02:ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo+QkZKTvGwQfg==:"
/* 32 bytes of 0x11, not transformed */
#define OTHER_KEY "DHHC-1:00:ERERERERERERERERERERERERERERERERERERERERERHYIEm8:"

#define ST_INVALID_FIELD 0x4002
#define ST_AUTH_REQUIRED 0x4191
#define ST_CTRL_BUSY 0x4181

static int setup(void **state)
{
	struct th_env_params p = {
	    .allowed_host = HOST, .dhchap_key = KEY, .dhchap_ctrl_key = CTRL_KEY};
	*state = th_env_create(&p);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	th_env_destroy(*state);
	return 0;
}

/* Admin Connect from HOST; *result gets DW0. */
static uint16_t connect_admin(struct th_queue *q, uint64_t *result)
{
	struct nvme_sqe sqe = th_connect_sqe(0, 31, 0);
	struct nvmf_connect_data data;
	th_connect_data(&data, NVMF_CNTLID_DYNAMIC, TH_SUBNQN, HOST);
	return th_exec(q, &sqe, &data, sizeof(data), NULL, 0, result);
}

static struct th_auth_host host(const char *key, const char *ctrl_key)
{
	return (struct th_auth_host){.hostnqn = HOST,
				     .subnqn = TH_SUBNQN,
				     .key = key,
				     .ctrl_key = ctrl_key,
				     .hash = NVME_AUTH_HASH_SHA256,
				     .dhgroup = NVME_AUTH_DHGROUP_NULL,
				     .tid = 7};
}

static void test_connect_asks_to_authenticate(void **state)
{
	struct th_queue q;
	th_queue_init(&q, *state);
	uint64_t result = 0;
	assert_int_equal(connect_admin(&q, &result), 0);
	assert_true(result & NVMF_CONNECT_AUTHREQ_ATR);
	assert_false(result & NVMF_CONNECT_AUTHREQ_ASCR);
	/* Nothing but authentication is served: not a property, not an admin command. */
	struct nvme_sqe get = th_property_get_sqe(NVME_REG_CAP, true);
	assert_int_equal(th_exec(&q, &get, NULL, 0, NULL, 0, NULL), ST_AUTH_REQUIRED);
	struct nvme_sqe id = th_identify_sqe(NVME_ID_CNS_CTRL, 0);
	uint8_t page[4096];
	assert_int_equal(th_exec(&q, &id, NULL, 0, page, sizeof(page), NULL), ST_AUTH_REQUIRED);
	assert_false(nvme_sq_ready(&q.sq));
	/* After authenticating, everything is. */
	struct th_auth_host h = host(KEY, NULL);
	assert_int_equal(th_authenticate(&q, &h), 0);
	assert_true(nvme_sq_ready(&q.sq));
	assert_int_equal(th_exec(&q, &get, NULL, 0, NULL, 0, NULL), 0);
	th_queue_close(&q);
}

static void test_every_hash_and_group(void **state)
{
	for (uint8_t hash = NVME_AUTH_HASH_SHA256; hash <= NVME_AUTH_HASH_SHA512; hash++) {
		for (uint8_t group = NVME_AUTH_DHGROUP_NULL; group <= NVME_AUTH_DHGROUP_8192;
		     group++) {
			/* Every hash with the null group and ffdhe2048; every group with SHA-512. */
			if (group > NVME_AUTH_DHGROUP_2048 && hash != NVME_AUTH_HASH_SHA512)
				continue;
			struct th_queue q;
			th_queue_init(&q, *state);
			assert_int_equal(connect_admin(&q, NULL), 0);
			struct th_auth_host h = host(KEY, CTRL_KEY);
			h.hash = hash;
			h.dhgroup = group;
			assert_int_equal(th_authenticate(&q, &h), 0);
			assert_true(nvme_sq_ready(&q.sq));
			assert_false(nvme_sq_orphaned(&q.sq));
			th_queue_close(&q);
		}
	}
}

static void test_io_queue_authenticates_too(void **state)
{
	struct th_queue admin, io;
	th_queue_init(&admin, *state);
	th_queue_init(&io, *state);
	uint64_t result = 0;
	assert_int_equal(connect_admin(&admin, &result), 0);
	struct th_auth_host h = host(KEY, NULL);
	assert_int_equal(th_authenticate(&admin, &h), 0);
	assert_int_equal(th_enable(&admin), 0);
	assert_int_equal(th_set_num_queues(&admin, 3, 3, NULL), 0);
	struct nvme_sqe sqe = th_connect_sqe(1, 63, 0);
	struct nvmf_connect_data data;
	th_connect_data(&data, (uint16_t)result, TH_SUBNQN, HOST);
	assert_int_equal(th_exec(&io, &sqe, &data, sizeof(data), NULL, 0, &result), 0);
	assert_true(result & NVMF_CONNECT_AUTHREQ_ATR);
	uint8_t block[4096];
	struct nvme_sqe rd = th_rw_sqe(nvme_cmd_read, 1, 0, 1, 4096);
	assert_int_equal(th_exec(&io, &rd, NULL, 0, block, sizeof(block), NULL), ST_AUTH_REQUIRED);
	h.tid = 8;
	assert_int_equal(th_authenticate(&io, &h), 0);
	assert_int_equal(th_exec(&io, &rd, NULL, 0, block, sizeof(block), NULL), 0);
	th_queue_close(&io);
	th_queue_close(&admin);
}

/* Connect, run the exchange, and expect the failure explanation `want`; the queue then
 * closes (orphaned) and still serves nothing. */
static void expect_failure(void **state, struct th_auth_host h, unsigned want)
{
	struct th_queue q;
	th_queue_init(&q, *state);
	assert_int_equal(connect_admin(&q, NULL), 0);
	assert_int_equal(th_authenticate(&q, &h), want);
	assert_true(nvme_sq_orphaned(&q.sq));
	assert_false(nvme_sq_ready(&q.sq));
	struct nvme_sqe get = th_property_get_sqe(NVME_REG_CAP, true);
	assert_int_equal(th_exec(&q, &get, NULL, 0, NULL, 0, NULL), ST_AUTH_REQUIRED);
	th_queue_close(&q);
}

static void test_wrong_host_secret(void **state)
{
	expect_failure(state, host(OTHER_KEY, NULL), NVME_AUTH_FAILURE_FAILED);
	/* A host that answers with no secret at all (zeroes) fails the same way. */
	expect_failure(state, host(NULL, NULL), NVME_AUTH_FAILURE_FAILED);
}

static void test_wrong_controller_secret(void **state)
{
	/* The controller answers with its secret; the host's differs and it sends Failure2. */
	expect_failure(state, host(KEY, OTHER_KEY), 0x100 + NVME_AUTH_FAILURE_FAILED);
}

static void test_unusable_offers(void **state)
{
	struct th_auth_host h = host(KEY, NULL);
	h.hash = 0x04;
	expect_failure(state, h, NVME_AUTH_FAILURE_HASH_UNUSABLE);
	h = host(KEY, NULL);
	h.dhgroup = 0x06;
	expect_failure(state, h, NVME_AUTH_FAILURE_DHGROUP_UNUSABLE);
}

/* Sends one message, then fetches the controller's answer; returns its failure explanation
 * (0 if it is no failure). */
static unsigned exchange_one(struct th_queue *q, const void *msg, uint32_t len)
{
	uint8_t buf[4096];
	assert_int_equal(th_auth_send(q, msg, len), 0);
	assert_int_equal(th_auth_receive(q, buf, sizeof(buf)), 0);
	const struct nvme_auth_failure *f = (const void *)buf;
	if (f->hdr.auth_type == NVME_AUTH_COMMON_MESSAGES &&
	    f->hdr.auth_id == NVME_AUTH_DHCHAP_MESSAGE_FAILURE1) {
		assert_int_equal(f->rescode, NVME_AUTH_FAILURE_REASON_FAILED);
		return f->rescode_exp;
	}
	return 0;
}

static void test_malformed_negotiate(void **state)
{
	uint8_t n[sizeof(struct nvme_auth_negotiate) + sizeof(struct nvme_auth_dhchap_protocol)];
	struct nvme_auth_negotiate *neg = (void *)n;
	struct {
		uint8_t sc_c, napd, authid, halen;
		unsigned want;
		uint32_t len;
	} cases[] = {
	    {1, 1, 1, 1, NVME_AUTH_FAILURE_CONCAT_MISMATCH, sizeof(n)},
	    {0, 0, 1, 1, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD, sizeof(n)},
	    {0, 2, 1, 1, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD,
	     sizeof(n)}, /* napd and length differ */
	    {0, 1, 2, 1, NVME_AUTH_FAILURE_PROTOCOL_UNUSABLE, sizeof(n)},
	    {0, 1, 1, 31, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD, sizeof(n)},
	    {0, 1, 1, 1, NVME_AUTH_FAILURE_INCORRECT_PAYLOAD, 4}, /* shorter than the header */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct th_queue q;
		th_queue_init(&q, *state);
		assert_int_equal(connect_admin(&q, NULL), 0);
		memset(n, 0, sizeof(n));
		neg->hdr.auth_type = NVME_AUTH_COMMON_MESSAGES;
		neg->hdr.auth_id = NVME_AUTH_DHCHAP_MESSAGE_NEGOTIATE;
		neg->sc_c = cases[i].sc_c;
		neg->napd = cases[i].napd;
		neg->protocol[0].authid = cases[i].authid;
		neg->protocol[0].halen = cases[i].halen;
		neg->protocol[0].dhlen = 1;
		neg->protocol[0].idlist[0] = NVME_AUTH_HASH_SHA256;
		assert_int_equal(exchange_one(&q, n, cases[i].len), cases[i].want);
		assert_true(nvme_sq_orphaned(&q.sq));
		th_queue_close(&q);
	}
}

static void test_out_of_sequence(void **state)
{
	struct th_queue q;
	th_queue_init(&q, *state);
	assert_int_equal(connect_admin(&q, NULL), 0);
	/* A reply before any negotiation. */
	struct nvme_auth_reply rep = {
	    .hdr = {NVME_AUTH_DHCHAP_MESSAGES, NVME_AUTH_DHCHAP_MESSAGE_REPLY, 0, 1}};
	assert_int_equal(exchange_one(&q, &rep, sizeof(rep)), NVME_AUTH_FAILURE_INCORRECT_MESSAGE);
	th_queue_close(&q);

	/* A Receive before anything was sent. */
	th_queue_init(&q, *state);
	assert_int_equal(connect_admin(&q, NULL), 0);
	uint8_t buf[64];
	assert_int_equal(th_auth_receive(&q, buf, sizeof(buf)), 0);
	assert_int_equal(buf[1], NVME_AUTH_DHCHAP_MESSAGE_FAILURE1);
	assert_int_equal(buf[7], NVME_AUTH_FAILURE_INCORRECT_MESSAGE);
	assert_true(nvme_sq_orphaned(&q.sq));
	th_queue_close(&q);
}

static void test_command_fields(void **state)
{
	struct th_queue q;
	th_queue_init(&q, *state);
	assert_int_equal(connect_admin(&q, NULL), 0);
	uint8_t msg[8] = {0};
	struct nvme_sqe sqe = th_auth_sqe(true, sizeof(msg));
	sqe.auth.secp = 0xEA;
	assert_int_equal(th_exec(&q, &sqe, msg, sizeof(msg), NULL, 0, NULL), ST_INVALID_FIELD);
	sqe = th_auth_sqe(true, sizeof(msg));
	sqe.auth.spsp1 = 2;
	assert_int_equal(th_exec(&q, &sqe, msg, sizeof(msg), NULL, 0, NULL), ST_INVALID_FIELD);
	sqe = th_auth_sqe(false, 0);
	assert_int_equal(th_exec(&q, &sqe, NULL, 0, NULL, 0, NULL), ST_INVALID_FIELD);
	/* A Receive too short for even a failure message. */
	assert_int_equal(th_auth_receive(&q, msg, 4), ST_INVALID_FIELD);
	th_queue_close(&q);
}

static void test_bidirectional_needs_a_controller_secret(void **state)
{
	/* A target that knows the host's secret and no controller secret cannot prove itself. */
	struct th_env_params p = {.allowed_host = HOST, .dhchap_key = KEY};
	struct th_env *env = th_env_create(&p);
	assert_non_null(env);
	void *inner = env;
	expect_failure(&inner, host(KEY, CTRL_KEY), NVME_AUTH_FAILURE_FAILED);
	th_env_destroy(env);
	(void)state;
}

static void test_host_without_secret_never_authenticates(void **state)
{
	/* Discovery never asks, and neither does a subsystem for a host given no secret. */
	(void)state;
	struct th_env_params p = {.allow_any_host = true};
	struct th_env *env = th_env_create(&p);
	struct th_queue q;
	th_queue_init(&q, env);
	uint64_t result = 0;
	assert_int_equal(connect_admin(&q, &result), 0);
	assert_false(result & NVMF_CONNECT_AUTHREQ_ATR);
	assert_true(nvme_sq_ready(&q.sq));
	th_queue_close(&q);
	th_env_destroy(env);
}

static void test_reauthentication(void **state)
{
	struct th_queue q;
	th_queue_init(&q, *state);
	assert_int_equal(connect_admin(&q, NULL), 0);
	struct th_auth_host h = host(KEY, CTRL_KEY);
	assert_int_equal(th_authenticate(&q, &h), 0);
	/* Again on the live queue, with another group: it stays usable throughout. */
	h.tid = 99;
	h.dhgroup = NVME_AUTH_DHGROUP_3072;
	assert_int_equal(th_authenticate(&q, &h), 0);
	assert_true(nvme_sq_ready(&q.sq));
	th_queue_close(&q);
}

static void test_controllers_per_host(void **state)
{
	(void)state;
	struct th_env_params p = {.allow_any_host = true, .max_ctrls_per_host = 2};
	struct th_env *env = th_env_create(&p);
	struct th_queue q[3];
	for (int i = 0; i < 3; i++) {
		th_queue_init(&q[i], env);
		assert_int_equal(th_connect_admin(&q[i], TH_SUBNQN, HOST, NULL),
				 i < 2 ? 0 : ST_CTRL_BUSY);
	}
	/* Another host is not affected; a freed controller makes room. */
	struct th_queue other;
	th_queue_init(&other, env);
	assert_int_equal(th_connect_admin(&other, TH_SUBNQN, TH_HOSTNQN, NULL), 0);
	th_queue_close(&q[0]);
	th_queue_init(&q[0], env);
	assert_int_equal(th_connect_admin(&q[0], TH_SUBNQN, HOST, NULL), 0);
	for (int i = 0; i < 3; i++)
		th_queue_close(&q[i]);
	th_queue_close(&other);
	th_env_destroy(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_connect_asks_to_authenticate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_hash_and_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_io_queue_authenticates_too, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_host_secret, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_controller_secret, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unusable_offers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_negotiate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out_of_sequence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reauthentication, setup, teardown),
	    cmocka_unit_test(test_bidirectional_needs_a_controller_secret),
	    cmocka_unit_test(test_host_without_secret_never_authenticates),
	    cmocka_unit_test(test_controllers_per_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
