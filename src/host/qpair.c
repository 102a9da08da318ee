/* Queue pair: connection setup, command slots and the send path. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "host/host_internal.h"
#include "util/crc32c.h"
#include "util/log.h"
#include "util/util.h"

#define SBUF_SIZE (64 * 1024)
#define RBUF_SIZE (128 * 1024)
/* Kernel socket buffers: room for a full queue of large I/Os without waiting for POLLOUT. */
#define SOCK_BUF_SIZE (2 * 1024 * 1024)
/* Worst case one emitted item adds: header, alignment pad (CPDA <= 31), data digest. */
#define EMIT_MAX_BYTES (PDU_MAX_TX_HDR + 128 + NVME_TCP_DIGEST_LEN)
#define EMIT_MAX_IOVS 3

static const uint8_t zero_pad[128];

int64_t host_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to become ready for `events` until deadline_ms (monotonic). */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		int64_t left = deadline_ms - host_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = events };
		int rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_socket(const char *traddr, const char *trsvcid, const char *congestion,
			  int64_t deadline_ms)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	int rc = getaddrinfo(traddr, trsvcid, &hints, &ai);
	if (rc) {
		log_error("cannot resolve %s:%s: %s", traddr, trsvcid, gai_strerror(rc));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	int one = 1;
	/* Capsules are small and latency-bound; never let Nagle hold them back. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Before connect(), so that the window scale is negotiated for them. */
	int bufsize = SOCK_BUF_SIZE;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	/* One this user may not choose leaves the kernel's default (socket_set_congestion: 1). */
	int cc = socket_set_congestion(fd, congestion);
	if (cc < 0) {
		rc = cc;
		log_error("TCP congestion control '%s': %s", congestion, strerror(-rc));
		close(fd);
		fd = -1;
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		rc = -errno;
	} else if ((rc = wait_fd(fd, POLLOUT, deadline_ms)) == 0) {
		socklen_t len = sizeof(int);
		int soerr = 0;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		rc = -soerr;
	}
	if (rc) {
		log_error("connect to %s:%s: %s", traddr, trsvcid, strerror(-rc));
		close(fd);
		fd = -1;
	}
out:
	freeaddrinfo(ai);
	return rc ? rc : fd;
}

/* Blocking-style exchange used only before the queue runs: all bytes or an error. */
static int xfer_all(int fd, void *buf, size_t len, bool sending, int64_t deadline_ms)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = sending ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		int rc = wait_fd(fd, sending ? POLLOUT : POLLIN, deadline_ms);
		if (rc)
			return rc;
	}
	return 0;
}

static void *zalloc(size_t size)
{
	return calloc(1, size);
}

static void qpair_free(struct host_qpair *qp)
{
	if (qp->fd >= 0)
		close(qp->fd);
	free(qp->reqs);
	free(qp->free_cids);
	free(qp->sbuf);
	free(qp->iov);
	free(qp->rbuf);
	free(qp);
}

