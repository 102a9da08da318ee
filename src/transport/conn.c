/* An NVMe/TCP connection: PDU receive state machine, R2T flow, batched sends. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "transport/conn.h"
#include "util/crc32c.h"
#include "util/log.h"
#include "util/util.h"

static void conn_on_event(struct reactor_fd *rfd, uint32_t events);
static void queue_response(struct nvme_req *nvme);
static void disconnect_sq(struct nvme_sq *sq);

static const struct nvme_transport_ops tcp_ops = {
    .queue_response = queue_response,
    .disconnect = disconnect_sq,
};

static uint8_t hdgst_flag(const struct tcp_conn *conn)
{
	return conn->limits.hdgst ? NVME_TCP_F_HDGST : 0;
}

static uint32_t hdgst_len(const struct tcp_conn *conn)
{
	return conn->limits.hdgst ? NVME_TCP_DIGEST_LEN : 0;
}

static void queue_response(struct nvme_req *nvme)
{
	struct tcp_req *req = container_of(nvme, struct tcp_req, nvme);
	struct tcp_conn *conn = req->conn;
	req->state = REQ_IN_USE; /* answered: no H2CData is accepted for it any more */
	bool ok = (nvme->cqe.status >> 1) == NVME_SC_SUCCESS;
	if (nvme->xfer == NVME_XFER_C2H && ok && nvme->data_len) {
		struct nvme_tcp_data_pdu *c2h = &req->c2h.pdu;
		uint32_t ddgst_len = conn->limits.ddgst ? NVME_TCP_DIGEST_LEN : 0;
		/* A host that disabled SQ flow control reads no SQ head from a response: the
		 * data's SUCCESS flag tells it all when there is no result to carry (TP 8000, as
		 * nvmet does), one PDU less per read. */
		bool data_completes = conn->sq.sqflow_disabled && nvme->cqe.result == 0;
		c2h->hdr.type = NVME_TCP_C2H_DATA;
		c2h->hdr.flags = (uint8_t)(NVME_TCP_F_DATA_LAST | hdgst_flag(conn) |
					   (ddgst_len ? NVME_TCP_F_DDGST : 0) |
					   (data_completes ? NVME_TCP_F_DATA_SUCCESS : 0));
		c2h->hdr.hlen = sizeof(*c2h);
		/* Linux reads data right after the header: no padding, ever. */
		c2h->hdr.pdo = (uint8_t)(sizeof(*c2h) + hdgst_len(conn));
		c2h->hdr.plen = c2h->hdr.pdo + nvme->data_len + ddgst_len;
		c2h->command_id = nvme->cmd.command_id;
		c2h->ttag = 0;
		c2h->data_offset = 0;
		c2h->data_length = nvme->data_len;
		memset(c2h->rsvd, 0, sizeof(c2h->rsvd));
		if (conn->limits.hdgst)
			req->c2h.hdgst = crc32c(c2h, sizeof(*c2h));
		tcp_tx_push(conn, &req->c2h, sizeof(*c2h) + hdgst_len(conn), req, 0);
		/* Pieces of a namespace go zero-copy only when held; `data` never changes. */
		unsigned zc = nvme->hold_data && (!nvme->data_iovcnt || nvme->data_hold.media)
				  ? TX_ZEROCOPY
				  : 0;
		/* The last piece sent frees the request when no response follows. */
		unsigned last = data_completes ? TX_RELEASES : 0;
		unsigned data_last = ddgst_len ? 0 : last;
		if (nvme->data_iovcnt) {
			for (uint32_t i = 0; i < nvme->data_iovcnt; i++)
				tcp_tx_push(conn, nvme->data_iov[i].iov_base,
					    nvme->data_iov[i].iov_len, req,
					    zc | (i + 1 == nvme->data_iovcnt ? data_last : 0));
		} else {
			tcp_tx_push(conn, (void *)nvme->data, nvme->data_len, req,
				    zc | data_last);
		}
		if (ddgst_len) {
			req->c2h_ddgst = nvme->data_iovcnt
					     ? crc32c_iov(nvme->data_iov, (int)nvme->data_iovcnt)
					     : crc32c(nvme->data, nvme->data_len);
			tcp_tx_push(conn, &req->c2h_ddgst, ddgst_len, req, last);
		}
		if (data_completes)
			return;
	}
	struct nvme_tcp_rsp_pdu *rsp = &req->rsp.pdu;
	rsp->hdr.type = NVME_TCP_RSP;
	rsp->hdr.flags = hdgst_flag(conn);
	rsp->hdr.hlen = sizeof(*rsp);
	rsp->hdr.pdo = 0;
	rsp->hdr.plen = (uint32_t)sizeof(*rsp) + hdgst_len(conn);
	rsp->cqe = nvme->cqe;
	if (conn->limits.hdgst)
		req->rsp.hdgst = crc32c(rsp, sizeof(*rsp));
	tcp_tx_push(conn, &req->rsp, sizeof(*rsp) + hdgst_len(conn), req, TX_RELEASES);
}

