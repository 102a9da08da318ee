/* NVMe/TCP PDU building and parsing on the host side. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "host/pdu.h"
#include "util/crc32c.h"

static const struct pdu_params plain = { .data_align = 4, .maxh2cdata = 65536 };
static const struct pdu_params digests = { .hdgst = true, .ddgst = true, .data_align = 4,
					    .maxh2cdata = 65536 };

static void test_crc_vector(void **state)
{
	(void)state;
	assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
}

static void test_icreq(void **state)
{
	(void)state;
	struct nvme_tcp_icreq_pdu icreq;
	pdu_build_icreq(&icreq, true, false);
	assert_int_equal(icreq.hdr.type, NVME_TCP_ICREQ);
	assert_int_equal(icreq.hdr.hlen, 128);
	assert_int_equal(icreq.hdr.plen, 128);
	assert_int_equal(icreq.hdr.pdo, 0);
	assert_int_equal(icreq.pfv, 0);
	assert_int_equal(icreq.hpda, 0);
	assert_int_equal(icreq.digest, NVME_TCP_HDR_DIGEST_ENABLE);
	assert_int_equal(icreq.maxr2t, 0);
}

static struct nvme_tcp_icresp_pdu good_icresp(uint8_t digest)
{
	struct nvme_tcp_icresp_pdu r = { 0 };
	r.hdr.type = NVME_TCP_ICRESP;
	r.hdr.hlen = 128;
	r.hdr.plen = 128;
	r.digest = digest;
	r.maxdata = 131072;
	return r;
}

static void test_icresp(void **state)
{
	(void)state;
	char err[160];
	struct pdu_params p;
	struct nvme_tcp_icresp_pdu r = good_icresp(3);
	assert_int_equal(pdu_parse_icresp(&r, true, true, &p, err, sizeof(err)), 0);
	assert_true(p.hdgst && p.ddgst);
	assert_int_equal(p.maxh2cdata, 131072);
	assert_int_equal(p.data_align, 4);

	r.cpda = 1;
	assert_int_equal(pdu_parse_icresp(&r, true, true, &p, err, sizeof(err)), 0);
	assert_int_equal(p.data_align, 8);

	r = good_icresp(1); /* data digest declined */
	assert_int_equal(pdu_parse_icresp(&r, true, true, &p, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "data"));
	r = good_icresp(2); /* enabled though not asked */
	assert_int_equal(pdu_parse_icresp(&r, false, false, &p, err, sizeof(err)), -EPROTO);

	r = good_icresp(0);
	r.maxdata = 2048;
	assert_int_equal(pdu_parse_icresp(&r, false, false, &p, err, sizeof(err)), -EPROTO);
	r.maxdata = 4098;
	assert_int_equal(pdu_parse_icresp(&r, false, false, &p, err, sizeof(err)), -EPROTO);
	r = good_icresp(0);
	r.hdr.type = NVME_TCP_RSP;
	assert_int_equal(pdu_parse_icresp(&r, false, false, &p, err, sizeof(err)), -EPROTO);
	r = good_icresp(0);
	r.hdr.plen = 132;
	assert_int_equal(pdu_parse_icresp(&r, false, false, &p, err, sizeof(err)), -EPROTO);
	r = good_icresp(0);
	r.pfv = 1;
	assert_int_equal(pdu_parse_icresp(&r, false, false, &p, err, sizeof(err)), -EPROTO);
}

static void test_capsule_without_data(void **state)
{
	(void)state;
	uint8_t out[PDU_MAX_TX_HDR];
	struct nvme_sqe sqe = { .opcode = nvme_cmd_read, .command_id = 7 };
	uint32_t pdo;
	size_t n = pdu_build_capsule(out, &plain, &sqe, 0, &pdo);
	const struct nvme_tcp_cmd_pdu *pdu = (const void *)out;
	assert_int_equal(n, 72);
	assert_int_equal(pdo, 0);
	assert_int_equal(pdu->hdr.type, NVME_TCP_CMD);
	assert_int_equal(pdu->hdr.flags, 0);
	assert_int_equal(pdu->hdr.hlen, 72);
	assert_int_equal(pdu->hdr.plen, 72);
	assert_int_equal(pdu->cmd.command_id, 7);

	n = pdu_build_capsule(out, &digests, &sqe, 0, &pdo);
	assert_int_equal(n, 76);
	assert_int_equal(pdu->hdr.flags, NVME_TCP_F_HDGST);
	assert_int_equal(pdu->hdr.plen, 76);
	uint32_t dg;
	memcpy(&dg, out + 72, 4);
	assert_int_equal(dg, crc32c(out, 72));
}

