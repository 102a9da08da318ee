#include "transport/pdu.h"

#include <stddef.h>
#include <string.h>

#include "util/crc32c.h"

#define HDR_FIELD(field) ((uint32_t)offsetof(struct nvme_tcp_hdr, field))

static int refuse(struct pdu_error *err, uint16_t fes, uint32_t fei)
{
	err->fes = fes;
	err->fei = fei;
	return -1;
}

static int check_digested(const struct nvme_tcp_hdr *hdr, const struct pdu_limits *limits,
			  uint32_t max_data, bool data_required, struct pdu_layout *layout,
			  struct pdu_error *err)
{
	bool has_hdgst = hdr->flags & NVME_TCP_F_HDGST;
	if (has_hdgst != limits->hdgst)
		return refuse(err, NVME_TCP_FES_INVALID_PDU_HDR, HDR_FIELD(flags));
	layout->hdgst_len = limits->hdgst ? NVME_TCP_DIGEST_LEN : 0;
	uint32_t header_end = (uint32_t)layout->hlen + layout->hdgst_len;
	if (hdr->plen < header_end)
		return refuse(err, NVME_TCP_FES_INVALID_PDU_HDR, HDR_FIELD(plen));
	if (hdr->plen == header_end) {
		if (data_required || (hdr->flags & NVME_TCP_F_DDGST))
			return refuse(err, NVME_TCP_FES_INVALID_PDU_HDR, HDR_FIELD(plen));
		return 0;
	}
	bool has_ddgst = hdr->flags & NVME_TCP_F_DDGST;
	if (has_ddgst != limits->ddgst)
		return refuse(err, NVME_TCP_FES_INVALID_PDU_HDR, HDR_FIELD(flags));
	layout->ddgst_len = limits->ddgst ? NVME_TCP_DIGEST_LEN : 0;
	if (hdr->pdo < header_end || (uint32_t)hdr->pdo + layout->ddgst_len >= hdr->plen)
		return refuse(err, NVME_TCP_FES_INVALID_PDU_HDR, HDR_FIELD(pdo));
	layout->pad_len = hdr->pdo - header_end;
	layout->data_len = hdr->plen - hdr->pdo - layout->ddgst_len;
	if (layout->data_len > max_data)
		return refuse(err, NVME_TCP_FES_DATA_LIMIT_EXCEEDED, HDR_FIELD(plen));
	return 0;
}

int pdu_check_common(const struct nvme_tcp_hdr *hdr, const struct pdu_limits *limits,
		     struct pdu_layout *layout, struct pdu_error *err)
{
	memset(layout, 0, sizeof(*layout));
	layout->type = hdr->type;
	layout->hlen = hdr->hlen;
	layout->plen = hdr->plen;
	switch (hdr->type) {
	case NVME_TCP_CMD:
		if (hdr->hlen != sizeof(struct nvme_tcp_cmd_pdu))
			return refuse(err, NVME_TCP_FES_INVALID_PDU_HDR, HDR_FIELD(hlen));
		return check_digested(hdr, limits, limits->max_incapsule, false, layout, err);
	case NVME_TCP_H2C_DATA:
		if (hdr->hlen != sizeof(struct nvme_tcp_data_pdu))
			return refuse(err, NVME_TCP_FES_INVALID_PDU_HDR, HDR_FIELD(hlen));
		return check_digested(hdr, limits, limits->max_h2c_data, true, layout, err);
	case NVME_TCP_H2C_TERM:
		if (hdr->hlen != sizeof(struct nvme_tcp_term_pdu))
			return refuse(err, NVME_TCP_FES_INVALID_PDU_HDR, HDR_FIELD(hlen));
		if (hdr->plen < hdr->hlen || hdr->plen > (uint32_t)hdr->hlen + NVME_TCP_TERM_MAX_HDR_ERR)
			return refuse(err, NVME_TCP_FES_INVALID_PDU_HDR, HDR_FIELD(plen));
		layout->data_len = hdr->plen - hdr->hlen;
		return 0;
	case NVME_TCP_ICREQ:
		return refuse(err, NVME_TCP_FES_PDU_SEQ_ERR, HDR_FIELD(type));
	default:
		return refuse(err, NVME_TCP_FES_INVALID_PDU_HDR, HDR_FIELD(type));
	}
}

int pdu_check_icreq(const struct nvme_tcp_icreq_pdu *icreq, struct pdu_error *err)
{
	if (icreq->hdr.type != NVME_TCP_ICREQ)
		return refuse(err, NVME_TCP_FES_PDU_SEQ_ERR, HDR_FIELD(type));
	if (icreq->hdr.hlen != sizeof(*icreq))
		return refuse(err, NVME_TCP_FES_INVALID_PDU_HDR, HDR_FIELD(hlen));
	if (icreq->hdr.plen != sizeof(*icreq))
		return refuse(err, NVME_TCP_FES_INVALID_PDU_HDR, HDR_FIELD(plen));
	if (icreq->pfv != 0)
		return refuse(err, NVME_TCP_FES_UNSUPPORTED_PARAM,
			      (uint32_t)offsetof(struct nvme_tcp_icreq_pdu, pfv));
	/* HPDA asks for data alignment; we always place data right after the header. */
	if (icreq->hpda > 31)
		return refuse(err, NVME_TCP_FES_UNSUPPORTED_PARAM,
			      (uint32_t)offsetof(struct nvme_tcp_icreq_pdu, hpda));
	return 0;
}

bool pdu_header_digest_ok(const void *pdu, uint8_t hlen)
{
	uint32_t received;
	memcpy(&received, (const uint8_t *)pdu + hlen, sizeof(received));
	return crc32c(pdu, hlen) == received;
}

void pdu_build_icresp(struct nvme_tcp_icresp_pdu *icresp, const struct nvme_tcp_icreq_pdu *icreq,
		      uint32_t max_h2c_data)
{
	memset(icresp, 0, sizeof(*icresp));
	icresp->hdr.type = NVME_TCP_ICRESP;
	icresp->hdr.hlen = sizeof(*icresp);
	icresp->hdr.plen = sizeof(*icresp);
	icresp->pfv = 0;
	icresp->cpda = 0;
	/* The host treats any answer other than exactly what it asked as fatal. */
	icresp->digest = icreq->digest & (NVME_TCP_HDR_DIGEST_ENABLE | NVME_TCP_DATA_DIGEST_ENABLE);
	icresp->maxdata = max_h2c_data;
}

uint32_t pdu_build_term_req(uint8_t *out, size_t out_len, const struct pdu_error *err,
			    const void *bad_hdr, uint32_t bad_len)
{
	struct nvme_tcp_term_pdu term;
	if (bad_len > NVME_TCP_TERM_MAX_HDR_ERR)
		bad_len = NVME_TCP_TERM_MAX_HDR_ERR;
	if (out_len < sizeof(term) + bad_len)
		bad_len = out_len > sizeof(term) ? (uint32_t)(out_len - sizeof(term)) : 0;
	memset(&term, 0, sizeof(term));
	term.hdr.type = NVME_TCP_C2H_TERM;
	term.hdr.hlen = sizeof(term);
	term.hdr.plen = (uint32_t)sizeof(term) + bad_len;
	term.fes = err->fes;
	term.fei = err->fei;
	memcpy(out, &term, sizeof(term));
	memcpy(out + sizeof(term), bad_hdr, bad_len);
	return term.hdr.plen;
}