static void send_r2t(struct tcp_conn *conn, struct tcp_req *req)
{
	struct nvme_tcp_r2t_pdu *r2t = &req->r2t.pdu;
	memset(r2t, 0, sizeof(*r2t));
	r2t->hdr.type = NVME_TCP_R2T;
	r2t->hdr.flags = hdgst_flag(conn);
	r2t->hdr.hlen = sizeof(*r2t);
	r2t->hdr.plen = (uint32_t)sizeof(*r2t) + hdgst_len(conn);
	r2t->command_id = req->nvme.cmd.command_id;
	r2t->ttag = req->ttag;
	/* One R2T for the whole transfer: MAXR2T is one per command. */
	r2t->r2t_offset = 0;
	r2t->r2t_length = req->nvme.data_len;
	if (conn->limits.hdgst)
		req->r2t.hdgst = crc32c(r2t, sizeof(*r2t));
	tcp_tx_push(conn, &req->r2t, sizeof(*r2t) + hdgst_len(conn), req, 0);
}

/* A protocol error the connection cannot recover from: say why, then close. */
static void fatal(struct tcp_conn *conn, const struct pdu_error *err, const char *what)
{
	log_warn("%s: %s (fatal error status %u at byte %u); closing", conn->peer, what, err->fes,
		 err->fei);
	uint32_t len =
	    pdu_build_term_req(conn->term, sizeof(conn->term), err, conn->hdr, conn->hdr_have);
	tcp_tx_push(conn, conn->term, len, NULL, 0);
	conn->close_when_sent = true;
	conn->fatal_at_ns = clock_now_ns();
	/* Nothing more is read from a connection that is going away. */
	conn->rx_start = conn->rx_end;
	reactor_mod_fd(conn->worker->reactor, &conn->rfd, EPOLLOUT);
	conn->pollout = true;
}

/* ---- commands ---- */

static int pool_create(struct tcp_conn *conn, uint32_t nreqs);

static void execute(struct tcp_req *req)
{
	struct tcp_conn *conn = req->conn;
	req->state = REQ_IN_USE;
	req->nvme.execute(&req->nvme);
	/* A Connect just succeeded (it completes at once): the queue gets the slots it asked for. */
	if (req == &conn->bootstrap && conn->sq.ctrl && !conn->reqs &&
	    pool_create(conn, conn->sq.size)) {
		log_error("%s: out of memory for a queue of %u entries", conn->peer, conn->sq.size);
		tcp_conn_close(conn, NULL);
		return;
	}
	/* Connect (and authentication, which also completes at once) done: it counts no more
	 * among its address's unconnected connections. */
	if (conn->unconnected_of && nvme_sq_ready(&conn->sq))
		tcp_conn_connected(conn);
}

/* staged: the in-capsule data, still in the staging buffer (NULL: in the request's buffer, or
 * none). */
static void start_command(struct tcp_conn *conn, struct tcp_req *req, uint8_t *staged)
{
	struct nvme_req *nvme = &req->nvme;
	req->state = REQ_IN_USE;
	uint16_t status = nvme_req_init(nvme, &conn->sq);
	if (status) {
		log_debug("%s: command %#x cid %u refused with status %#x", conn->peer,
			  nvme->cmd.opcode, nvme->cmd.command_id, status);
		nvme_req_fail(nvme, status);
		return;
	}
	/* Large read data leaves without a copy: the namespace must hold it until the kernel is done. */
	nvme->hold_data =
	    conn->zc_min && nvme->xfer == NVME_XFER_C2H && nvme->data_len >= conn->zc_min;
	if (nvme->xfer == NVME_XFER_H2C && nvme->incapsule_len == 0) {
		req->state = REQ_AWAIT_H2C;
		req->h2c_received = 0;
		req->data_digest_failed = false;
		send_r2t(conn, req);
		return;
	}
	if (staged && !nvme_req_uses_data_at_once(nvme)) {
		memcpy(nvme->buf, staged, nvme->incapsule_len);
		staged = NULL;
	}
	/* Nothing reads into the staging buffer until execute returns. */
	nvme->incapsule_data = staged;
	execute(req);
	nvme->incapsule_data = NULL;
}

