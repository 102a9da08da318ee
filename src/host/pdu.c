#include "host/pdu.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/crc32c.h"

#define HDR_LEN 24 /* every controller-to-host PDU except ICResp */

static void put_hdgst(uint8_t *hdr, size_t hlen)
{
	uint32_t digest = crc32c(hdr, hlen);
	memcpy(hdr + hlen, &digest, sizeof(digest));
}

void pdu_build_icreq(struct nvme_tcp_icreq_pdu *icreq, bool hdgst, bool ddgst)
{
	memset(icreq, 0, sizeof(*icreq));
	icreq->hdr.type = NVME_TCP_ICREQ;
	icreq->hdr.hlen = sizeof(*icreq);
	icreq->hdr.plen = sizeof(*icreq);
	icreq->pfv = 0;
	icreq->hpda = 0; /* we parse any PDO, so ask for no padding */
	icreq->digest = (hdgst ? NVME_TCP_HDR_DIGEST_ENABLE : 0) |
			(ddgst ? NVME_TCP_DATA_DIGEST_ENABLE : 0);
	icreq->maxr2t = 0; /* 0's based: one outstanding R2T per command */
}

int pdu_parse_icresp(const struct nvme_tcp_icresp_pdu *icresp, bool want_hdgst, bool want_ddgst,
		     struct pdu_params *params, char *err, size_t errlen)
{
	if (icresp->hdr.type != NVME_TCP_ICRESP) {
		snprintf(err, errlen, "expected ICResp, got PDU type %u", icresp->hdr.type);
		return -EPROTO;
	}
	if (icresp->hdr.hlen != sizeof(*icresp) || icresp->hdr.plen != sizeof(*icresp)) {
		snprintf(err, errlen, "ICResp HLEN %u PLEN %u, both must be 128", icresp->hdr.hlen,
			 icresp->hdr.plen);
		return -EPROTO;
	}
	if (icresp->pfv != 0) {
		snprintf(err, errlen, "ICResp PFV %u, only 0 is defined", icresp->pfv);
		return -EPROTO;
	}
	if (icresp->cpda > 31) {
		snprintf(err, errlen, "ICResp CPDA %u above 31", icresp->cpda);
		return -EPROTO;
	}
	if (icresp->maxdata < 4096 || icresp->maxdata % 4 != 0) {
		snprintf(err, errlen, "ICResp MAXH2CDATA %u: must be a multiple of 4 and >= 4096",
			 icresp->maxdata);
		return -EPROTO;
	}
	bool got_hdgst = icresp->digest & NVME_TCP_HDR_DIGEST_ENABLE;
	bool got_ddgst = icresp->digest & NVME_TCP_DATA_DIGEST_ENABLE;
	if ((got_hdgst && !want_hdgst) || (got_ddgst && !want_ddgst)) {
		snprintf(err, errlen, "ICResp enables digests we did not request (DGST %#x)",
			 icresp->digest);
		return -EPROTO;
	}
	if (got_hdgst != want_hdgst || got_ddgst != want_ddgst) {
		snprintf(err, errlen, "controller declined the requested %s digest",
			 got_hdgst != want_hdgst ? "header" : "data");
		return -EPROTO;
	}
	params->hdgst = got_hdgst;
	params->ddgst = got_ddgst;
	params->data_align = (icresp->cpda + 1u) * 4u;
	params->maxh2cdata = icresp->maxdata;
	return 0;
}

uint32_t pdu_data_offset(const struct pdu_params *params, uint32_t hlen)
{
	uint32_t end = hlen + (params->hdgst ? NVME_TCP_DIGEST_LEN : 0);
	uint32_t align = params->data_align ? params->data_align : 4;
	return (end + align - 1) / align * align;
}

static size_t finish_header(uint8_t *out, const struct pdu_params *params, size_t hlen)
{
	if (params->hdgst) {
		put_hdgst(out, hlen);
		return hlen + NVME_TCP_DIGEST_LEN;
	}
	return hlen;
}