int qpair_open(struct host_qpair **out, const char *traddr, const char *trsvcid, uint16_t qid,
	       uint16_t depth, bool hdgst, bool ddgst, const char *congestion, int timeout_ms)
{
	struct host_qpair *qp = zalloc(sizeof(*qp));
	if (!qp)
		return -ENOMEM;
	qp->fd = -1;
	qp->qid = qid;
	qp->depth = depth;
	qp->reqs = zalloc(sizeof(*qp->reqs) * depth);
	qp->free_cids = zalloc(sizeof(*qp->free_cids) * depth);
	qp->sbuf_size = SBUF_SIZE;
	qp->sbuf = malloc(SBUF_SIZE);
	qp->iov_cap = IOV_MAX;
	qp->iov = zalloc(sizeof(*qp->iov) * (size_t)qp->iov_cap);
	qp->rbuf_size = RBUF_SIZE;
	qp->rbuf = malloc(RBUF_SIZE);
	if (!qp->reqs || !qp->free_cids || !qp->sbuf || !qp->iov || !qp->rbuf) {
		qpair_free(qp);
		return -ENOMEM;
	}
	/* Hand out low CIDs first: stack top is the last element. */
	for (unsigned i = 0; i < depth; i++)
		qp->free_cids[i] = (uint16_t)(depth - 1 - i);
	qp->free_count = depth;

	int64_t deadline = host_now_ms() + timeout_ms;
	int fd = connect_socket(traddr, trsvcid, congestion, deadline);
	if (fd < 0) {
		qpair_free(qp);
		return fd;
	}
	qp->fd = fd;

	struct nvme_tcp_icreq_pdu icreq;
	struct nvme_tcp_icresp_pdu icresp;
	pdu_build_icreq(&icreq, hdgst, ddgst);
	int rc = xfer_all(fd, &icreq, sizeof(icreq), true, deadline);
	if (!rc)
		rc = xfer_all(fd, &icresp, sizeof(icresp), false, deadline);
	if (rc) {
		log_error("qid %u: ICReq/ICResp exchange failed: %s", qid, strerror(-rc));
		qpair_free(qp);
		return rc;
	}
	char err[160];
	rc = pdu_parse_icresp(&icresp, hdgst, ddgst, &qp->params, err, sizeof(err));
	if (rc) {
		log_error("qid %u: %s", qid, err);
		qpair_free(qp);
		return rc;
	}
	log_debug("qid %u: ICResp PFV %u CPDA %u DGST %#x MAXH2CDATA %u", qid, icresp.pfv,
		  icresp.cpda, icresp.digest, icresp.maxdata);
	*out = qp;
	return 0;
}

/* ---- send path ---- */

static void send_fifo_push(struct host_qpair *qp, struct host_req *req, enum send_state state)
{
	req->send_state = state;
	req->send_next = NULL;
	if (qp->send_tail)
		qp->send_tail->send_next = req;
	else
		qp->send_head = req;
	qp->send_tail = req;
}

static void send_fifo_pop(struct host_qpair *qp)
{
	struct host_req *req = qp->send_head;
	qp->send_head = req->send_next;
	if (!qp->send_head)
		qp->send_tail = NULL;
	req->send_next = NULL;
	req->send_state = SEND_IDLE;
}

/* Take req out of the FIFO wherever it is (rare: a command ended early). */
void qpair_send_fifo_remove(struct host_qpair *qp, struct host_req *req)
{
	struct host_req *prev = NULL;
	for (struct host_req *it = qp->send_head; it; prev = it, it = it->send_next) {
		if (it != req)
			continue;
		if (prev)
			prev->send_next = it->send_next;
		else
			qp->send_head = it->send_next;
		if (qp->send_tail == it)
			qp->send_tail = prev;
		break;
	}
	req->send_next = NULL;
	req->send_state = SEND_IDLE;
}

static void iov_append(struct host_qpair *qp, const void *base, size_t len)
{
	struct iovec *last = qp->iov_cnt ? &qp->iov[qp->iov_cnt - 1] : NULL;
	if (last && (const uint8_t *)last->iov_base + last->iov_len == (const uint8_t *)base) {
		last->iov_len += len;
		return;
	}
	qp->iov[qp->iov_cnt++] = (struct iovec){ .iov_base = (void *)base, .iov_len = len };
}

/* Bytes for the staging buffer; they stay put until everything queued is sent. */
static void sbuf_append(struct host_qpair *qp, const void *bytes, size_t len)
{
	uint8_t *dst = qp->sbuf + qp->sbuf_used;
	if (bytes != dst)
		memcpy(dst, bytes, len);
	qp->sbuf_used += len;
	iov_append(qp, dst, len);
}

static bool emit_room(const struct host_qpair *qp)
{
	return qp->sbuf_used + EMIT_MAX_BYTES <= qp->sbuf_size &&
	       qp->iov_cnt + EMIT_MAX_IOVS <= qp->iov_cap;
}