/* A command capsule's data is in (staged: still in the staging buffer, else in the request's
 * buffer). */
static void capsule_data_in(struct tcp_conn *conn, struct tcp_req *req, bool digest_ok,
			    uint8_t *staged)
{
	if (!digest_ok) {
		log_warn("%s: data digest mismatch in a command capsule", conn->peer);
		nvme_req_fail(&req->nvme, NVME_SC_TRANSIENT_TRANSPORT);
		return;
	}
	start_command(conn, req, staged);
}

static struct tcp_req *take_request(struct tcp_conn *conn)
{
	struct tcp_req *req = conn->free_reqs;
	if (req) {
		conn->free_reqs = req->next_free;
		req->next_free = NULL;
	}
	return req;
}

/* ---- receive ---- */

static void expect_header(struct tcp_conn *conn)
{
	conn->rx_state = RX_HEADER;
	conn->hdr_have = 0;
	conn->hdr_need = sizeof(struct nvme_tcp_hdr);
	conn->rx_req = NULL;
}

static void expect_data(struct tcp_conn *conn, struct tcp_req *req, uint8_t *dst)
{
	conn->rx_req = req;
	conn->data_dst = dst;
	conn->data_left = conn->layout.data_len;
	conn->pad_left = conn->layout.pad_len;
	conn->data_crc = CRC32C_INIT;
	conn->ddgst_have = 0;
	conn->rx_state = conn->pad_left ? RX_PAD : RX_DATA;
}

static void handle_icreq(struct tcp_conn *conn)
{
	const struct nvme_tcp_icreq_pdu *icreq = (const void *)conn->hdr;
	struct pdu_error err;
	if (pdu_check_icreq(icreq, &err)) {
		fatal(conn, &err, "bad ICReq");
		return;
	}
	uint8_t *staging = tcp_staging_take(conn);
	if (!staging) {
		log_error("%s: out of memory for a connection", conn->peer);
		tcp_conn_close(conn, NULL);
		return;
	}
	memcpy(staging, conn->rx + conn->rx_start, conn->rx_end - conn->rx_start);
	conn->rx_end -= conn->rx_start;
	conn->rx_start = 0;
	conn->rx = staging;
	conn->rx_cap = TCP_RX_STAGING;
	conn->bootstrap.nvme.buf = staging + TCP_RX_STAGING;
	conn->sq.max_data = conn->limits.max_incapsule;
	pdu_build_icresp(&conn->icresp, icreq, TCP_MAX_H2C_DATA);
	conn->limits.hdgst = conn->icresp.digest & NVME_TCP_HDR_DIGEST_ENABLE;
	conn->limits.ddgst = conn->icresp.digest & NVME_TCP_DATA_DIGEST_ENABLE;
	conn->state = CONN_LIVE;
	tcp_tx_push(conn, &conn->icresp, sizeof(conn->icresp), NULL, 0);
	expect_header(conn);
}

/*
 * A capsule whose in-capsule data is in the staging buffer already, whole: a command that
 * reads its data before execute returns (a Write to a namespace in memory) takes it from
 * there. Copying 4 KiB into the request's buffer first made 4 KiB writes at QD32 a third
 * slower (docs/benchmarks.md).
 */
static bool capsule_staged(struct tcp_conn *conn, struct tcp_req *req)
{
	const struct pdu_layout *l = &conn->layout;
	uint32_t whole = l->pad_len + l->data_len + l->ddgst_len;
	if (conn->rx_end - conn->rx_start < whole)
		return false;
	uint8_t *data = conn->rx + conn->rx_start + l->pad_len;
	bool digest_ok = true;
	if (l->ddgst_len) {
		uint32_t received;
		memcpy(&received, data + l->data_len, sizeof(received));
		digest_ok = crc32c(data, l->data_len) == received;
	}
	conn->rx_start += whole;
	req->state = REQ_IN_USE;
	expect_header(conn);
	capsule_data_in(conn, req, digest_ok, data);
	return true;
}

