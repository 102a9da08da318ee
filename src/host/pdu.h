/*
 * NVMe/TCP PDU codec for the host: pure functions over byte buffers, no
 * sockets, so they can be unit-tested.  Header digests are computed here;
 * data digests are the caller's, because data lives in caller buffers.
 */
#ifndef NVEMU_HOST_PDU_H
#define NVEMU_HOST_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/nvme.h"

/* What the connection agreed on in ICReq/ICResp. */
struct pdu_params {
	bool hdgst;
	bool ddgst;
	uint32_t data_align; /* (CPDA + 1) * 4: where PDU data must start */
	uint32_t maxh2cdata;
};

/* The 128-byte ICReq for the digests wanted; HPDA 0, MAXR2T 0 (one R2T per command). */
void pdu_build_icreq(struct nvme_tcp_icreq_pdu *icreq, bool hdgst, bool ddgst);

/*
 * Check an ICResp against the ICReq we sent and fill params.  The controller
 * may not enable a digest we did not ask for; declining one we asked for is
 * reported too, because the caller explicitly wanted it.  Returns 0, or
 * -EPROTO with a message in err.
 */
int pdu_parse_icresp(const struct nvme_tcp_icresp_pdu *icresp, bool want_hdgst, bool want_ddgst,
		     struct pdu_params *params, char *err, size_t errlen);

/* Offset of PDU data after a header of hlen bytes (header digest and alignment pad included). */
uint32_t pdu_data_offset(const struct pdu_params *params, uint32_t hlen);

/*
 * Build a CapsuleCmd header in out (room for 72 + 4 bytes) carrying data_len
 * bytes of in-capsule data (0 for none).  Returns the header bytes written
 * (with the header digest); the caller then sends pad bytes up to PDO, the
 * data and, if enabled, the data digest.  *pdo gets PDO (0 without data).
 */
size_t pdu_build_capsule(uint8_t *out, const struct pdu_params *params, const struct nvme_sqe *sqe,
			 uint32_t data_len, uint32_t *pdo);

/* Build an H2CData header the same way; last sets LAST_PDU.  Returns header bytes. */
size_t pdu_build_h2c_data(uint8_t *out, const struct pdu_params *params, uint16_t cccid,
			  uint16_t ttag, uint32_t datao, uint32_t datal, bool last, uint32_t *pdo);

/* Largest header this host builds: CapsuleCmd plus header digest. */
#define PDU_MAX_TX_HDR (sizeof(struct nvme_tcp_cmd_pdu) + NVME_TCP_DIGEST_LEN)

/* A received PDU header, checked against the rules for its type. */
struct pdu_rx {
	uint8_t type;
	uint8_t flags;
	uint32_t plen;
	uint32_t pdo;
	uint32_t data_len; /* PDU data bytes (C2HData only) */
	union {
		struct nvme_cqe cqe;
		struct nvme_tcp_data_pdu c2h;
		struct nvme_tcp_r2t_pdu r2t;
		struct nvme_tcp_term_pdu term;
	};
};

/*
 * How many header bytes the PDU starting at buf needs (HLEN plus header
 * digest), once its 8-byte common header is in.  -EPROTO for an unknown or
 * host-bound-illegal type or a wrong HLEN.
 */
int pdu_rx_header_len(const struct pdu_params *params, const struct nvme_tcp_hdr *hdr, char *err,
		      size_t errlen);

/*
 * Validate a complete received header (as counted by pdu_rx_header_len) and
 * decode it.  Checks the header digest, PLEN against the type, DDGSTF and PDO.
 * Returns 0, or -EPROTO with a message (a header digest error says so).
 */
int pdu_rx_parse(const struct pdu_params *params, const uint8_t *buf, struct pdu_rx *rx, char *err,
		 size_t errlen);

#endif