/* Header (already built at the end of sbuf), pad to PDO, data, data digest. */
static void emit_pdu(struct host_qpair *qp, size_t hdr_len, uint32_t pdo, const uint8_t *data,
		     uint32_t data_len)
{
	sbuf_append(qp, qp->sbuf + qp->sbuf_used, hdr_len);
	if (!data_len)
		return;
	if (pdo > hdr_len)
		sbuf_append(qp, zero_pad, pdo - hdr_len);
	iov_append(qp, data, data_len);
	if (qp->params.ddgst) {
		uint32_t digest = crc32c(data, data_len);
		sbuf_append(qp, &digest, sizeof(digest));
	}
}

static void emit_capsule(struct host_qpair *qp, struct host_req *req)
{
	uint32_t data_len = req->incapsule ? req->len : 0;
	uint32_t pdo;
	size_t hdr_len = pdu_build_capsule(qp->sbuf + qp->sbuf_used, &qp->params, &req->sqe,
					   data_len, &pdo);
	emit_pdu(qp, hdr_len, pdo, req->buf, data_len);
	if (req->incapsule)
		req->data_done = req->len;
}

/* Emit H2CData PDUs for the current R2T window; true when the window is done. */
static bool emit_h2c(struct host_qpair *qp, struct host_req *req)
{
	while (req->data_done < req->h2c_end) {
		if (!emit_room(qp))
			return false;
		uint32_t chunk = req->h2c_end - req->data_done;
		if (chunk > qp->params.maxh2cdata)
			chunk = qp->params.maxh2cdata;
		bool last = req->data_done + chunk == req->h2c_end;
		uint32_t pdo;
		size_t hdr_len = pdu_build_h2c_data(qp->sbuf + qp->sbuf_used, &qp->params,
						    (uint16_t)(req - qp->reqs), req->ttag,
						    req->data_done, chunk, last, &pdo);
		emit_pdu(qp, hdr_len, pdo, req->buf + req->data_done, chunk);
		req->data_done += chunk;
	}
	return true;
}

static void emit_pending(struct host_qpair *qp)
{
	while (qp->send_head && emit_room(qp)) {
		struct host_req *req = qp->send_head;
		if (req->send_state == SEND_CAPSULE) {
			emit_capsule(qp, req);
		} else if (!emit_h2c(qp, req)) {
			break;
		}
		send_fifo_pop(qp);
	}
}

void qpair_fail(struct host_qpair *qp, int error);

int host_qpair_flush(struct host_qpair *qp)
{
	if (qp->failed)
		return qp->failed;
	for (;;) {
		emit_pending(qp);
		if (qp->iov_sent == qp->iov_cnt)
			return 0;
		struct msghdr msg = {
			.msg_iov = qp->iov + qp->iov_sent,
			.msg_iovlen = (size_t)(qp->iov_cnt - qp->iov_sent),
		};
		ssize_t n = sendmsg(qp->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			int rc = -errno;
			log_error("qid %u: send: %s", qp->qid, strerror(errno));
			qpair_fail(qp, HOST_ERR_CONNECTION);
			return rc;
		}
		while (n > 0) {
			struct iovec *v = &qp->iov[qp->iov_sent];
			if ((size_t)n >= v->iov_len) {
				n -= (ssize_t)v->iov_len;
				qp->iov_sent++;
			} else {
				v->iov_base = (uint8_t *)v->iov_base + n;
				v->iov_len -= (size_t)n;
				n = 0;
			}
		}
		if (qp->iov_sent < qp->iov_cnt)
			return 0; /* the socket is full; wait for POLLOUT */
		qp->iov_cnt = qp->iov_sent = 0;
		qp->sbuf_used = 0;
	}
}

bool host_qpair_send_pending(const struct host_qpair *qp)
{
	return !qp->failed && (qp->send_head || qp->iov_sent < qp->iov_cnt);
}

/* An R2T arrived for req: queue its H2CData PDUs. */
void qpair_queue_h2c(struct host_qpair *qp, struct host_req *req, uint16_t ttag, uint32_t end)
{
	req->ttag = ttag;
	req->h2c_end = end;
	send_fifo_push(qp, req, SEND_H2C);
}

/* ---- submission ---- */