static void handle_capsule(struct tcp_conn *conn)
{
	struct tcp_req *req = take_request(conn);
	if (!req && conn->zc_held) {
		/* Every free slot waits for the kernel to finish a zero-copy send. The host may
		 * reuse them (their responses went out): the command waits, and nothing more is
		 * read until the kernel releases one (resume_task_run). */
		tcp_zc_read_notifications(conn);
		req = take_request(conn);
		if (!req) {
			conn->rx_parked = true;
			tcp_conn_watch(conn);
			return;
		}
	}
	if (!req) {
		struct pdu_error err = {NVME_TCP_FES_PDU_SEQ_ERR, 0};
		fatal(conn, &err, "more commands outstanding than the queue holds");
		return;
	}
	memcpy(&req->nvme.cmd, conn->hdr + sizeof(struct nvme_tcp_hdr), sizeof(req->nvme.cmd));
	req->nvme.incapsule_len = conn->layout.data_len;
	if (conn->layout.data_len) {
		if (capsule_staged(conn, req))
			return;
		req->state = REQ_IN_USE;
		expect_data(conn, req, req->nvme.buf);
		return;
	}
	expect_header(conn);
	start_command(conn, req, NULL);
}

static void handle_h2c_data(struct tcp_conn *conn)
{
	const struct nvme_tcp_data_pdu *pdu = (const void *)conn->hdr;
	struct pdu_error err = {NVME_TCP_FES_INVALID_PDU_HDR, 0};
	struct tcp_req *req = pdu->ttag == TCP_BOOTSTRAP_TTAG ? &conn->bootstrap
			      : pdu->ttag < conn->nreqs       ? &conn->reqs[pdu->ttag]
							      : NULL;
	if (!req || req->state != REQ_AWAIT_H2C || pdu->command_id != req->nvme.cmd.command_id) {
		err.fei = (uint32_t)offsetof(struct nvme_tcp_data_pdu, ttag);
		fatal(conn, &err, "H2CData for no transfer in progress");
		return;
	}
	if (pdu->data_length != conn->layout.data_len) {
		err.fei = (uint32_t)offsetof(struct nvme_tcp_data_pdu, data_length);
		fatal(conn, &err, "H2CData length disagrees with its PDU length");
		return;
	}
	if (pdu->data_offset != req->h2c_received ||
	    (uint64_t)pdu->data_offset + pdu->data_length > req->nvme.data_len) {
		err.fes = NVME_TCP_FES_DATA_OUT_OF_RANGE;
		err.fei = (uint32_t)offsetof(struct nvme_tcp_data_pdu, data_offset);
		fatal(conn, &err, "H2CData outside the requested range");
		return;
	}
	expect_data(conn, req, (uint8_t *)req->nvme.buf + pdu->data_offset);
}

static void header_complete(struct tcp_conn *conn)
{
	const struct pdu_layout *layout = &conn->layout;
	if (layout->type != NVME_TCP_ICREQ && layout->hdgst_len &&
	    !pdu_header_digest_ok(conn->hdr, layout->hlen)) {
		struct pdu_error err = {NVME_TCP_FES_HDR_DIGEST_ERR, 0};
		fatal(conn, &err, "header digest mismatch");
		return;
	}
	switch (layout->type) {
	case NVME_TCP_ICREQ:
		handle_icreq(conn);
		break;
	case NVME_TCP_CMD:
		handle_capsule(conn);
		break;
	case NVME_TCP_H2C_DATA:
		handle_h2c_data(conn);
		break;
	case NVME_TCP_H2C_TERM: {
		const struct nvme_tcp_term_pdu *term = (const void *)conn->hdr;
		log_warn("%s: host terminated the connection (status %u)", conn->peer, term->fes);
		tcp_conn_close(conn, NULL);
		break;
	}
	}
}

