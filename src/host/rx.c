/* Queue pair receive path: a state machine over a byte stream of controller PDUs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "host/host_internal.h"
#include "util/crc32c.h"
#include "util/log.h"

/* Below this, C2H data is copied out of the receive buffer instead of received in place. */
#define DIRECT_RECV_MIN 4096

void qpair_fail(struct host_qpair *qp, int error);
void qpair_complete(struct host_qpair *qp, struct host_req *req, const struct host_cpl *cpl);
void qpair_queue_h2c(struct host_qpair *qp, struct host_req *req, uint16_t ttag, uint32_t end);

/* Tell the controller why we give up (best effort), then fail every command. */
static void fatal(struct host_qpair *qp, uint16_t fes, const void *bad_hdr, size_t bad_len,
		  const char *why)
{
	log_error("qid %u: protocol error: %s", qp->qid, why);
	uint8_t pdu[sizeof(struct nvme_tcp_term_pdu) + NVME_TCP_TERM_MAX_HDR_ERR];
	struct nvme_tcp_term_pdu *term = (void *)pdu;
	if (bad_len > NVME_TCP_TERM_MAX_HDR_ERR)
		bad_len = NVME_TCP_TERM_MAX_HDR_ERR;
	memset(term, 0, sizeof(*term));
	term->hdr.type = NVME_TCP_H2C_TERM;
	term->hdr.hlen = sizeof(*term);
	term->hdr.plen = (uint32_t)(sizeof(*term) + bad_len);
	term->fes = fes;
	if (bad_len)
		memcpy(pdu + sizeof(*term), bad_hdr, bad_len);
	/* Only if nothing half-sent would be cut in two. */
	if (qp->iov_sent == qp->iov_cnt && !qp->failed)
		(void)send(qp->fd, pdu, term->hdr.plen, MSG_NOSIGNAL | MSG_DONTWAIT);
	qpair_fail(qp, HOST_ERR_PROTOCOL);
}

static struct host_req *lookup(struct host_qpair *qp, uint16_t cid)
{
	if (cid >= qp->depth || !qp->reqs[cid].active)
		return NULL;
	return &qp->reqs[cid];
}

static void handle_response(struct host_qpair *qp, const uint8_t *hdr)
{
	const struct nvme_cqe *cqe = &qp->rx.cqe;
	struct host_req *req = lookup(qp, cqe->command_id);
	char why[128];
	if (!req) {
		snprintf(why, sizeof(why), "CapsuleResp for CID %u, which is not outstanding",
			 cqe->command_id);
		fatal(qp, NVME_TCP_FES_INVALID_PDU_HDR, hdr, 24, why);
		return;
	}
	if (cqe->sq_id != qp->qid && !qp->sqid_warned) {
		log_warn("qid %u: CQE for opcode %#x carries SQID %u (reported once per queue)",
			 qp->qid, req->sqe.opcode, cqe->sq_id);
		qp->sqid_warned = true;
	}
	struct host_cpl cpl = {
		.result = cqe->result,
		.status = (uint16_t)(cqe->status >> 1),
		.xport_error = req->xport_error,
	};
	bool ok = (cpl.status & 0x7FF) == 0;
	if (ok && !cpl.xport_error && req->data_done != req->len) {
		log_error("qid %u: CID %u completed successfully after %u of %u data bytes", qp->qid,
			  cqe->command_id, req->data_done, req->len);
		cpl.xport_error = HOST_ERR_PROTOCOL;
	}
	qpair_complete(qp, req, &cpl);
}

static void handle_r2t(struct host_qpair *qp, const uint8_t *hdr)
{
	const struct nvme_tcp_r2t_pdu *r2t = &qp->rx.r2t;
	struct host_req *req = lookup(qp, r2t->command_id);
	char why[160];
	uint16_t fes = NVME_TCP_FES_INVALID_PDU_HDR;
	if (!req || req->xfer != HOST_XFER_H2C || req->incapsule) {
		snprintf(why, sizeof(why), "R2T for CID %u, which is not a write awaiting R2T",
			 r2t->command_id);
	} else if (req->send_state != SEND_IDLE || req->data_done < req->h2c_end) {
		snprintf(why, sizeof(why), "second R2T for CID %u while one is in flight (MAXR2T 0)",
			 r2t->command_id);
		fes = NVME_TCP_FES_R2T_LIMIT_EXCEEDED;
	} else if (r2t->r2t_length == 0 || r2t->r2t_offset != req->data_done ||
		   (uint64_t)r2t->r2t_offset + r2t->r2t_length > req->len) {
		snprintf(why, sizeof(why), "R2T CID %u R2TO %u R2TL %u: %u of %u bytes already sent",
			 r2t->command_id, r2t->r2t_offset, r2t->r2t_length, req->data_done, req->len);
		fes = NVME_TCP_FES_DATA_OUT_OF_RANGE;
	} else {
		qpair_queue_h2c(qp, req, r2t->ttag, r2t->r2t_offset + r2t->r2t_length);
		return;
	}
	fatal(qp, fes, hdr, 24, why);
}