static void test_capsule_with_data(void **state)
{
	(void)state;
	uint8_t out[PDU_MAX_TX_HDR];
	struct nvme_sqe sqe = { .opcode = nvme_cmd_write };
	uint32_t pdo;
	const struct nvme_tcp_cmd_pdu *pdu = (const void *)out;

	pdu_build_capsule(out, &plain, &sqe, 4096, &pdo);
	assert_int_equal(pdo, 72);
	assert_int_equal(pdu->hdr.pdo, 72);
	assert_int_equal(pdu->hdr.plen, 72 + 4096);

	pdu_build_capsule(out, &digests, &sqe, 4096, &pdo);
	assert_int_equal(pdo, 76);
	assert_int_equal(pdu->hdr.flags, NVME_TCP_F_HDGST | NVME_TCP_F_DDGST);
	assert_int_equal(pdu->hdr.plen, 76 + 4096 + 4);

	/* CPDA 7: data starts on a 32-byte boundary. */
	struct pdu_params aligned = plain;
	aligned.data_align = 32;
	pdu_build_capsule(out, &aligned, &sqe, 512, &pdo);
	assert_int_equal(pdo, 96);
	assert_int_equal(pdu->hdr.plen, 96 + 512);
}

static void test_h2c_data(void **state)
{
	(void)state;
	uint8_t out[PDU_MAX_TX_HDR];
	uint32_t pdo;
	size_t n = pdu_build_h2c_data(out, &digests, 5, 0x33, 8192, 4096, true, &pdo);
	const struct nvme_tcp_data_pdu *pdu = (const void *)out;
	assert_int_equal(n, 28);
	assert_int_equal(pdo, 28);
	assert_int_equal(pdu->hdr.type, NVME_TCP_H2C_DATA);
	assert_int_equal(pdu->hdr.flags,
			 NVME_TCP_F_HDGST | NVME_TCP_F_DDGST | NVME_TCP_F_DATA_LAST);
	assert_int_equal(pdu->hdr.plen, 28 + 4096 + 4);
	assert_int_equal(pdu->command_id, 5);
	assert_int_equal(pdu->ttag, 0x33);
	assert_int_equal(pdu->data_offset, 8192);
	assert_int_equal(pdu->data_length, 4096);

	pdu_build_h2c_data(out, &plain, 5, 1, 0, 4096, false, &pdo);
	assert_int_equal(pdu->hdr.flags, 0);
	assert_int_equal(pdu->hdr.plen, 24 + 4096);
}

/* A controller PDU of 24 header bytes, with a header digest when params say so. */
static void make_rx(uint8_t *buf, const struct pdu_params *p, uint8_t type, uint8_t flags,
		    uint8_t pdo, uint32_t plen)
{
	memset(buf, 0, 28);
	struct nvme_tcp_hdr *h = (void *)buf;
	h->type = type;
	h->flags = flags | (p->hdgst ? NVME_TCP_F_HDGST : 0);
	h->hlen = 24;
	h->pdo = pdo;
	h->plen = plen;
}

static void seal(uint8_t *buf, const struct pdu_params *p)
{
	if (p->hdgst) {
		uint32_t d = crc32c(buf, 24);
		memcpy(buf + 24, &d, 4);
	}
}

static void test_rx_response(void **state)
{
	(void)state;
	uint8_t buf[28];
	char err[192];
	struct pdu_rx rx;
	make_rx(buf, &digests, NVME_TCP_RSP, 0, 0, 28);
	struct nvme_cqe *cqe = (void *)(buf + 8);
	cqe->command_id = 9;
	cqe->status = 0x2 << 1;
	seal(buf, &digests);
	assert_int_equal(pdu_rx_header_len(&digests, (void *)buf, err, sizeof(err)), 28);
	assert_int_equal(pdu_rx_parse(&digests, buf, &rx, err, sizeof(err)), 0);
	assert_int_equal(rx.cqe.command_id, 9);
	assert_int_equal(rx.cqe.status >> 1, 2);

	buf[10] ^= 1; /* corrupt: the digest no longer matches */
	assert_int_equal(pdu_rx_parse(&digests, buf, &rx, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "header digest mismatch"));

	make_rx(buf, &plain, NVME_TCP_RSP, 0, 0, 28); /* PLEN too long */
	assert_int_equal(pdu_rx_parse(&plain, buf, &rx, err, sizeof(err)), -EPROTO);
	make_rx(buf, &plain, NVME_TCP_RSP, NVME_TCP_F_HDGST, 0, 24); /* HDGSTF without digests */
	assert_int_equal(pdu_rx_parse(&plain, buf, &rx, err, sizeof(err)), -EPROTO);
}