int host_qpair_submit(struct host_qpair *qp, const struct nvme_sqe *sqe, void *buf, uint32_t len,
		      enum host_xfer xfer, host_cb cb, void *cb_arg)
{
	if (qp->failed)
		return -ENOTCONN;
	if (!qp->free_count)
		return -EBUSY;
	uint16_t cid = qp->free_cids[--qp->free_count];
	struct host_req *req = &qp->reqs[cid];

	req->sqe = *sqe;
	req->sqe.command_id = cid;
	req->sqe.flags = (uint8_t)((sqe->flags & ~NVME_CMD_PSDT_MASK) | NVME_CMD_PSDT_SGL_MPTR_CONTIG);
	req->cb = cb;
	req->cb_arg = cb_arg;
	req->buf = buf;
	req->len = xfer == HOST_XFER_NONE ? 0 : len;
	req->xfer = xfer;
	req->active = true;
	req->data_done = 0;
	req->h2c_end = 0;
	req->xport_error = 0;
	/* Fabrics commands (Connect) always carry their data in-capsule. */
	req->incapsule = xfer == HOST_XFER_H2C && len &&
			 (len <= qp->incapsule_max || sqe->opcode == nvme_admin_fabrics);
	if (xfer == HOST_XFER_C2H && req->len >= LARGE_C2H)
		qp->large_reads++;

	struct nvme_sgl_desc *sgl = &req->sqe.dptr;
	memset(sgl, 0, sizeof(*sgl));
	sgl->length = req->len;
	/* In-capsule data sits at offset 0 of the capsule data (ICDOFF is 0). */
	sgl->type = req->incapsule ? NVME_SGL_IN_CAPSULE : NVME_SGL_TRANSPORT_DATA;

	send_fifo_push(qp, req, SEND_CAPSULE);
	return 0;
}

int host_qpair_rw_directed(struct host_qpair *qp, bool write, uint32_t nsid, uint64_t slba,
			   uint32_t nlb, uint8_t dtype, uint16_t dspec, void *buf, uint32_t len,
			   host_cb cb, void *cb_arg)
{
	if (nlb == 0 || nlb > 0x10000 || dtype > 0xF)
		return -EINVAL;
	struct nvme_sqe sqe = {
	    .opcode = write ? nvme_cmd_write : nvme_cmd_read,
	    .nsid = nsid,
	    .rw = {.slba = slba,
		   .nlb = (uint16_t)(nlb - 1),
		   .control = (uint16_t)(dtype << NVME_RW_CONTROL_DTYPE_SHIFT),
		   .dspec = dspec},
	};
	return host_qpair_submit(qp, &sqe, buf, len, write ? HOST_XFER_H2C : HOST_XFER_C2H, cb,
				 cb_arg);
}

int host_qpair_rw(struct host_qpair *qp, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb,
		  void *buf, uint32_t len, host_cb cb, void *cb_arg)
{
	return host_qpair_rw_directed(qp, write, nsid, slba, nlb, 0, 0, buf, len, cb, cb_arg);
}

/* Free the slot first so the callback may submit again. */
void qpair_complete(struct host_qpair *qp, struct host_req *req, const struct host_cpl *cpl)
{
	host_cb cb = req->cb;
	void *cb_arg = req->cb_arg;
	if (req->send_state != SEND_IDLE)
		qpair_send_fifo_remove(qp, req);
	req->active = false;
	if (req->xfer == HOST_XFER_C2H && req->len >= LARGE_C2H)
		qp->large_reads--;
	qp->free_cids[qp->free_count++] = (uint16_t)(req - qp->reqs);
	qp->completed++;
	if (cb)
		cb(cb_arg, cpl);
}

void qpair_fail(struct host_qpair *qp, int error)
{
	if (qp->failed)
		return;
	qp->failed = error;
	/* The connection is unusable: let the controller see it end now, not at disconnect. */
	shutdown(qp->fd, SHUT_RDWR);
	struct host_cpl cpl = { .xport_error = error };
	for (unsigned i = 0; i < qp->depth; i++) {
		if (qp->reqs[i].active)
			qpair_complete(qp, &qp->reqs[i], &cpl);
	}
}