/* The common header is in: decide how long the whole header is. */
static bool sized_header(struct tcp_conn *conn)
{
	const struct nvme_tcp_hdr *hdr = (const void *)conn->hdr;
	struct pdu_error err;
	if (conn->state == CONN_AWAIT_ICREQ) {
		if (hdr->type != NVME_TCP_ICREQ || hdr->hlen != sizeof(struct nvme_tcp_icreq_pdu)) {
			err.fes = NVME_TCP_FES_PDU_SEQ_ERR;
			err.fei = 0;
			fatal(conn, &err, "expected an ICReq first");
			return false;
		}
		memset(&conn->layout, 0, sizeof(conn->layout));
		conn->layout.type = NVME_TCP_ICREQ;
		conn->layout.hlen = hdr->hlen;
		conn->hdr_need = hdr->hlen;
		return true;
	}
	if (pdu_check_common(hdr, &conn->limits, &conn->layout, &err)) {
		fatal(conn, &err, "malformed PDU header");
		return false;
	}
	conn->hdr_need = (uint32_t)conn->layout.hlen + conn->layout.hdgst_len;
	return true;
}

static void data_complete(struct tcp_conn *conn, bool digest_ok)
{
	struct tcp_req *req = conn->rx_req;
	uint8_t type = conn->layout.type;
	uint32_t len = conn->layout.data_len;
	expect_header(conn);
	if (type == NVME_TCP_CMD) {
		capsule_data_in(conn, req, digest_ok, NULL);
		return;
	}
	/* H2CData: the command waits for all its data even after a bad digest. */
	if (!digest_ok) {
		log_warn("%s: data digest mismatch in H2CData", conn->peer);
		req->data_digest_failed = true;
	}
	req->h2c_received += len;
	if (req->h2c_received < req->nvme.data_len)
		return;
	if (req->data_digest_failed) {
		req->state = REQ_IN_USE;
		nvme_req_fail(&req->nvme, NVME_SC_TRANSIENT_TRANSPORT);
		return;
	}
	execute(req);
}

static void data_received(struct tcp_conn *conn, const uint8_t *src, uint32_t len)
{
	if (conn->data_dst != src)
		memcpy(conn->data_dst, src, len);
	if (conn->limits.ddgst)
		conn->data_crc = crc32c_update(conn->data_crc, conn->data_dst, len);
	conn->data_dst += len;
	conn->data_left -= len;
	if (conn->data_left)
		return;
	if (conn->layout.ddgst_len)
		conn->rx_state = RX_DDGST;
	else
		data_complete(conn, true);
}

static void process_staged(struct tcp_conn *conn)
{
	while (conn->rx_start < conn->rx_end && conn->state != CONN_CLOSED &&
	       !conn->close_when_sent && !conn->rx_parked) {
		const uint8_t *p = conn->rx + conn->rx_start;
		uint32_t avail = conn->rx_end - conn->rx_start;
		uint32_t take;
		switch (conn->rx_state) {
		case RX_HEADER:
			take = conn->hdr_need - conn->hdr_have;
			take = take < avail ? take : avail;
			memcpy(conn->hdr + conn->hdr_have, p, take);
			conn->hdr_have += take;
			conn->rx_start += take;
			if (conn->hdr_have < conn->hdr_need)
				break;
			if (conn->hdr_need == sizeof(struct nvme_tcp_hdr)) {
				if (!sized_header(conn))
					return;
				if (conn->hdr_have < conn->hdr_need)
					break;
			}
			header_complete(conn);
			break;
		case RX_PAD:
			take = conn->pad_left < avail ? conn->pad_left : avail;
			conn->pad_left -= take;
			conn->rx_start += take;
			if (!conn->pad_left)
				conn->rx_state = RX_DATA;
			break;
		case RX_DATA:
			take = conn->data_left < avail ? conn->data_left : avail;
			conn->rx_start += take;
			data_received(conn, p, take);
			break;
		case RX_DDGST:
			take = NVME_TCP_DIGEST_LEN - conn->ddgst_have;
			take = take < avail ? take : avail;
			memcpy(conn->ddgst + conn->ddgst_have, p, take);
			conn->ddgst_have += take;
			conn->rx_start += take;
			if (conn->ddgst_have == NVME_TCP_DIGEST_LEN) {
				uint32_t received;
				memcpy(&received, conn->ddgst, sizeof(received));
				data_complete(conn, crc32c_final(conn->data_crc) == received);
			}
			break;
		}
	}
}

