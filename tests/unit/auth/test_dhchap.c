/*
 * DH-HMAC-CHAP's computations against values computed independently (Python's hmac and
 * hashlib, from the specification's formulas): secrets, the key transformation, responses
 * with and without a DH session key; and the FFDHE exchange of every group.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/dhchap.h"
#include "util/util.h"

#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:host"
#define SUBNQN "nqn.2024-01.io.nvemu:harness"
/* bytes 0..31, transformed with SHA-256; bytes 100..147, with SHA-384 (base64 padded "==") */
#define KEY1 "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"
#define KEY2 "DHHC-1:02:ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo+QkZKTvGwQfg==:"

static void hex(const char *text, uint8_t *out)
{
	for (size_t i = 0; text[2 * i]; i++)
		sscanf(text + 2 * i, "%2hhx", &out[i]);
}

static void test_parse(void **state)
{
	(void)state;
	struct dhchap_key key;
	char err[160];
	assert_int_equal(dhchap_key_parse(KEY1, &key, err, sizeof(err)), 0);
	assert_int_equal(key.transform, NVME_AUTH_HASH_SHA256);
	assert_int_equal(key.len, 32);
	for (int i = 0; i < 32; i++)
		assert_int_equal(key.bytes[i], i);
	assert_int_equal(dhchap_key_parse(KEY2, &key, err, sizeof(err)), 0);
	assert_int_equal(key.transform, NVME_AUTH_HASH_SHA384);
	assert_int_equal(key.len, 48);
	assert_int_equal(key.bytes[0], 100);
	assert_int_equal(key.bytes[47], 147);
	/* Without the closing ':' too. */
	char open_ended[sizeof(KEY1)];
	snprintf(open_ended, sizeof(open_ended), "%.*s", (int)strlen(KEY1) - 1, KEY1);
	assert_int_equal(dhchap_key_parse(open_ended, &key, err, sizeof(err)), 0);
}

