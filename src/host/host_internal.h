/* Shared between the host library's files; not part of the API. */
#ifndef NVEMU_HOST_INTERNAL_H
#define NVEMU_HOST_INTERNAL_H

#include <sys/uio.h>

#include "host/host.h"
#include "host/pdu.h"

enum send_state { SEND_IDLE, SEND_CAPSULE, SEND_H2C };

/*
 * While reads this large are outstanding, the receive side asks the socket for
 * no more than two headers at a time (a response and the next C2HData header),
 * so that data is received straight into the read's buffer rather than copied
 * out of the staging buffer: a syscall more per PDU, a data copy less.
 */
#define LARGE_C2H (32u * 1024)

/* One command slot; its index is the CID. */
struct host_req {
	struct nvme_sqe sqe;
	host_cb cb;
	void *cb_arg;
	uint8_t *buf;
	uint32_t len;
	enum host_xfer xfer;
	bool active;
	bool incapsule;
	enum send_state send_state;
	struct host_req *send_next;
	uint32_t data_done; /* C2H: bytes received; H2C: bytes queued for sending */
	uint32_t h2c_end;   /* end of the R2T window being sent */
	uint16_t ttag;
	int xport_error;    /* a data digest error waits here for the CapsuleResp */
};

enum rx_state { RX_HEADER, RX_PAD, RX_DATA, RX_DDGST, RX_TERM };

struct host_qpair {
	int fd;
	uint16_t qid;
	uint16_t depth;
	struct pdu_params params;
	uint32_t incapsule_max;
	bool sqflow_disabled;
	int failed; /* 0 or -errno */

	struct host_req *reqs;
	uint16_t *free_cids;
	unsigned free_count;

	/* Send side: commands and H2C windows wait in a FIFO until flushed. */
	struct host_req *send_head, *send_tail;
	uint8_t *sbuf; /* headers, pads and digests; data is sent from caller buffers */
	size_t sbuf_size, sbuf_used;
	struct iovec *iov;
	int iov_cap, iov_cnt, iov_sent;

	/* Receive side. */
	uint8_t *rbuf;
	size_t rbuf_size, rpos, rend;
	/* Outstanding reads of LARGE_C2H bytes or more: headers are then read alone. */
	unsigned large_reads;
	enum rx_state rx_state;
	struct pdu_rx rx;
	struct host_req *rx_req;
	uint32_t rx_left; /* bytes left in the current RX_PAD/RX_DATA/RX_DDGST/RX_TERM step */
	uint32_t rx_crc;
	uint8_t rx_tail[NVME_TCP_TERM_MAX_HDR_ERR];
	uint32_t rx_tail_got;

	uint64_t success_violations;
	bool sqid_warned;
	int completed; /* completions in the current host_qpair_process() call */
};

/*
 * Open the TCP connection and run ICReq/ICResp.  Blocks up to timeout_ms.
 * depth is the number of command slots; incapsule_max may be changed later.
 */
int qpair_open(struct host_qpair **qp, const char *traddr, const char *trsvcid, uint16_t qid,
	       uint16_t depth, bool hdgst, bool ddgst, const char *congestion, int timeout_ms);

/* Submit and wait for one command (used for Connect and admin commands). */
int qpair_sync(struct host_qpair *qp, const struct nvme_sqe *sqe, void *buf, uint32_t len,
	       enum host_xfer xfer, struct host_cpl *cpl, int timeout_ms);

/* The Connect command for queue qid, synchronously; returns the NVMe result. */
int qpair_fabrics_connect(struct host_qpair *qp, const struct host_opts *opts, const char *subnqn,
			  uint16_t cntlid, uint16_t sqsize, uint32_t kato_ms, struct host_cpl *cpl);

/* DH-HMAC-CHAP on a queue whose Connect asked for it (auth.c); 0, or -EACCES/-ENOKEY... */
int qpair_authenticate(struct host_qpair *qp, const struct host_opts *opts, const char *subnqn);

int64_t host_now_ms(void);

#endif
