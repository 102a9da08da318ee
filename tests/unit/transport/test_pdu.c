/* The target's PDU framing checks: every refusal with its FES and FEI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/pdu.h"

/* Byte offsets from the NVMe/TCP specification, written out, not taken from the code. */
enum {
	FEI_TYPE = 0,
	FEI_FLAGS = 1,
	FEI_HLEN = 2,
	FEI_PDO = 3,
	FEI_PLEN = 4,
	FEI_ICREQ_PFV = 8,
	FEI_ICREQ_HPDA = 10,
};
enum { FES_INVALID_HDR = 1, FES_SEQ = 2, FES_DATA_LIMIT = 5, FES_UNSUPPORTED = 6 };
enum { F_HDGST = 1, F_DDGST = 2 };

static const struct pdu_limits no_digests = {
    .hdgst = false, .ddgst = false, .max_incapsule = 8192, .max_h2c_data = 131072};
static const struct pdu_limits both_digests = {
    .hdgst = true, .ddgst = true, .max_incapsule = 8192, .max_h2c_data = 131072};

static struct nvme_tcp_hdr hdr(uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo, uint32_t plen)
{
	struct nvme_tcp_hdr h = {.type = type, .flags = flags, .hlen = hlen, .pdo = pdo, .plen = plen};
	return h;
}

static void expect_refusal(struct nvme_tcp_hdr h, const struct pdu_limits *limits, uint16_t fes,
			   uint32_t fei)
{
	struct pdu_layout layout;
	struct pdu_error err = {0xDEAD, 0xDEAD};
	assert_int_equal(pdu_check_common(&h, limits, &layout, &err), -1);
	assert_int_equal(err.fes, fes);
	assert_int_equal(err.fei, fei);
}

static struct pdu_layout expect_accepted(struct nvme_tcp_hdr h, const struct pdu_limits *limits)
{
	struct pdu_layout layout;
	struct pdu_error err = {0, 0};
	assert_int_equal(pdu_check_common(&h, limits, &layout, &err), 0);
	assert_int_equal(layout.type, h.type);
	assert_int_equal(layout.hlen, h.hlen);
	assert_int_equal(layout.plen, h.plen);
	return layout;
}

static void test_capsule_without_data(void **state)
{
	(void)state;
	struct pdu_layout l = expect_accepted(hdr(4, 0, 72, 0, 72), &no_digests);
	assert_int_equal(l.hdgst_len, 0);
	assert_int_equal(l.data_len, 0);
	assert_int_equal(l.ddgst_len, 0);
	l = expect_accepted(hdr(4, F_HDGST, 72, 0, 76), &both_digests);
	assert_int_equal(l.hdgst_len, 4);
	assert_int_equal(l.data_len, 0);
	/* A capsule without data carries no data digest, and so no DDGST flag. */
	expect_refusal(hdr(4, F_HDGST | F_DDGST, 72, 0, 76), &both_digests, FES_INVALID_HDR, FEI_PLEN);
	expect_refusal(hdr(4, F_DDGST, 72, 0, 72), &no_digests, FES_INVALID_HDR, FEI_PLEN);
}

static void test_capsule_with_data(void **state)
{
	(void)state;
	struct pdu_layout l = expect_accepted(hdr(4, 0, 72, 72, 72 + 1024), &no_digests);
	assert_int_equal(l.data_len, 1024);
	assert_int_equal(l.pad_len, 0);
	l = expect_accepted(hdr(4, F_HDGST | F_DDGST, 72, 76, 76 + 512 + 4), &both_digests);
	assert_int_equal(l.hdgst_len, 4);
	assert_int_equal(l.ddgst_len, 4);
	assert_int_equal(l.data_len, 512);
	assert_int_equal(l.pad_len, 0);
	/* PDO past the header: the gap is padding. */
	l = expect_accepted(hdr(4, 0, 72, 128, 128 + 100), &no_digests);
	assert_int_equal(l.pad_len, 128 - 72);
	assert_int_equal(l.data_len, 100);
	/* Exactly the in-capsule limit is fine; one byte more is not. */
	l = expect_accepted(hdr(4, 0, 72, 72, 72 + 8192), &no_digests);
	assert_int_equal(l.data_len, 8192);
	expect_refusal(hdr(4, 0, 72, 72, 72 + 8193), &no_digests, FES_DATA_LIMIT, FEI_PLEN);
	expect_refusal(hdr(4, 0, 72, 72, 0xFFFFFFFFu), &no_digests, FES_DATA_LIMIT, FEI_PLEN);
}