size_t pdu_build_capsule(uint8_t *out, const struct pdu_params *params, const struct nvme_sqe *sqe,
			 uint32_t data_len, uint32_t *pdo)
{
	struct nvme_tcp_cmd_pdu pdu = { .cmd = *sqe };
	uint32_t hlen = sizeof(pdu);

	pdu.hdr.type = NVME_TCP_CMD;
	pdu.hdr.hlen = hlen;
	pdu.hdr.flags = params->hdgst ? NVME_TCP_F_HDGST : 0;
	if (data_len) {
		pdu.hdr.pdo = pdu_data_offset(params, hlen);
		pdu.hdr.plen = pdu.hdr.pdo + data_len + (params->ddgst ? NVME_TCP_DIGEST_LEN : 0);
		if (params->ddgst)
			pdu.hdr.flags |= NVME_TCP_F_DDGST;
	} else {
		pdu.hdr.pdo = 0;
		pdu.hdr.plen = hlen + (params->hdgst ? NVME_TCP_DIGEST_LEN : 0);
	}
	*pdo = pdu.hdr.pdo;
	memcpy(out, &pdu, hlen);
	return finish_header(out, params, hlen);
}

size_t pdu_build_h2c_data(uint8_t *out, const struct pdu_params *params, uint16_t cccid,
			  uint16_t ttag, uint32_t datao, uint32_t datal, bool last, uint32_t *pdo)
{
	struct nvme_tcp_data_pdu pdu = {
		.command_id = cccid,
		.ttag = ttag,
		.data_offset = datao,
		.data_length = datal,
	};
	uint32_t hlen = sizeof(pdu);

	pdu.hdr.type = NVME_TCP_H2C_DATA;
	pdu.hdr.hlen = hlen;
	pdu.hdr.flags = (params->hdgst ? NVME_TCP_F_HDGST : 0) |
			(params->ddgst ? NVME_TCP_F_DDGST : 0) | (last ? NVME_TCP_F_DATA_LAST : 0);
	pdu.hdr.pdo = pdu_data_offset(params, hlen);
	pdu.hdr.plen = pdu.hdr.pdo + datal + (params->ddgst ? NVME_TCP_DIGEST_LEN : 0);
	*pdo = pdu.hdr.pdo;
	memcpy(out, &pdu, hlen);
	return finish_header(out, params, hlen);
}

int pdu_rx_header_len(const struct pdu_params *params, const struct nvme_tcp_hdr *hdr, char *err,
		      size_t errlen)
{
	switch (hdr->type) {
	case NVME_TCP_RSP:
	case NVME_TCP_C2H_DATA:
	case NVME_TCP_R2T:
		break;
	case NVME_TCP_C2H_TERM:
		/* Termination requests never carry digests. */
		if (hdr->hlen != HDR_LEN) {
			snprintf(err, errlen, "C2HTermReq HLEN %u, expected 24", hdr->hlen);
			return -EPROTO;
		}
		return HDR_LEN;
	default:
		snprintf(err, errlen, "PDU type %#x is not one a controller may send here",
			 hdr->type);
		return -EPROTO;
	}
	if (hdr->hlen != HDR_LEN) {
		snprintf(err, errlen, "PDU type %#x with HLEN %u, expected 24", hdr->type, hdr->hlen);
		return -EPROTO;
	}
	return HDR_LEN + (params->hdgst ? NVME_TCP_DIGEST_LEN : 0);
}

static int check_no_data(const struct pdu_params *params, const struct pdu_rx *rx, const char *name,
			 char *err, size_t errlen)
{
	uint32_t want = HDR_LEN + (params->hdgst ? NVME_TCP_DIGEST_LEN : 0);
	if (rx->plen != want) {
		snprintf(err, errlen, "%s PLEN %u, expected %u", name, rx->plen, want);
		return -EPROTO;
	}
	if (rx->flags & NVME_TCP_F_DDGST) {
		snprintf(err, errlen, "%s with DDGSTF set but no data", name);
		return -EPROTO;
	}
	return 0;
}