static void test_parse_errors(void **state)
{
	(void)state;
	struct dhchap_key key;
	char err[160], text[128];
	const char *bad[] = {
	    "",
	    "DHHC-2:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:",
	    "DHHC-1:04:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", /* no such hash */
	    "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaS:", /* CRC-32 off by a bit */
	    "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+K:",     /* short */
	    "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:x", /* trailing */
	    "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*KfiaR:",  /* not base64 */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_int_equal(dhchap_key_parse(bad[i], &key, err, sizeof(err)), -1);
		assert_true(err[0]);
		/* No message repeats the secret's key part. */
		if (strlen(bad[i]) > 30) {
			snprintf(text, sizeof(text), "%.16s", bad[i] + 12);
			assert_null(strstr(err, text));
		}
	}
	assert_int_equal(dhchap_key_parse(bad[3], &key, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CRC-32"));
}

static void test_transform(void **state)
{
	(void)state;
	struct dhchap_key key;
	char err[160];
	uint8_t out[DHCHAP_MAX_HASH_LEN], want[DHCHAP_MAX_HASH_LEN];
	assert_int_equal(dhchap_key_parse(KEY1, &key, err, sizeof(err)), 0);
	assert_int_equal(dhchap_transform(&key, HOSTNQN, out), 32);
	hex("d06bfe416d2de81dd5cccafd02bca7f68fe6d9ed50c7393fa37471335959cdf7", want);
	assert_memory_equal(out, want, 32);
	assert_int_equal(dhchap_key_parse(KEY2, &key, err, sizeof(err)), 0);
	assert_int_equal(dhchap_transform(&key, SUBNQN, out), 48);
	hex("78b086a46b5dec3f1c763ebc2f90f740e9f21404fc77986a04926e96e19e4839adb6c21c39a8981f7e8712cf8e"
	    "43e7e7",
	    want);
	assert_memory_equal(out, want, 48);
	/* 00: the secret as it is. */
	key.transform = 0;
	assert_int_equal(dhchap_transform(&key, SUBNQN, out), 48);
	assert_int_equal(out[0], 100);
}

static void test_response(void **state)
{
	(void)state;
	uint8_t key[64], challenge[64], out[64], want[64];
	hex("d06bfe416d2de81dd5cccafd02bca7f68fe6d9ed50c7393fa37471335959cdf7", key);
	for (int i = 0; i < 64; i++)
		challenge[i] = (uint8_t)(0x40 + i);
	struct dhchap_response_input in = {
	    .hash = NVME_AUTH_HASH_SHA256,
	    .key = key,
	    .keylen = 32,
	    .challenge = challenge,
	    .seqnum = 0x01020304,
	    .tid = 0x0506,
	    .role = "HostHost",
	    .nqn1 = HOSTNQN,
	    .nqn2 = SUBNQN,
	};
	assert_int_equal(dhchap_response(&in, out), 0);
	hex("eb80339c5a7b20b169242553746d8d0e567850b1b7e8a896683d59ae917ba6df", want);
	assert_memory_equal(out, want, 32);

	/* The controller's side, SHA-384, challenge augmented with a session key. */
	uint8_t session[256];
	memset(session, 0xAB, sizeof(session));
	hex("78b086a46b5dec3f1c763ebc2f90f740e9f21404fc77986a04926e96e19e4839adb6c21c39a8981f7e8712cf8e"
	    "43e7e7",
	    key);
	for (int i = 0; i < 48; i++)
		challenge[i] = (uint8_t)(0x80 + i);
	in = (struct dhchap_response_input){
	    .hash = NVME_AUTH_HASH_SHA384,
	    .key = key,
	    .keylen = 48,
	    .challenge = challenge,
	    .session_key = session,
	    .session_key_len = sizeof(session),
	    .seqnum = 7,
	    .tid = 9,
	    .role = "Controller",
	    .nqn1 = SUBNQN,
	    .nqn2 = HOSTNQN,
	};
	assert_int_equal(dhchap_response(&in, out), 0);
	hex("7fe13f0e88c19f6dc61d3ae9c9db51109fea89283ec52500073cb2aee079a7437ecc166b0e7d50cb20fe11bc0fe1"
	    "2631",
	    want);
	assert_memory_equal(out, want, 48);
	in.hash = 0x04;
	assert_int_equal(dhchap_response(&in, out), -1);
}

static void test_dh_every_group(void **state)
{
	(void)state;
	for (uint8_t group = NVME_AUTH_DHGROUP_2048; group <= NVME_AUTH_DHGROUP_8192; group++) {
		size_t len = dhchap_dhgroup_len(group);
		uint8_t a_pub[DHCHAP_MAX_DH_LEN], b_pub[DHCHAP_MAX_DH_LEN];
		uint8_t a_sec[DHCHAP_MAX_DH_LEN], b_sec[DHCHAP_MAX_DH_LEN];
		struct dhchap_dh *a = dhchap_dh_create(group), *b = dhchap_dh_create(group);
		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(dhchap_dh_public(a, a_pub, len), 0);
		assert_int_equal(dhchap_dh_public(b, b_pub, len), 0);
		assert_int_equal(dhchap_dh_shared(a, b_pub, len, a_sec, len), 0);
		assert_int_equal(dhchap_dh_shared(b, a_pub, len, b_sec, len), 0);
		assert_memory_equal(a_sec, b_sec, len);
		assert_memory_not_equal(a_pub, b_pub, len);
		/* Values that are no element of the group's prime-order subgroup: 0, 1, p - 1, p. */
		uint8_t bad[DHCHAP_MAX_DH_LEN];
		memset(bad, 0, len);
		assert_int_equal(dhchap_dh_shared(a, bad, len, a_sec, len), -1);
		bad[len - 1] = 1;
		assert_int_equal(dhchap_dh_shared(a, bad, len, a_sec, len), -1);
		memset(bad, 0xFF, len); /* every RFC 7919 prime is FFFF...FFFF: this is p */
		assert_int_equal(dhchap_dh_shared(a, bad, len, a_sec, len), -1);
		bad[len - 1] = 0xFE; /* p - 1 */
		assert_int_equal(dhchap_dh_shared(a, bad, len, a_sec, len), -1);
		/* A value of another length. */
		assert_int_equal(dhchap_dh_shared(a, b_pub, len - 4, a_sec, len), -1);
		dhchap_dh_free(a);
		dhchap_dh_free(b);
	}
	assert_null(dhchap_dh_create(NVME_AUTH_DHGROUP_NULL));
	assert_null(dhchap_dh_create(0x06));
}

static void test_lists(void **state)
{
	(void)state;
	struct dhchap_list list;
	char err[200];
	assert_int_equal(dhchap_hashes_parse("sha512,sha256", &list, err, sizeof(err)), 0);
	assert_int_equal(list.count, 2);
	assert_int_equal(list.ids[0], NVME_AUTH_HASH_SHA512);
	assert_true(dhchap_list_has(&list, NVME_AUTH_HASH_SHA256));
	assert_false(dhchap_list_has(&list, NVME_AUTH_HASH_SHA384));
	assert_int_equal(dhchap_dhgroups_parse("null,ffdhe8192", &list, err, sizeof(err)), 0);
	assert_int_equal(list.ids[1], NVME_AUTH_DHGROUP_8192);
	assert_int_equal(dhchap_hashes_parse("md5", &list, err, sizeof(err)), -1);
	assert_int_equal(dhchap_hashes_parse("sha256,sha256", &list, err, sizeof(err)), -1);
	assert_int_equal(dhchap_dhgroups_parse("", &list, err, sizeof(err)), -1);
	assert_int_equal(dhchap_dhgroups_parse("null,", &list, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),          cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_transform),      cmocka_unit_test(test_response),
	    cmocka_unit_test(test_dh_every_group), cmocka_unit_test(test_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