static void test_capsule_bad_hlen(void **state)
{
	(void)state;
	expect_refusal(hdr(4, 0, 71, 0, 72), &no_digests, FES_INVALID_HDR, FEI_HLEN);
	expect_refusal(hdr(4, 0, 24, 0, 24), &no_digests, FES_INVALID_HDR, FEI_HLEN);
	expect_refusal(hdr(4, 0, 0, 0, 72), &no_digests, FES_INVALID_HDR, FEI_HLEN);
	expect_refusal(hdr(4, 0, 255, 0, 300), &no_digests, FES_INVALID_HDR, FEI_HLEN);
}

static void test_plen_shorter_than_header(void **state)
{
	(void)state;
	expect_refusal(hdr(4, 0, 72, 0, 71), &no_digests, FES_INVALID_HDR, FEI_PLEN);
	expect_refusal(hdr(4, 0, 72, 0, 0), &no_digests, FES_INVALID_HDR, FEI_PLEN);
	/* With header digests the digest is part of the header. */
	expect_refusal(hdr(4, F_HDGST, 72, 0, 72), &both_digests, FES_INVALID_HDR, FEI_PLEN);
	expect_refusal(hdr(4, F_HDGST, 72, 0, 75), &both_digests, FES_INVALID_HDR, FEI_PLEN);
	expect_refusal(hdr(6, 0, 24, 24, 23), &no_digests, FES_INVALID_HDR, FEI_PLEN);
}

static void test_digest_flags_must_match_negotiation(void **state)
{
	(void)state;
	expect_refusal(hdr(4, F_HDGST, 72, 0, 76), &no_digests, FES_INVALID_HDR, FEI_FLAGS);
	expect_refusal(hdr(4, 0, 72, 0, 72), &both_digests, FES_INVALID_HDR, FEI_FLAGS);
	/* Data present: DDGST must be there exactly when negotiated. */
	expect_refusal(hdr(4, F_DDGST, 72, 72, 72 + 16 + 4), &no_digests, FES_INVALID_HDR, FEI_FLAGS);
	expect_refusal(hdr(4, F_HDGST, 72, 76, 76 + 16), &both_digests, FES_INVALID_HDR, FEI_FLAGS);
	expect_refusal(hdr(6, F_DDGST, 24, 24, 24 + 16 + 4), &no_digests, FES_INVALID_HDR, FEI_FLAGS);
	expect_refusal(hdr(6, 0, 24, 28, 28 + 16 + 4), &both_digests, FES_INVALID_HDR, FEI_FLAGS);
	/* Header digests only. */
	struct pdu_limits hdgst_only = no_digests;
	hdgst_only.hdgst = true;
	struct pdu_layout l = expect_accepted(hdr(6, F_HDGST, 24, 28, 28 + 64), &hdgst_only);
	assert_int_equal(l.data_len, 64);
	assert_int_equal(l.ddgst_len, 0);
}

static void test_pdo_edges(void **state)
{
	(void)state;
	/* PDO inside the header (or its digest). */
	expect_refusal(hdr(4, 0, 72, 71, 72 + 16), &no_digests, FES_INVALID_HDR, FEI_PDO);
	expect_refusal(hdr(4, 0, 72, 0, 72 + 16), &no_digests, FES_INVALID_HDR, FEI_PDO);
	expect_refusal(hdr(4, F_HDGST | F_DDGST, 72, 72, 76 + 16 + 4), &both_digests, FES_INVALID_HDR,
		       FEI_PDO);
	/* PDO at or past the end of the PDU: no room for data. */
	expect_refusal(hdr(4, 0, 72, 100, 100), &no_digests, FES_INVALID_HDR, FEI_PDO);
	expect_refusal(hdr(4, 0, 72, 200, 100), &no_digests, FES_INVALID_HDR, FEI_PDO);
	expect_refusal(hdr(6, F_HDGST | F_DDGST, 24, 28, 28 + 4), &both_digests, FES_INVALID_HDR,
		       FEI_PDO);
	/* One data byte is enough. */
	struct pdu_layout l = expect_accepted(hdr(6, F_HDGST | F_DDGST, 24, 28, 28 + 1 + 4), &both_digests);
	assert_int_equal(l.data_len, 1);
}

