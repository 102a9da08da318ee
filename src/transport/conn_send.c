/* A connection's transmit ring: batched sends, zero-copy sends and their notifications. */
#include <errno.h>
#include <time.h> /* before linux/errqueue.h, which uses struct timespec */
#include <limits.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "transport/conn.h"
#include "util/log.h"
#include "util/util.h"

/* ---- transmit ---- */

/* The ring slot i entries after the head: a compare, not a division (three per piece sent,
 * a batch of 4 KiB reads sends 48 pieces). */
static uint32_t tx_slot(const struct tcp_conn *conn, uint32_t i)
{
	uint32_t slot = conn->tx_head + i;
	return slot >= conn->tx_cap ? slot - conn->tx_cap : slot;
}

void tcp_tx_push(struct tcp_conn *conn, void *base, size_t len, struct tcp_req *owner,
		 unsigned flags)
{
	/* Sized at creation for every request's worst case: it cannot overflow. */
	uint32_t slot = tx_slot(conn, conn->tx_count);
	conn->tx[slot].iov.iov_base = base;
	conn->tx[slot].iov.iov_len = len;
	conn->tx[slot].owner = owner;
	conn->tx[slot].flags = flags;
	conn->tx_count++;
	reactor_defer(conn->worker->reactor, &conn->flush_task);
}

void tcp_req_release(struct tcp_req *req)
{
	nvme_req_release_data(&req->nvme);
	req->nvme.hold_data = false;
	req->zc_pending = false;
	req->state = REQ_FREE;
	/* The bootstrap request's buffer is too small for a connected queue's commands. */
	if (req == &req->conn->bootstrap && req->conn->reqs)
		return;
	req->next_free = req->conn->free_reqs;
	req->conn->free_reqs = req;
}

/* ---- zero-copy sends: a request waits until the kernel is done with its data ---- */

static bool zc_send_done(const struct tcp_conn *conn, uint32_t number)
{
	return (int32_t)(number - conn->zc_done) < 0;
}

/* Everything of req has been sent: reuse it now, or once its zero-copy sends are done. */
static void req_sent(struct tcp_conn *conn, struct tcp_req *req)
{
	if (!req->zc_pending || zc_send_done(conn, req->zc_send)) {
		tcp_req_release(req);
		return;
	}
	req->next_free = NULL;
	if (conn->zc_held_tail)
		conn->zc_held_tail->next_free = req;
	else
		conn->zc_held = req;
	conn->zc_held_tail = req;
}

/* The kernel finished sends lo..hi (it numbers them as we made them). */
static void zc_complete(struct tcp_conn *conn, uint32_t lo, uint32_t hi)
{
	for (uint32_t n = lo;; n++) {
		if (n - conn->zc_done < TCP_ZC_WINDOW)
			conn->zc_complete[n % TCP_ZC_WINDOW / 64] |= 1ull << (n % 64);
		if (n == hi)
			break;
	}
	for (;;) {
		uint64_t *word = &conn->zc_complete[conn->zc_done % TCP_ZC_WINDOW / 64];
		uint64_t bit = 1ull << (conn->zc_done % 64);
		if (!(*word & bit))
			break;
		*word &= ~bit;
		conn->zc_done++;
	}
	/* Held requests are in send order: release from the oldest. */
	while (conn->zc_held && zc_send_done(conn, conn->zc_held->zc_send)) {
		struct tcp_req *req = conn->zc_held;
		conn->zc_held = req->next_free;
		if (!conn->zc_held)
			conn->zc_held_tail = NULL;
		tcp_req_release(req);
	}
	if (conn->rx_parked && conn->free_reqs)
		reactor_defer(conn->worker->reactor, &conn->resume_task);
}