/* ---- synchronous helpers ---- */

struct sync_wait {
	bool done;
	struct host_cpl cpl;
};

static void sync_done(void *arg, const struct host_cpl *cpl)
{
	struct sync_wait *w = arg;
	w->cpl = *cpl;
	w->done = true;
}

int qpair_sync(struct host_qpair *qp, const struct nvme_sqe *sqe, void *buf, uint32_t len,
	       enum host_xfer xfer, struct host_cpl *cpl, int timeout_ms)
{
	struct sync_wait w = { 0 };
	int rc = host_qpair_submit(qp, sqe, buf, len, xfer, sync_done, &w);
	if (rc)
		return rc;
	int64_t deadline = host_now_ms() + timeout_ms;
	while (!w.done) {
		rc = host_qpair_process(qp);
		if (w.done)
			break;
		if (rc < 0)
			return rc;
		rc = wait_fd(qp->fd, (short)(POLLIN | (host_qpair_send_pending(qp) ? POLLOUT : 0)),
			     deadline);
		if (rc) {
			log_error("qid %u: opcode %#x timed out after %d ms", qp->qid, sqe->opcode,
				  timeout_ms);
			qpair_fail(qp, HOST_ERR_CONNECTION);
			return rc;
		}
	}
	*cpl = w.cpl;
	return cpl->xport_error;
}

int qpair_fabrics_connect(struct host_qpair *qp, const struct host_opts *opts, const char *subnqn,
			  uint16_t cntlid, uint16_t sqsize, uint32_t kato_ms, struct host_cpl *cpl)
{
	struct nvmf_connect_data data = { .cntlid = cntlid };
	memcpy(data.hostid, opts->hostid, sizeof(data.hostid));
	/* NUL-terminated within the 256-byte fields: snprintf truncates and terminates. */
	snprintf(data.subsysnqn, sizeof(data.subsysnqn), "%s", subnqn);
	snprintf(data.hostnqn, sizeof(data.hostnqn), "%s", opts->hostnqn);

	struct nvmf_connect_command cmd = {
		.opcode = nvme_admin_fabrics,
		.fctype = nvme_fabrics_type_connect,
		.recfmt = 0,
		.qid = qp->qid,
		.sqsize = sqsize,
		.cattr = opts->disable_sqflow ? NVMF_CONNECT_CATTR_DISABLE_SQFLOW : 0,
		.kato = kato_ms,
	};
	struct nvme_sqe sqe;
	memcpy(&sqe, &cmd, sizeof(sqe));
	int rc = qpair_sync(qp, &sqe, &data, sizeof(data), HOST_XFER_H2C, cpl, opts->admin_timeout_ms);
	if (rc)
		return rc;
	if (!host_cpl_ok(cpl)) {
		log_error("qid %u: Connect failed: status %#x (IPO %u IATTR %#x)", qp->qid, cpl->status,
			  (unsigned)(cpl->result & 0xFFFF), (unsigned)((cpl->result >> 16) & 0xFF));
		return -ECONNREFUSED;
	}
	qp->sqflow_disabled = opts->disable_sqflow;
	if (cpl->result & NVMF_CONNECT_AUTHREQ_ASCR) {
		log_error("qid %u: %s asks for a secure channel, which is not supported", qp->qid,
			  subnqn);
		return -EPROTONOSUPPORT;
	}
	if (cpl->result & NVMF_CONNECT_AUTHREQ_ATR)
		return qpair_authenticate(qp, opts, subnqn);
	return 0;
}

int host_qpair_fd(const struct host_qpair *qp)
{
	return qp->fd;
}

unsigned host_qpair_outstanding(const struct host_qpair *qp)
{
	return qp->depth - qp->free_count;
}

uint64_t host_qpair_success_flag_violations(const struct host_qpair *qp)
{
	return qp->success_violations;
}

void host_qpair_disconnect(struct host_qpair *qp)
{
	if (!qp)
		return;
	qpair_fail(qp, HOST_ERR_CONNECTION);
	qpair_free(qp);
}
