/*
 * NVMe/TCP PDU framing checks, free of sockets and state so that unit tests
 * and fuzzers can drive them directly.
 */
#ifndef NVEMU_TRANSPORT_PDU_H
#define NVEMU_TRANSPORT_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/nvme.h"

/* Where the parts of a received PDU are, relative to its first byte. */
struct pdu_layout {
	uint8_t type;
	uint8_t hlen;
	uint8_t hdgst_len;   /* 0 or 4 */
	uint32_t pad_len;    /* bytes between header (+digest) and data */
	uint32_t data_len;
	uint8_t ddgst_len;   /* 0 or 4 */
	uint32_t plen;
};

/* Why a PDU was refused: the Fatal Error Status and the offending byte. */
struct pdu_error {
	uint16_t fes;
	uint32_t fei;
};

struct pdu_limits {
	bool hdgst;		/* header digests negotiated */
	bool ddgst;		/* data digests negotiated */
	uint32_t max_incapsule; /* in-capsule data a CapsuleCmd may carry */
	uint32_t max_h2c_data;	/* MAXH2CDATA we announced */
};

/*
 * Checks the 8-byte common header of a host PDU once the connection is
 * initialised, and says how long its header part (with digest) is.
 * Returns 0, or -1 with err filled.
 */
int pdu_check_common(const struct nvme_tcp_hdr *hdr, const struct pdu_limits *limits,
		     struct pdu_layout *layout, struct pdu_error *err);

/* Checks an ICReq (the only PDU allowed before initialisation). */
int pdu_check_icreq(const struct nvme_tcp_icreq_pdu *icreq, struct pdu_error *err);

/* Verifies a header digest over the first hlen bytes; true when it matches. */
bool pdu_header_digest_ok(const void *pdu, uint8_t hlen);

/* Fills an ICResp answering icreq. */
void pdu_build_icresp(struct nvme_tcp_icresp_pdu *icresp, const struct nvme_tcp_icreq_pdu *icreq,
		      uint32_t max_h2c_data);

/* Fills a C2HTermReq carrying the start of the offending header. */
uint32_t pdu_build_term_req(uint8_t *out, size_t out_len, const struct pdu_error *err,
			    const void *bad_hdr, uint32_t bad_len);

#endif