/* Reads the kernel's zero-copy notifications from the socket's error queue. */
void tcp_zc_read_notifications(struct tcp_conn *conn)
{
	for (;;) {
		char control[256];
		struct msghdr msg = {.msg_control = control, .msg_controllen = sizeof(control)};
		if (recvmsg(conn->rfd.fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (!(c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) &&
			    !(c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR))
				continue;
			const struct sock_extended_err *ee = (const void *)CMSG_DATA(c);
			if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY)
				continue;
			if ((ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED) && !conn->zc_copied_logged) {
				log_debug(
				    "%s: the kernel copies zero-copy sends on this path (a local "
				    "host?): --zerocopy-min only costs here",
				    conn->peer);
				conn->zc_copied_logged = true;
			}
			zc_complete(conn, ee->ee_info, ee->ee_data);
		}
	}
}

void tcp_conn_watch(struct tcp_conn *conn)
{
	reactor_mod_fd(conn->worker->reactor, &conn->rfd,
		       (conn->rx_parked ? 0 : EPOLLIN) | (conn->pollout ? EPOLLOUT : 0));
}

static void set_pollout(struct tcp_conn *conn, bool on)
{
	if (conn->pollout == on)
		return;
	conn->pollout = on;
	tcp_conn_watch(conn);
}

/* sent bytes left; zc: they went in zero-copy send number zc_next - 1, which pins every
 * request whose memory is among them (headers and copied data as much as the data that
 * asked for it). */
static void tx_consume(struct tcp_conn *conn, size_t sent, bool zc)
{
	while (sent && conn->tx_count) {
		struct tcp_tx_entry *e = &conn->tx[conn->tx_head];
		if (zc && e->owner) {
			e->owner->zc_pending = true;
			e->owner->zc_send = conn->zc_next - 1;
		}
		size_t left = e->iov.iov_len - conn->tx_head_sent;
		if (sent < left) {
			conn->tx_head_sent += sent;
			return;
		}
		sent -= left;
		conn->tx_head_sent = 0;
		conn->tx_head = tx_slot(conn, 1);
		conn->tx_count--;
		if (e->flags & TX_RELEASES)
			req_sent(conn, e->owner);
	}
}

void tcp_conn_flush(struct tcp_conn *conn)
{
	struct iovec iov[IOV_MAX];
	bool zc_allowed = conn->zc_min != 0;
	while (conn->tx_count && conn->state != CONN_CLOSED) {
		int n = 0;
		bool zc = false;
		for (uint32_t i = 0; i < conn->tx_count && n < IOV_MAX; i++, n++) {
			const struct tcp_tx_entry *e = &conn->tx[tx_slot(conn, i)];
			iov[n] = e->iov;
			zc |= (e->flags & TX_ZEROCOPY) != 0;
		}
		zc = zc && zc_allowed && conn->zc_next - conn->zc_done < TCP_ZC_WINDOW;
		iov[0].iov_base = (char *)iov[0].iov_base + conn->tx_head_sent;
		iov[0].iov_len -= conn->tx_head_sent;
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t sent = sendmsg(conn->rfd.fd, &msg,
				       MSG_NOSIGNAL | MSG_DONTWAIT | (zc ? MSG_ZEROCOPY : 0));
		if (sent < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_pollout(conn, true);
				return;
			}
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS && zc) {
				/* No kernel memory for more notifications: collect them, copy this once. */
				tcp_zc_read_notifications(conn);
				zc_allowed = false;
				continue;
			}
			tcp_conn_close(
			    conn, errno == EPIPE || errno == ECONNRESET ? NULL : strerror(errno));
			return;
		}
		if (zc)
			conn->zc_next++;
		tx_consume(conn, (size_t)sent, zc);
	}
	if (conn->state == CONN_CLOSED)
		return;
	set_pollout(conn, false);
	if (conn->close_when_sent)
		tcp_conn_close(conn, "after a fatal transport error");
}

void tcp_conn_flush_task(struct reactor_task *task)
{
	tcp_conn_flush(container_of(task, struct tcp_conn, flush_task));
}