/* Returns false when the socket has nothing more to give now. */
static bool receive_once(struct tcp_conn *conn)
{
	uint8_t *dst;
	size_t room;
	bool direct = conn->rx_state == RX_DATA && conn->rx_start == conn->rx_end &&
		      conn->data_left >= TCP_DIRECT_RECV_MIN;
	if (direct) {
		dst = conn->data_dst;
		room = conn->data_left;
	} else {
		if (conn->rx_start == conn->rx_end)
			conn->rx_start = conn->rx_end = 0;
		dst = conn->rx + conn->rx_end;
		room = conn->rx_cap - conn->rx_end;
		if (!room) {
			memmove(conn->rx, conn->rx + conn->rx_start, conn->rx_end - conn->rx_start);
			conn->rx_end -= conn->rx_start;
			conn->rx_start = 0;
			dst = conn->rx + conn->rx_end;
			room = conn->rx_cap - conn->rx_end;
		}
	}
	ssize_t n = recv(conn->rfd.fd, dst, room, MSG_DONTWAIT);
	if (n == 0) {
		tcp_conn_close(conn, NULL);
		return false;
	}
	if (n > 0)
		conn->rx_bytes += (uint64_t)n;
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return false;
		tcp_conn_close(conn, errno == ECONNRESET ? NULL : strerror(errno));
		return false;
	}
	if (direct) {
		data_received(conn, dst, (uint32_t)n);
	} else {
		conn->rx_end += (uint32_t)n;
		process_staged(conn);
	}
	return (size_t)n == room;
}

static void conn_on_event(struct reactor_fd *rfd, uint32_t events)
{
	struct tcp_conn *conn = container_of(rfd, struct tcp_conn, rfd);
	if (conn->state == CONN_CLOSED)
		return;
	if ((events & EPOLLERR) && conn->zc_min)
		tcp_zc_read_notifications(conn);
	if (events & EPOLLOUT)
		tcp_conn_flush(conn);
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && !conn->close_when_sent) {
		/* A bounded number of reads keeps one busy host from starving the rest. */
		for (int i = 0; i < 8 && conn->state != CONN_CLOSED && !conn->close_when_sent &&
				!conn->rx_parked;
		     i++)
			if (!receive_once(conn))
				break;
	}
}

/* A request slot came free while a command waited for one: take the command, then what
 * is staged behind it, then read again. */
static void resume_task_run(struct reactor_task *task)
{
	struct tcp_conn *conn = container_of(task, struct tcp_conn, resume_task);
	if (conn->state == CONN_CLOSED || !conn->rx_parked)
		return;
	conn->rx_parked = false;
	tcp_conn_watch(conn);
	handle_capsule(conn);
	process_staged(conn);
}

static void disconnect_sq(struct nvme_sq *sq)
{
	tcp_conn_close(container_of(sq, struct tcp_conn, sq), "controller torn down");
}

/* ---- lifetime ---- */

/* A worker's connections are on one of two lists: open (conns) or closed and waiting to be
 * freed (closing). */
static void list_push(struct tcp_conn **head, struct tcp_conn *conn)
{
	conn->prev = NULL;
	conn->next = *head;
	if (*head)
		(*head)->prev = conn;
	*head = conn;
}

static void list_remove(struct tcp_conn **head, struct tcp_conn *conn)
{
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		*head = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
}

static void conn_free(struct tcp_conn *conn)
{
	/* The kernel may still send from buffers whose zero-copy sends it has not confirmed:
	 * such a pool goes back to the system (the pages stay pinned until then), never to the
	 * next connection, whose data would otherwise go out on this closed one. */
	if (conn->pool)
		tcp_pool_give(
		    conn->worker,
		    &(struct tcp_spare_pool){.pool = conn->pool,
					     .buffers = conn->buffers,
					     .pool_bytes = conn->pool_bytes,
					     .buffers_bytes = conn->buffer_size * conn->nreqs,
					     .nreqs = conn->nreqs},
		    conn->zc_next == conn->zc_done);
	if (conn->rx != conn->rx_first)
		tcp_staging_give(conn, conn->rx);
	atomic_fetch_sub(&conn->worker->transport->nconns, 1);
	free(conn);
}