static void test_rx_c2h(void **state)
{
	(void)state;
	uint8_t buf[28];
	char err[192];
	struct pdu_rx rx;
	struct nvme_tcp_data_pdu *d = (void *)buf;

	make_rx(buf, &digests, NVME_TCP_C2H_DATA, NVME_TCP_F_DDGST | NVME_TCP_F_DATA_LAST, 28,
		28 + 512 + 4);
	d->command_id = 3;
	d->data_offset = 1024;
	d->data_length = 512;
	seal(buf, &digests);
	assert_int_equal(pdu_rx_parse(&digests, buf, &rx, err, sizeof(err)), 0);
	assert_int_equal(rx.data_len, 512);
	assert_int_equal(rx.pdo, 28);
	assert_int_equal(rx.c2h.data_offset, 1024);

	/* Padding before the data is allowed: PDO 32. */
	make_rx(buf, &plain, NVME_TCP_C2H_DATA, 0, 32, 32 + 512);
	d->data_length = 512;
	assert_int_equal(pdu_rx_parse(&plain, buf, &rx, err, sizeof(err)), 0);
	assert_int_equal(rx.data_len, 512);

	/* DATAL disagreeing with PLEN - PDO. */
	make_rx(buf, &plain, NVME_TCP_C2H_DATA, 0, 24, 24 + 512);
	d->data_length = 256;
	assert_int_equal(pdu_rx_parse(&plain, buf, &rx, err, sizeof(err)), -EPROTO);

	/* Missing DDGSTF on a data-digest connection. */
	make_rx(buf, &digests, NVME_TCP_C2H_DATA, 0, 28, 28 + 512 + 4);
	d->data_length = 512;
	seal(buf, &digests);
	assert_int_equal(pdu_rx_parse(&digests, buf, &rx, err, sizeof(err)), -EPROTO);

	/* SUCCESS requires LAST_PDU. */
	make_rx(buf, &plain, NVME_TCP_C2H_DATA, NVME_TCP_F_DATA_SUCCESS, 24, 24 + 512);
	d->data_length = 512;
	assert_int_equal(pdu_rx_parse(&plain, buf, &rx, err, sizeof(err)), -EPROTO);
	make_rx(buf, &plain, NVME_TCP_C2H_DATA, NVME_TCP_F_DATA_SUCCESS | NVME_TCP_F_DATA_LAST,
		24, 24 + 512);
	d->data_length = 512;
	assert_int_equal(pdu_rx_parse(&plain, buf, &rx, err, sizeof(err)), 0);

	/* PDO inside the header. */
	make_rx(buf, &digests, NVME_TCP_C2H_DATA, NVME_TCP_F_DDGST, 24, 24 + 512 + 4);
	d->data_length = 512;
	seal(buf, &digests);
	assert_int_equal(pdu_rx_parse(&digests, buf, &rx, err, sizeof(err)), -EPROTO);
}

static void test_rx_r2t_and_others(void **state)
{
	(void)state;
	uint8_t buf[28];
	char err[192];
	struct pdu_rx rx;
	struct nvme_tcp_r2t_pdu *r2t = (void *)buf;
	make_rx(buf, &plain, NVME_TCP_R2T, 0, 0, 24);
	r2t->command_id = 4;
	r2t->ttag = 77;
	r2t->r2t_offset = 0;
	r2t->r2t_length = 8192;
	assert_int_equal(pdu_rx_parse(&plain, buf, &rx, err, sizeof(err)), 0);
	assert_int_equal(rx.r2t.ttag, 77);
	assert_int_equal(rx.r2t.r2t_length, 8192);

	/* Host-to-controller types and ICResp are not accepted from a running queue. */
	make_rx(buf, &plain, NVME_TCP_CMD, 0, 0, 72);
	assert_int_equal(pdu_rx_header_len(&plain, (void *)buf, err, sizeof(err)), -EPROTO);
	make_rx(buf, &plain, NVME_TCP_H2C_DATA, 0, 24, 24 + 4);
	assert_int_equal(pdu_rx_header_len(&plain, (void *)buf, err, sizeof(err)), -EPROTO);
	make_rx(buf, &plain, NVME_TCP_RSP, 0, 0, 24);
	buf[2] = 28; /* wrong HLEN */
	assert_int_equal(pdu_rx_header_len(&plain, (void *)buf, err, sizeof(err)), -EPROTO);

	/* C2HTermReq: never a digest, carries the offending header. */
	make_rx(buf, &plain, NVME_TCP_C2H_TERM, 0, 0, 24 + 72);
	struct nvme_tcp_term_pdu *t = (void *)buf;
	t->fes = NVME_TCP_FES_HDR_DIGEST_ERR;
	assert_int_equal(pdu_rx_header_len(&digests, (void *)buf, err, sizeof(err)), 24);
	assert_int_equal(pdu_rx_parse(&digests, buf, &rx, err, sizeof(err)), 0);
	assert_int_equal(rx.data_len, 72);
	assert_int_equal(rx.term.fes, NVME_TCP_FES_HDR_DIGEST_ERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_vector),
		cmocka_unit_test(test_icreq),
		cmocka_unit_test(test_icresp),
		cmocka_unit_test(test_capsule_without_data),
		cmocka_unit_test(test_capsule_with_data),
		cmocka_unit_test(test_h2c_data),
		cmocka_unit_test(test_rx_response),
		cmocka_unit_test(test_rx_c2h),
		cmocka_unit_test(test_rx_r2t_and_others),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