static int parse_c2h_data(const struct pdu_params *params, struct pdu_rx *rx, char *err,
			  size_t errlen)
{
	uint32_t hdr_end = HDR_LEN + (params->hdgst ? NVME_TCP_DIGEST_LEN : 0);
	uint32_t dgst = params->ddgst ? NVME_TCP_DIGEST_LEN : 0;

	if (rx->pdo < hdr_end || rx->pdo % 4 != 0) {
		snprintf(err, errlen, "C2HData PDO %u: must be >= %u and dword aligned", rx->pdo,
			 hdr_end);
		return -EPROTO;
	}
	if (params->ddgst != !!(rx->flags & NVME_TCP_F_DDGST)) {
		snprintf(err, errlen, "C2HData DDGSTF is %s but data digests are %s",
			 rx->flags & NVME_TCP_F_DDGST ? "set" : "clear",
			 params->ddgst ? "on" : "off");
		return -EPROTO;
	}
	if (rx->plen < rx->pdo + dgst) {
		snprintf(err, errlen, "C2HData PLEN %u shorter than PDO %u", rx->plen, rx->pdo);
		return -EPROTO;
	}
	rx->data_len = rx->plen - rx->pdo - dgst;
	if (rx->c2h.data_length != rx->data_len || rx->data_len == 0) {
		snprintf(err, errlen, "C2HData DATAL %u but PLEN/PDO give %u bytes",
			 rx->c2h.data_length, rx->data_len);
		return -EPROTO;
	}
	if ((rx->flags & NVME_TCP_F_DATA_SUCCESS) && !(rx->flags & NVME_TCP_F_DATA_LAST)) {
		snprintf(err, errlen, "C2HData SUCCESS flag without LAST_PDU");
		return -EPROTO;
	}
	return 0;
}

int pdu_rx_parse(const struct pdu_params *params, const uint8_t *buf, struct pdu_rx *rx, char *err,
		 size_t errlen)
{
	const struct nvme_tcp_hdr *hdr = (const void *)buf;
	int rc = pdu_rx_header_len(params, hdr, err, errlen);
	if (rc < 0)
		return rc;

	memset(rx, 0, sizeof(*rx));
	rx->type = hdr->type;
	rx->flags = hdr->flags;
	rx->plen = hdr->plen;
	rx->pdo = hdr->pdo;

	if (hdr->type == NVME_TCP_C2H_TERM) {
		memcpy(&rx->term, buf, sizeof(rx->term));
		if (rx->plen < HDR_LEN || rx->plen > HDR_LEN + NVME_TCP_TERM_MAX_HDR_ERR) {
			snprintf(err, errlen, "C2HTermReq PLEN %u out of range", rx->plen);
			return -EPROTO;
		}
		rx->data_len = rx->plen - HDR_LEN;
		return 0;
	}

	if (params->hdgst) {
		uint32_t got, want = crc32c(buf, HDR_LEN);
		memcpy(&got, buf + HDR_LEN, sizeof(got));
		if (!(rx->flags & NVME_TCP_F_HDGST)) {
			snprintf(err, errlen, "PDU type %#x without HDGSTF on a header-digest connection",
				 rx->type);
			return -EPROTO;
		}
		if (got != want) {
			snprintf(err, errlen, "header digest mismatch on PDU type %#x: got %#x, computed %#x",
				 rx->type, got, want);
			return -EPROTO;
		}
	} else if (rx->flags & NVME_TCP_F_HDGST) {
		snprintf(err, errlen, "PDU type %#x has HDGSTF but header digests are off", rx->type);
		return -EPROTO;
	}

	switch (hdr->type) {
	case NVME_TCP_RSP:
		memcpy(&rx->cqe, buf + sizeof(*hdr), sizeof(rx->cqe));
		return check_no_data(params, rx, "CapsuleResp", err, errlen);
	case NVME_TCP_R2T:
		memcpy(&rx->r2t, buf, sizeof(rx->r2t));
		return check_no_data(params, rx, "R2T", err, errlen);
	default: /* C2HData */
		memcpy(&rx->c2h, buf, sizeof(rx->c2h));
		return parse_c2h_data(params, rx, err, errlen);
	}
}