/* A namespace may still be reading into a request buffer (file I/O): wait for it. */
#define FREE_RETRY_NS (1000ull * 1000)

static void free_when_quiet(struct tcp_conn *conn)
{
	if (nvme_sq_busy(&conn->sq))
		reactor_timer_arm(conn->worker->reactor, &conn->free_timer,
				  clock_now_ns() + FREE_RETRY_NS);
	else
		tcp_conn_free_closing(conn);
}

static size_t cache_lines(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

/*
 * The queue's request slots, nreqs of them (the size its Connect asked for), with their data
 * buffers and the transmit ring; what the bootstrap ring holds moves over.  Mapped, not
 * malloc'd: a closed connection's memory goes back to the system (past the few spares a
 * reactor keeps), not to an allocator's cache.
 */
static int pool_create(struct tcp_conn *conn, uint32_t nreqs)
{
	/* A read maps to at most one piece per 4 KiB page, plus one for a misaligned start. */
	uint32_t iov_cap = (uint32_t)(conn->buffer_size / 4096) + 1;
	/* Per request: C2H header, data pieces, data digest, response, R2T. */
	uint32_t tx_cap = nreqs * (iov_cap + 4) + TCP_TX_FIRST;
	size_t reqs_bytes = cache_lines(nreqs * sizeof(struct tcp_req));
	size_t iov_bytes = cache_lines((size_t)nreqs * iov_cap * sizeof(struct iovec));
	size_t bytes = reqs_bytes + iov_bytes + tx_cap * sizeof(struct tcp_tx_entry);
	struct tcp_spare_pool got;
	if (!tcp_pool_take(conn, nreqs, bytes, reqs_bytes, &got))
		return -1;
	uint8_t *pool = got.pool, *buffers = got.buffers;
	struct tcp_tx_entry *tx = (void *)(pool + reqs_bytes + iov_bytes);
	for (uint32_t i = 0; i < conn->tx_count; i++)
		tx[i] = conn->tx[(conn->tx_head + i) % conn->tx_cap];
	conn->tx = tx;
	conn->tx_cap = tx_cap;
	conn->tx_head = 0;
	conn->pool = pool;
	conn->pool_bytes = bytes;
	conn->reqs = (void *)pool;
	conn->nreqs = nreqs;
	conn->data_iovs = (void *)(pool + reqs_bytes);
	conn->data_iov_cap = iov_cap;
	conn->buffers = buffers;
	conn->sq.max_data = (uint32_t)conn->buffer_size;
	/* The bootstrap request no longer takes commands, even if it is free now. */
	conn->free_reqs = NULL;
	for (uint32_t i = nreqs; i-- > 0;) {
		struct tcp_req *req = &conn->reqs[i];
		req->conn = conn;
		req->ttag = (uint16_t)i;
		req->nvme.sq = &conn->sq;
		req->nvme.buf = conn->buffers + (size_t)i * conn->buffer_size;
		req->nvme.data_iov = conn->data_iovs + (size_t)i * conn->data_iov_cap;
		req->nvme.data_iov_cap = conn->data_iov_cap;
		tcp_req_release(req);
	}
	return 0;
}

static void free_task_run(struct reactor_task *task)
{
	free_when_quiet(container_of(task, struct tcp_conn, free_task));
}

static void free_timer_fired(struct reactor_timer *timer)
{
	free_when_quiet(container_of(timer, struct tcp_conn, free_timer));
}

static void describe_peer(struct tcp_conn *conn)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	if (getpeername(conn->rfd.fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
			port = ntohs(sin->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
			port = ntohs(sin6->sin6_port);
		}
	}
	snprintf(conn->peer, sizeof(conn->peer), "%s:%u", host, port);
	len = sizeof(ss);
	if (getsockname(conn->rfd.fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
				  conn->sq.local_addr, sizeof(conn->sq.local_addr));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
				  conn->sq.local_addr, sizeof(conn->sq.local_addr));
	}
}