static void test_h2c_data(void **state)
{
	(void)state;
	struct pdu_layout l = expect_accepted(hdr(6, 0, 24, 24, 24 + 4096), &no_digests);
	assert_int_equal(l.data_len, 4096);
	expect_refusal(hdr(6, 0, 72, 72, 72 + 4096), &no_digests, FES_INVALID_HDR, FEI_HLEN);
	expect_refusal(hdr(6, 0, 23, 24, 24 + 4096), &no_digests, FES_INVALID_HDR, FEI_HLEN);
	/* H2CData must carry data. */
	expect_refusal(hdr(6, 0, 24, 0, 24), &no_digests, FES_INVALID_HDR, FEI_PLEN);
	expect_refusal(hdr(6, F_HDGST, 24, 0, 28), &both_digests, FES_INVALID_HDR, FEI_PLEN);
	/* MAXH2CDATA bounds one PDU's data. */
	l = expect_accepted(hdr(6, 0, 24, 24, 24 + 131072), &no_digests);
	assert_int_equal(l.data_len, 131072);
	expect_refusal(hdr(6, 0, 24, 24, 24 + 131073), &no_digests, FES_DATA_LIMIT, FEI_PLEN);
	expect_refusal(hdr(6, F_HDGST | F_DDGST, 24, 28, 28 + 131073 + 4), &both_digests,
		       FES_DATA_LIMIT, FEI_PLEN);
}

static void test_h2c_term(void **state)
{
	(void)state;
	struct pdu_layout l = expect_accepted(hdr(2, 0, 24, 0, 24), &no_digests);
	assert_int_equal(l.data_len, 0);
	l = expect_accepted(hdr(2, 0, 24, 0, 24 + 152), &no_digests);
	assert_int_equal(l.data_len, 152);
	expect_refusal(hdr(2, 0, 24, 0, 24 + 153), &no_digests, FES_INVALID_HDR, FEI_PLEN);
	expect_refusal(hdr(2, 0, 24, 0, 23), &no_digests, FES_INVALID_HDR, FEI_PLEN);
	/* A wrong HLEN is reported at the HLEN byte, as for every other type. */
	expect_refusal(hdr(2, 0, 72, 0, 72), &no_digests, FES_INVALID_HDR, FEI_HLEN);
}

static void test_types_never_sent_by_a_host(void **state)
{
	(void)state;
	/* A second ICReq is a sequence error; controller-to-host types are invalid. */
	expect_refusal(hdr(0, 0, 128, 0, 128), &no_digests, FES_SEQ, FEI_TYPE);
	static const uint8_t bad_types[] = {1, 3, 5, 7, 8, 9, 10, 0x7F, 0xFF};
	for (size_t i = 0; i < sizeof(bad_types); i++)
		expect_refusal(hdr(bad_types[i], 0, 24, 0, 24), &no_digests, FES_INVALID_HDR, FEI_TYPE);
}

static struct nvme_tcp_icreq_pdu good_icreq(uint8_t digest)
{
	struct nvme_tcp_icreq_pdu icreq;
	memset(&icreq, 0, sizeof(icreq));
	icreq.hdr.type = 0;
	icreq.hdr.hlen = 128;
	icreq.hdr.plen = 128;
	icreq.digest = digest;
	return icreq;
}

static void expect_icreq(const struct nvme_tcp_icreq_pdu *icreq, int rc, uint16_t fes, uint32_t fei)
{
	struct pdu_error err = {0xDEAD, 0xDEAD};
	assert_int_equal(pdu_check_icreq(icreq, &err), rc);
	if (rc) {
		assert_int_equal(err.fes, fes);
		assert_int_equal(err.fei, fei);
	}
}

static void test_icreq_checks(void **state)
{
	(void)state;
	struct nvme_tcp_icreq_pdu icreq = good_icreq(3);
	expect_icreq(&icreq, 0, 0, 0);
	icreq.hdr.type = 4;
	expect_icreq(&icreq, -1, FES_SEQ, FEI_TYPE);
	icreq = good_icreq(0);
	icreq.hdr.hlen = 127;
	expect_icreq(&icreq, -1, FES_INVALID_HDR, FEI_HLEN);
	icreq = good_icreq(0);
	icreq.hdr.plen = 132;
	expect_icreq(&icreq, -1, FES_INVALID_HDR, FEI_PLEN);
	icreq = good_icreq(0);
	icreq.pfv = 1;
	expect_icreq(&icreq, -1, FES_UNSUPPORTED, FEI_ICREQ_PFV);
	icreq = good_icreq(0);
	icreq.hpda = 31;
	expect_icreq(&icreq, 0, 0, 0);
	icreq.hpda = 32;
	expect_icreq(&icreq, -1, FES_UNSUPPORTED, FEI_ICREQ_HPDA);
}