/* A C2HData header is in; set up to receive its pad, data and digest. */
static void start_c2h(struct host_qpair *qp, const uint8_t *hdr, uint32_t hdr_len)
{
	const struct nvme_tcp_data_pdu *c2h = &qp->rx.c2h;
	struct host_req *req = lookup(qp, c2h->command_id);
	char why[160];
	if (!req || req->xfer != HOST_XFER_C2H) {
		snprintf(why, sizeof(why), "C2HData for CID %u, which expects no data from the controller",
			 c2h->command_id);
	} else if (c2h->data_offset != req->data_done) {
		snprintf(why, sizeof(why), "C2HData CID %u DATAO %u, expected %u (data out of order)",
			 c2h->command_id, c2h->data_offset, req->data_done);
	} else if ((uint64_t)c2h->data_offset + c2h->data_length > req->len) {
		snprintf(why, sizeof(why), "C2HData CID %u DATAO %u DATAL %u beyond the %u-byte buffer",
			 c2h->command_id, c2h->data_offset, c2h->data_length, req->len);
	} else {
		qp->rx_req = req;
		qp->rx_crc = CRC32C_INIT;
		qp->rx_left = qp->rx.pdo - hdr_len;
		qp->rx_state = qp->rx_left ? RX_PAD : RX_DATA;
		if (!qp->rx_left)
			qp->rx_left = qp->rx.data_len;
		return;
	}
	fatal(qp, NVME_TCP_FES_DATA_OUT_OF_RANGE, hdr, 24, why);
}

static void finish_c2h(struct host_qpair *qp)
{
	struct host_req *req = qp->rx_req;
	uint8_t flags = qp->rx.flags;
	qp->rx_state = RX_HEADER;
	qp->rx_req = NULL;
	if (!(flags & NVME_TCP_F_DATA_SUCCESS))
		return;
	/* SUCCESS: the command is done and no CapsuleResp follows. */
	if (!qp->sqflow_disabled)
		qp->success_violations++;
	struct host_cpl cpl = { .xport_error = req->xport_error };
	if (!cpl.xport_error && req->data_done != req->len) {
		log_error("qid %u: CID %u SUCCESS after %u of %u data bytes", qp->qid,
			  (unsigned)(req - qp->reqs), req->data_done, req->len);
		cpl.xport_error = HOST_ERR_PROTOCOL;
	}
	qpair_complete(qp, req, &cpl);
}

static void check_data_digest(struct host_qpair *qp, const uint8_t *got_bytes)
{
	uint32_t got, want = crc32c_final(qp->rx_crc);
	memcpy(&got, got_bytes, sizeof(got));
	if (got != want) {
		struct host_req *req = qp->rx_req;
		log_error("qid %u: data digest mismatch on C2HData CID %u DATAO %u: got %#x, computed %#x",
			  qp->qid, (unsigned)(req - qp->reqs), qp->rx.c2h.data_offset, got, want);
		/* Only this command fails; the stream is still in step. */
		req->xport_error = HOST_ERR_DATA_DIGEST;
	}
	finish_c2h(qp);
}

static void data_received(struct host_qpair *qp, const uint8_t *data, uint32_t n)
{
	if (qp->params.ddgst)
		qp->rx_crc = crc32c_update(qp->rx_crc, data, n);
	qp->rx_req->data_done += n;
	qp->rx_left -= n;
	if (qp->rx_left)
		return;
	if (qp->params.ddgst) {
		qp->rx_state = RX_DDGST;
		qp->rx_left = NVME_TCP_DIGEST_LEN;
		qp->rx_tail_got = 0;
	} else {
		finish_c2h(qp);
	}
}

/* Consume a header at buf (hdr_len bytes, all present). */
static void handle_header(struct host_qpair *qp, const uint8_t *buf, uint32_t hdr_len)
{
	char why[192];
	if (pdu_rx_parse(&qp->params, buf, &qp->rx, why, sizeof(why))) {
		bool hd = strstr(why, "header digest mismatch") != NULL;
		fatal(qp, hd ? NVME_TCP_FES_HDR_DIGEST_ERR : NVME_TCP_FES_INVALID_PDU_HDR, buf,
		      hdr_len, why);
		return;
	}
	switch (qp->rx.type) {
	case NVME_TCP_RSP:
		handle_response(qp, buf);
		break;
	case NVME_TCP_R2T:
		handle_r2t(qp, buf);
		break;
	case NVME_TCP_C2H_DATA:
		start_c2h(qp, buf, hdr_len);
		break;
	default: /* C2HTermReq: collect the offending header, then give up */
		qp->rx_left = qp->rx.data_len;
		qp->rx_tail_got = 0;
		qp->rx_state = RX_TERM;
		break;
	}
}

static void handle_term(struct host_qpair *qp)
{
	char why[160];
	snprintf(why, sizeof(why), "controller terminated the connection: FES %#x FEI %#x",
		 qp->rx.term.fes, qp->rx.term.fei);
	log_error("qid %u: %s", qp->qid, why);
	qpair_fail(qp, HOST_ERR_PROTOCOL);
}