struct tcp_conn *tcp_conn_create(struct tcp_worker *worker, int fd, struct tcp_peer *peer)
{
	struct tcp_transport *transport = worker->transport;
	struct nvme_target *target = transport->params.target;
	struct tcp_conn *conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NULL;
	atomic_fetch_add(&transport->nconns, 1);
	conn->rfd.fd = fd;
	conn->rfd.on_event = conn_on_event;
	conn->worker = worker;
	conn->unconnected_of = peer;
	conn->accepted_ns = clock_now_ns();
	conn->flush_task.run = tcp_conn_flush_task;
	conn->resume_task.run = resume_task_run;
	conn->free_task.run = free_task_run;
	conn->free_timer.fire = free_timer_fired;
	conn->buffer_size = nvme_target_max_data(target);
	/* Nothing but an ICReq is read until the ICReq came (handle_icreq maps the rest). */
	nvme_sq_init(&conn->sq, target, &tcp_ops, worker->reactor, 0);
	conn->limits.max_incapsule =
	    nvme_target_incapsule_size(target) > 8192 ? nvme_target_incapsule_size(target) : 8192;
	conn->limits.max_h2c_data = TCP_MAX_H2C_DATA;
	conn->rx = conn->rx_first;
	conn->rx_cap = TCP_RX_FIRST;
	conn->tx = conn->tx_first;
	conn->tx_cap = TCP_TX_FIRST;
	struct tcp_req *boot = &conn->bootstrap;
	boot->conn = conn;
	boot->ttag = TCP_BOOTSTRAP_TTAG;
	boot->nvme.sq = &conn->sq;
	tcp_req_release(boot);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn->zc_min = transport->params.zerocopy_min;
	if (conn->zc_min && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one))) {
		log_warn("zero-copy sends unavailable: %s", strerror(errno));
		conn->zc_min = 0;
	}
	describe_peer(conn);
	conn->state = CONN_AWAIT_ICREQ;
	expect_header(conn);
	if (reactor_add_fd(worker->reactor, &conn->rfd, EPOLLIN) < 0) {
		conn->unconnected_of = NULL; /* the caller releases it */
		conn_free(conn);
		return NULL;
	}
	list_push(&worker->conns, conn);
	log_debug("%s: connected", conn->peer);
	return conn;
}

bool tcp_conn_mid_pdu(const struct tcp_conn *conn)
{
	/* A parked command is complete: the wait is ours, not the host's. */
	return conn->state == CONN_LIVE && !conn->rx_parked &&
	       (conn->rx_state != RX_HEADER || conn->hdr_have > 0);
}

void tcp_conn_connected(struct tcp_conn *conn)
{
	if (!conn->unconnected_of)
		return;
	tcp_peer_release(conn->worker->transport, conn->unconnected_of);
	conn->unconnected_of = NULL;
}

static void conn_shutdown(struct tcp_conn *conn, const char *why)
{
	if (why)
		log_warn("%s: closing connection: %s", conn->peer, why);
	else
		log_debug("%s: connection closed", conn->peer);
	conn->state = CONN_CLOSED;
	tcp_conn_connected(conn); /* whether it got that far or not, it counts no more */
	reactor_del_fd(conn->worker->reactor, &conn->rfd);
	close(conn->rfd.fd);
	if (conn->bootstrap.state != REQ_FREE)
		nvme_req_cancel(&conn->bootstrap.nvme);
	for (uint32_t i = 0; i < conn->nreqs; i++) {
		if (conn->reqs[i].state != REQ_FREE)
			nvme_req_cancel(&conn->reqs[i].nvme);
		/* The socket is gone, and with it what the kernel would have said about the data. */
		nvme_req_release_data(&conn->reqs[i].nvme);
	}
	nvme_sq_destroy(&conn->sq);
	list_remove(&conn->worker->conns, conn);
	list_push(&conn->worker->closing, conn);
}

void tcp_conn_free_closing(struct tcp_conn *conn)
{
	reactor_timer_cancel(conn->worker->reactor, &conn->free_timer);
	list_remove(&conn->worker->closing, conn);
	conn_free(conn);
}

void tcp_conn_close(struct tcp_conn *conn, const char *why)
{
	if (conn->state == CONN_CLOSED)
		return;
	conn_shutdown(conn, why);
	/* Events for this connection may still be pending in this pass. */
	reactor_defer(conn->worker->reactor, &conn->free_task);
}

void tcp_conn_destroy_now(struct tcp_conn *conn)
{
	conn_shutdown(conn, NULL);
	tcp_conn_free_closing(conn);
}