static void test_icresp_echoes_digests(void **state)
{
	(void)state;
	for (uint8_t asked = 0; asked < 8; asked++) {
		struct nvme_tcp_icreq_pdu icreq = good_icreq(asked);
		struct nvme_tcp_icresp_pdu icresp;
		memset(&icresp, 0xEE, sizeof(icresp));
		pdu_build_icresp(&icresp, &icreq, 131072);
		const uint8_t *raw = (const uint8_t *)&icresp;
		assert_int_equal(raw[0], 1);   /* ICResp */
		assert_int_equal(raw[1], 0);   /* flags */
		assert_int_equal(raw[2], 128); /* HLEN */
		assert_int_equal(raw[3], 0);   /* PDO */
		assert_int_equal(raw[4] | raw[5] << 8 | raw[6] << 16 | (uint32_t)raw[7] << 24, 128);
		assert_int_equal(raw[8] | raw[9] << 8, 0); /* PFV */
		assert_int_equal(raw[10], 0);		   /* CPDA: Linux rejects anything else */
		assert_int_equal(raw[11], asked & 3);	   /* exactly the digests asked for */
		assert_int_equal(raw[12] | raw[13] << 8 | raw[14] << 16 | (uint32_t)raw[15] << 24, 131072);
		for (size_t i = 16; i < 128; i++)
			assert_int_equal(raw[i], 0);
	}
}

static void test_term_req_layout(void **state)
{
	(void)state;
	uint8_t bad[200];
	for (size_t i = 0; i < sizeof(bad); i++)
		bad[i] = (uint8_t)(i + 1);
	uint8_t out[24 + 152 + 8];
	struct pdu_error err = {.fes = 2, .fei = 0x01020304};

	memset(out, 0xEE, sizeof(out));
	uint32_t len = pdu_build_term_req(out, sizeof(out), &err, bad, 72);
	assert_int_equal(len, 24 + 72);
	assert_int_equal(out[0], 3); /* C2HTermReq */
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], 24);
	assert_int_equal(out[3], 0);
	assert_int_equal(out[4] | out[5] << 8 | out[6] << 16 | (uint32_t)out[7] << 24, 24 + 72);
	assert_int_equal(out[8] | out[9] << 8, 2);
	assert_int_equal(out[10] | out[11] << 8 | out[12] << 16 | (uint32_t)out[13] << 24, 0x01020304);
	for (size_t i = 14; i < 24; i++)
		assert_int_equal(out[i], 0);
	assert_memory_equal(out + 24, bad, 72);

	/* At most 152 bytes of the offending header are echoed. */
	len = pdu_build_term_req(out, sizeof(out), &err, bad, 200);
	assert_int_equal(len, 24 + 152);
	assert_memory_equal(out + 24, bad, 152);

	/* A smaller output buffer truncates the echo instead of overflowing. */
	memset(out, 0xEE, sizeof(out));
	len = pdu_build_term_req(out, 24 + 10, &err, bad, 72);
	assert_int_equal(len, 24 + 10);
	assert_int_equal(out[4], 24 + 10);
	assert_int_equal(out[24 + 10], 0xEE);
}

/* A header followed by the digest the host would compute (spec test vector checked in test_crc32c). */
static void test_header_digest(void **state)
{
	(void)state;
	uint8_t pdu[72 + 4];
	memset(pdu, 0, sizeof(pdu));
	memcpy(pdu, "123456789", 9);
	/* crc32c("123456789") = 0xE3069283, stored little-endian after HLEN = 9 bytes. */
	pdu[9] = 0x83;
	pdu[10] = 0x92;
	pdu[11] = 0x06;
	pdu[12] = 0xE3;
	assert_true(pdu_header_digest_ok(pdu, 9));
	pdu[12] = 0xE2;
	assert_false(pdu_header_digest_ok(pdu, 9));
	pdu[12] = 0xE3;
	pdu[0] = '0';
	assert_false(pdu_header_digest_ok(pdu, 9));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_capsule_without_data),
	    cmocka_unit_test(test_capsule_with_data),
	    cmocka_unit_test(test_capsule_bad_hlen),
	    cmocka_unit_test(test_plen_shorter_than_header),
	    cmocka_unit_test(test_digest_flags_must_match_negotiation),
	    cmocka_unit_test(test_pdo_edges),
	    cmocka_unit_test(test_h2c_data),
	    cmocka_unit_test(test_h2c_term),
	    cmocka_unit_test(test_types_never_sent_by_a_host),
	    cmocka_unit_test(test_icreq_checks),
	    cmocka_unit_test(test_icresp_echoes_digests),
	    cmocka_unit_test(test_term_req_layout),
	    cmocka_unit_test(test_header_digest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