/* Parse what sits in rbuf[rpos, rend). */
static void parse_buffer(struct host_qpair *qp)
{
	while (!qp->failed && qp->rpos < qp->rend) {
		uint8_t *p = qp->rbuf + qp->rpos;
		uint32_t avail = (uint32_t)(qp->rend - qp->rpos);
		uint32_t n;
		switch (qp->rx_state) {
		case RX_HEADER: {
			if (avail < sizeof(struct nvme_tcp_hdr))
				return;
			char why[160];
			int hlen = pdu_rx_header_len(&qp->params, (void *)p, why, sizeof(why));
			if (hlen < 0) {
				fatal(qp, NVME_TCP_FES_INVALID_PDU_HDR, p, avail < 24 ? avail : 24, why);
				return;
			}
			if (avail < (uint32_t)hlen)
				return;
			qp->rpos += (uint32_t)hlen;
			handle_header(qp, p, (uint32_t)hlen);
			continue;
		}
		case RX_PAD:
			n = avail < qp->rx_left ? avail : qp->rx_left;
			qp->rpos += n;
			qp->rx_left -= n;
			if (!qp->rx_left) {
				qp->rx_state = RX_DATA;
				qp->rx_left = qp->rx.data_len;
			}
			continue;
		case RX_DATA: {
			struct host_req *req = qp->rx_req;
			n = avail < qp->rx_left ? avail : qp->rx_left;
			memcpy(req->buf + req->data_done, p, n);
			qp->rpos += n;
			data_received(qp, req->buf + req->data_done, n);
			continue;
		}
		case RX_DDGST:
		case RX_TERM:
			n = avail < qp->rx_left ? avail : qp->rx_left;
			memcpy(qp->rx_tail + qp->rx_tail_got, p, n);
			qp->rx_tail_got += n;
			qp->rpos += n;
			qp->rx_left -= n;
			if (qp->rx_left)
				continue;
			if (qp->rx_state == RX_DDGST)
				check_data_digest(qp, qp->rx_tail);
			else
				handle_term(qp);
			continue;
		}
	}
}

/* Read once; returns bytes read, 0 when the socket is drained, or -errno. */
static ssize_t receive_some(struct host_qpair *qp, size_t *asked)
{
	if (qp->rpos == qp->rend)
		qp->rpos = qp->rend = 0;

	/* Big C2H data goes straight into the caller's buffer, skipping a copy. */
	if (qp->rx_state == RX_DATA && qp->rpos == qp->rend && qp->rx_left >= DIRECT_RECV_MIN) {
		struct host_req *req = qp->rx_req;
		uint8_t *dst = req->buf + req->data_done;
		*asked = qp->rx_left;
		ssize_t n = recv(qp->fd, dst, qp->rx_left, MSG_DONTWAIT);
		if (n > 0)
			data_received(qp, dst, (uint32_t)n);
		return n;
	}
	if (qp->rend == qp->rbuf_size) {
		memmove(qp->rbuf, qp->rbuf + qp->rpos, qp->rend - qp->rpos);
		qp->rend -= qp->rpos;
		qp->rpos = 0;
	}
	*asked = qp->rbuf_size - qp->rend;
	/* Large reads outstanding: two headers at most (see LARGE_C2H), not their data. */
	size_t two_headers =
	    2 * (sizeof(struct nvme_tcp_data_pdu) + (qp->params.hdgst ? NVME_TCP_DIGEST_LEN : 0));
	size_t staged = qp->rend - qp->rpos;
	if (qp->large_reads && qp->rx_state == RX_HEADER && staged < two_headers &&
	    two_headers - staged < *asked)
		*asked = two_headers - staged;
	ssize_t n = recv(qp->fd, qp->rbuf + qp->rend, *asked, MSG_DONTWAIT);
	if (n > 0) {
		qp->rend += (size_t)n;
		parse_buffer(qp);
	}
	return n;
}

int host_qpair_process(struct host_qpair *qp)
{
	qp->completed = 0;
	int rc = host_qpair_flush(qp);
	while (!rc && !qp->failed) {
		size_t asked;
		ssize_t n = receive_some(qp, &asked);
		if (n == 0) {
			log_error("qid %u: controller closed the connection", qp->qid);
			qpair_fail(qp, HOST_ERR_CONNECTION);
		} else if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			log_error("qid %u: recv: %s", qp->qid, strerror(errno));
			qpair_fail(qp, HOST_ERR_CONNECTION);
		} else if ((size_t)n < asked) {
			break; /* drained; save the syscall that would say EAGAIN */
		} else if (qp->send_head) {
			/* More is waiting; first hand the controller the commands completions made room for. */
			host_qpair_flush(qp);
		}
	}
	/* Callbacks may have queued new commands; send them now rather than next round. */
	if (!qp->failed)
		host_qpair_flush(qp);
	if (qp->failed)
		return qp->failed;
	return qp->completed;
}
