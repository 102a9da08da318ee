/*
 * The NVMe/TCP floor: the least a target can do to serve the same client.
 *
 * A raw-TCP floor with a client of its own measures its own client too, and at
 * these rates a client's habits (how much it reads per wake-up, when it sends)
 * move the figure as much as any server does.  This floor keeps the client:
 * nvemu perf or spdk_nvme_perf connect to it as to any target.  Everything up
 * to an I/O queue's Connect (the admin queue, ICReq/ICResp, Connect itself) is
 * relayed to a real target (--upstream, e.g. nvemu); once an I/O queue's
 * Connect has been answered, that queue is served here and the relay for it
 * closed.  Serving is the bare protocol: a read is answered with one C2HData
 * PDU and a CapsuleResp sending zeroes (the C2HData alone, its SUCCESS flag
 * set, when the host disabled SQ flow control), a write larger than the capsule with
 * an R2T and, once its H2CData is in, a CapsuleResp; digests when negotiated
 * (header digests computed per PDU, the data digest of zeroes once per
 * length); nothing checked that a target must check.  Answers go out as one
 * gathered send per batch of received commands, as nvemu's do.
 *
 * Usage: nvemu-nvmf-floor --upstream PORT [--port PORT] [--poll | --blocking] [--cpu C]
 *                         [--idle-spin NS] [--tcp-congestion NAME]
 * Waiting: epoll (sleeping, or spinning with --poll), or blocking calls.  --idle-spin: sleeping,
 * but spinning for NS after each batch first, as nvemu's reactors do with the same option.
 * --tcp-congestion: the connections' congestion control, cubic unless given ('system': the
 * kernel's default), as nvemu's: the floor must not pace sends that nvemu does not.
 * Prints "listening on PORT" when ready; runs until killed.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "runtime/reactor.h"
#include "spec/nvme.h"
#include "util/crc32c.h"
#include "util/util.h"

#define RX_BYTES (1u << 20)
#define MAX_DATA (1u << 20)
#define CIDS 65536u
#define TX_CAP (4u * CIDS)
#define PEEK 72 /* enough of a PDU to see a command, a response or an ICResp */

static struct {
	uint16_t upstream;
	bool poll, blocking;
	int cpu;
	uint64_t idle_spin_ns;
	const char *congestion;
} opt = {.cpu = -1, .congestion = "cubic"};

/* epoll_wait's timeout: 0 to spin (polling, or within the idle spin after a batch). */
static int wait_ms(uint64_t batch_end_ns)
{
	if (opt.poll || (opt.idle_spin_ns && clock_now_ns() - batch_end_ns < opt.idle_spin_ns))
		return 0;
	return -1;
}

static const uint8_t zeros[MAX_DATA];

/* Walks a PDU stream, keeping the first PEEK bytes of each PDU. */
struct walker {
	uint8_t hdr[PEEK + NVME_TCP_DIGEST_LEN];
	uint32_t pos, plen;
};

/* Feeds n bytes; returns how many were taken, stopping once a PDU's header is in (*peeked). */
static size_t walk(struct walker *w, const uint8_t *p, size_t n, bool *peeked)
{
	size_t taken = 0;
	*peeked = false;
	while (taken < n) {
		if (w->pos < sizeof(struct nvme_tcp_hdr)) {
			w->hdr[w->pos++] = p[taken++];
			if (w->pos == sizeof(struct nvme_tcp_hdr))
				memcpy(&w->plen, w->hdr + 4, sizeof(w->plen));
			continue;
		}
		uint32_t keep = w->plen < PEEK ? w->plen : PEEK;
		if (w->pos < keep) {
			w->hdr[w->pos++] = p[taken++];
			if (w->pos == keep) {
				*peeked = true;
				/* The caller reads hdr before the next byte comes in. */
				if (w->pos == w->plen)
					w->pos = w->plen = 0;
				return taken;
			}
			continue;
		}
		size_t skip = w->plen - w->pos < n - taken ? w->plen - w->pos : n - taken;
		w->pos += (uint32_t)skip;
		taken += skip;
		if (w->pos == w->plen)
			w->pos = w->plen = 0;
	}
	return taken;
}

/* Headers go out with their digest right behind them: one piece each. */
struct out_c2h {
	struct nvme_tcp_data_pdu pdu;
	uint32_t hdgst;
} __attribute__((packed));

struct out_rsp {
	struct nvme_tcp_rsp_pdu pdu;
	uint32_t hdgst;
} __attribute__((packed));

struct out_r2t {
	struct nvme_tcp_r2t_pdu pdu;
	uint32_t hdgst;
} __attribute__((packed));

struct session {
	int host;
	bool hdgst, ddgst;
	bool sqflow_disabled; /* reads end with their data's SUCCESS flag, as nvemu's do */
	uint16_t qid, sqsize, sqhd;
	/* served queue */
	struct walker in;
	uint32_t hdr_need; /* bytes of the current PDU's header (with digest) */
	uint8_t hdr[PEEK + NVME_TCP_DIGEST_LEN];
	uint32_t hdr_have, skip;
	struct iovec *tx;
	uint32_t tx_head, tx_count;
	size_t tx_head_sent;
	/* per command id: the PDUs sent for it and a write's data still to come */
	struct out_c2h *c2h;
	struct out_rsp *rsp;
	struct out_r2t *r2t;
	uint32_t *data_digest, *h2c_left;
	uint32_t ddgst_len_cached, ddgst_cached;
};

static void pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Relays both ways until an I/O queue's Connect is answered; 1 then, 0 when the admin queue ends. */
static int relay(struct session *s, int up)
{
	static __thread uint8_t buf[65536];
	struct walker from_host = {0}, from_target = {0};
	bool connect_pending = false;
	uint16_t connect_cid = 0;
	struct pollfd fds[2] = {{s->host, POLLIN, 0}, {up, POLLIN, 0}};
	for (;;) {
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			return 0;
		for (int i = 0; i < 2; i++) {
			if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = recv(fds[i].fd, buf, sizeof(buf), 0);
			if (n <= 0)
				return 0;
			if (write_all(fds[!i].fd, buf, (size_t)n))
				return 0;
			struct walker *w = i == 0 ? &from_host : &from_target;
			size_t at = 0;
			bool switch_now = false;
			while (at < (size_t)n) {
				bool peeked;
				at += walk(w, buf + at, (size_t)n - at, &peeked);
				if (!peeked)
					continue;
				const struct nvme_tcp_hdr *h = (const void *)w->hdr;
				if (i == 0 && h->type == NVME_TCP_CMD) {
					const struct nvmf_connect_command *c =
					    (const void *)(w->hdr + 8);
					if (c->opcode == nvme_admin_fabrics &&
					    c->fctype == nvme_fabrics_type_connect && c->qid) {
						connect_pending = true;
						connect_cid = c->command_id;
						s->qid = c->qid;
						s->sqsize = c->sqsize;
						s->sqflow_disabled =
						    c->cattr & NVMF_CONNECT_CATTR_DISABLE_SQFLOW;
					}
				} else if (i == 1 && h->type == NVME_TCP_ICRESP) {
					/* Only the start of the ICResp is kept: read its digest byte alone. */
					uint8_t digest =
					    w->hdr[offsetof(struct nvme_tcp_icresp_pdu, digest)];
					s->hdgst = digest & NVME_TCP_HDR_DIGEST_ENABLE;
					s->ddgst = digest & NVME_TCP_DATA_DIGEST_ENABLE;
				} else if (i == 1 && h->type == NVME_TCP_RSP && connect_pending) {
					const struct nvme_cqe *cqe = (const void *)(w->hdr + 8);
					if (cqe->command_id == connect_cid && !(cqe->status >> 1)) {
						s->sqhd = cqe->sq_head;
						switch_now = true;
					}
				}
			}
			/* The host sends nothing on the queue before it has this response. */
			if (switch_now)
				return 1;
		}
	}
}

static uint32_t hd_len(const struct session *s) { return s->hdgst ? NVME_TCP_DIGEST_LEN : 0; }

static void push(struct session *s, void *base, size_t len)
{
	s->tx[(s->tx_head + s->tx_count++) % TX_CAP] = (struct iovec){base, len};
}

static void push_rsp(struct session *s, uint16_t cid)
{
	struct nvme_tcp_rsp_pdu *rsp = &s->rsp[cid].pdu;
	memset(rsp, 0, sizeof(*rsp));
	rsp->hdr = (struct nvme_tcp_hdr){NVME_TCP_RSP, s->hdgst ? NVME_TCP_F_HDGST : 0,
					 sizeof(*rsp), 0, (uint32_t)(sizeof(*rsp) + hd_len(s))};
	s->sqhd = (uint16_t)((s->sqhd + 1u) % ((uint32_t)s->sqsize + 1u));
	rsp->cqe.sq_head = s->sqhd;
	rsp->cqe.sq_id = s->qid;
	rsp->cqe.command_id = cid;
	if (s->hdgst)
		s->rsp[cid].hdgst = crc32c(rsp, sizeof(*rsp));
	push(s, rsp, sizeof(*rsp) + hd_len(s));
}

static void push_read(struct session *s, uint16_t cid, uint32_t len)
{
	if (len > MAX_DATA)
		len = MAX_DATA;
	struct nvme_tcp_data_pdu *c2h = &s->c2h[cid].pdu;
	uint32_t dd = s->ddgst ? NVME_TCP_DIGEST_LEN : 0;
	memset(c2h, 0, sizeof(*c2h));
	c2h->hdr = (struct nvme_tcp_hdr){NVME_TCP_C2H_DATA,
					 (uint8_t)(NVME_TCP_F_DATA_LAST |
						   (s->hdgst ? NVME_TCP_F_HDGST : 0) |
						   (dd ? NVME_TCP_F_DDGST : 0) |
						   (s->sqflow_disabled ? NVME_TCP_F_DATA_SUCCESS
								       : 0)),
					 sizeof(*c2h), (uint8_t)(sizeof(*c2h) + hd_len(s)),
					 (uint32_t)(sizeof(*c2h) + hd_len(s) + len + dd)};
	c2h->command_id = cid;
	c2h->data_length = len;
	if (s->hdgst)
		s->c2h[cid].hdgst = crc32c(c2h, sizeof(*c2h));
	push(s, c2h, sizeof(*c2h) + hd_len(s));
	push(s, (void *)zeros, len);
	if (dd) {
		if (s->ddgst_len_cached != len) {
			s->ddgst_cached = crc32c(zeros, len);
			s->ddgst_len_cached = len;
		}
		s->data_digest[cid] = s->ddgst_cached;
		push(s, &s->data_digest[cid], dd);
	}
	if (!s->sqflow_disabled)
		push_rsp(s, cid);
}

static void push_r2t(struct session *s, uint16_t cid, uint32_t len)
{
	struct nvme_tcp_r2t_pdu *r2t = &s->r2t[cid].pdu;
	memset(r2t, 0, sizeof(*r2t));
	r2t->hdr = (struct nvme_tcp_hdr){NVME_TCP_R2T, s->hdgst ? NVME_TCP_F_HDGST : 0,
					 sizeof(*r2t), 0, (uint32_t)(sizeof(*r2t) + hd_len(s))};
	r2t->command_id = cid;
	r2t->ttag = cid;
	r2t->r2t_length = len;
	if (s->hdgst)
		s->r2t[cid].hdgst = crc32c(r2t, sizeof(*r2t));
	s->h2c_left[cid] = len;
	push(s, r2t, sizeof(*r2t) + hd_len(s));
}

/* A PDU's header is in s->hdr: answer it. */
static void on_header(struct session *s)
{
	const struct nvme_tcp_hdr *h = (const void *)s->hdr;
	if (h->type == NVME_TCP_CMD) {
		const struct nvme_sqe *sqe = (const void *)(s->hdr + 8);
		bool incapsule = h->plen > h->hlen + hd_len(s);
		if (sqe->opcode == nvme_cmd_read)
			push_read(s, sqe->command_id, sqe->dptr.length);
		else if (sqe->opcode == nvme_cmd_write && !incapsule && sqe->dptr.length)
			push_r2t(s, sqe->command_id, sqe->dptr.length);
		else
			push_rsp(s, sqe->command_id);
	} else if (h->type == NVME_TCP_H2C_DATA) {
		const struct nvme_tcp_data_pdu *d = (const void *)s->hdr;
		s->h2c_left[d->ttag] -=
		    d->data_length < s->h2c_left[d->ttag] ? d->data_length : s->h2c_left[d->ttag];
		if (!s->h2c_left[d->ttag])
			push_rsp(s, d->command_id);
	}
}

/* Walks received bytes: each PDU's header is collected, the rest (data, digests) skipped. */
static void consume(struct session *s, const uint8_t *p, size_t n)
{
	while (n) {
		if (s->skip) {
			size_t k = s->skip < n ? s->skip : n;
			s->skip -= (uint32_t)k;
			p += k;
			n -= k;
			continue;
		}
		if (s->hdr_have < sizeof(struct nvme_tcp_hdr))
			s->hdr_need = sizeof(struct nvme_tcp_hdr);
		size_t k = s->hdr_need - s->hdr_have < n ? s->hdr_need - s->hdr_have : n;
		memcpy(s->hdr + s->hdr_have, p, k);
		s->hdr_have += (uint32_t)k;
		p += k;
		n -= k;
		if (s->hdr_have < s->hdr_need)
			continue;
		const struct nvme_tcp_hdr *h = (const void *)s->hdr;
		if (s->hdr_need == sizeof(struct nvme_tcp_hdr)) {
			uint32_t need = h->hlen + hd_len(s);
			s->hdr_need = need < sizeof(s->hdr) ? need : (uint32_t)sizeof(s->hdr);
			if (s->hdr_have < s->hdr_need)
				continue;
		}
		on_header(s);
		s->skip = h->plen - s->hdr_have;
		s->hdr_have = 0;
	}
}

/* Sends what the socket takes; -1 when the connection broke. */
static int flush(struct session *s)
{
	struct iovec iov[IOV_MAX];
	while (s->tx_count) {
		int n = 0;
		for (uint32_t i = 0; i < s->tx_count && n < IOV_MAX; i++)
			iov[n++] = s->tx[(s->tx_head + i) % TX_CAP];
		iov[0].iov_base = (char *)iov[0].iov_base + s->tx_head_sent;
		iov[0].iov_len -= s->tx_head_sent;
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t sent =
		    sendmsg(s->host, &msg, MSG_NOSIGNAL | (opt.blocking ? 0 : MSG_DONTWAIT));
		if (sent < 0)
			return errno == EAGAIN ? 0 : errno == EINTR ? 0 : -1;
		size_t left = (size_t)sent;
		while (left) {
			size_t in_head = s->tx[s->tx_head].iov_len - s->tx_head_sent;
			if (left < in_head) {
				s->tx_head_sent += left;
				break;
			}
			left -= in_head;
			s->tx_head_sent = 0;
			s->tx_head = (s->tx_head + 1) % TX_CAP;
			s->tx_count--;
		}
	}
	return 0;
}

static void serve(struct session *s)
{
	uint8_t *rx = malloc(RX_BYTES);
	s->tx = calloc(TX_CAP, sizeof(*s->tx));
	s->c2h = calloc(CIDS, sizeof(*s->c2h));
	s->rsp = calloc(CIDS, sizeof(*s->rsp));
	s->r2t = calloc(CIDS, sizeof(*s->r2t));
	s->data_digest = calloc(CIDS, sizeof(*s->data_digest));
	s->h2c_left = calloc(CIDS, sizeof(*s->h2c_left));
	if (!rx || !s->tx || !s->c2h || !s->rsp || !s->r2t || !s->data_digest || !s->h2c_left)
		return;
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	epoll_ctl(ep, EPOLL_CTL_ADD, s->host, &ev);
	bool want_out = false;
	uint64_t batch_end_ns = 0;
	for (;;) {
		if (!opt.blocking) {
			if (want_out != (s->tx_count != 0)) {
				want_out = s->tx_count != 0;
				ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0);
				epoll_ctl(ep, EPOLL_CTL_MOD, s->host, &ev);
			}
			while (epoll_wait(ep, &ev, 1, wait_ms(batch_end_ns)) == 0)
				;
		}
		/* Everything there is, then one send for the answers. */
		for (;;) {
			ssize_t n = recv(s->host, rx, RX_BYTES, opt.blocking ? 0 : MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0)
				return;
			consume(s, rx, (size_t)n);
			if ((size_t)n < RX_BYTES)
				break;
		}
		if (flush(s))
			return;
		if (opt.idle_spin_ns)
			batch_end_ns = clock_now_ns();
	}
}

static void *session_main(void *arg)
{
	struct session *s = arg;
	pin(opt.cpu);
	int up = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(opt.upstream),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;
	setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(up, (struct sockaddr *)&addr, sizeof(addr)) == 0 && relay(s, up) == 1) {
		close(up);
		up = -1;
		serve(s);
	}
	if (up >= 0)
		close(up);
	close(s->host);
	free(s);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"upstream", required_argument, NULL, 'u'}, {"port", required_argument, NULL, 'p'},
	    {"poll", no_argument, NULL, 'P'},           {"blocking", no_argument, NULL, 'b'},
	    {"cpu", required_argument, NULL, 'c'},      {"idle-spin", required_argument, NULL, 's'},
	    {"tcp-congestion", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	uint16_t port = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			opt.upstream = (uint16_t)atoi(optarg);
			break;
		case 'p':
			port = (uint16_t)atoi(optarg);
			break;
		case 'P':
			opt.poll = true;
			break;
		case 'b':
			opt.blocking = true;
			break;
		case 'c':
			opt.cpu = atoi(optarg);
			break;
		case 's':
			opt.idle_spin_ns = strtoull(optarg, NULL, 10);
			break;
		case 't':
			opt.congestion = optarg;
			break;
		default:
			fprintf(stderr, "usage: nvemu-nvmf-floor --upstream PORT [--port PORT] "
					"[--poll | --blocking] [--cpu C] [--idle-spin NS] "
					"[--tcp-congestion NAME]\n");
			return 2;
		}
	}
	if (!opt.upstream || (opt.poll && opt.blocking)) {
		fprintf(stderr,
			"nvemu-nvmf-floor: --upstream PORT is required; --poll or --blocking\n");
		return 2;
	}
	pin(opt.cpu);
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Connections inherit the listener's congestion control; one this user may not choose
	 * leaves the kernel's default, as in nvemu. */
	int cc = socket_set_congestion(listener, opt.congestion);
	if (cc < 0) {
		fprintf(stderr, "nvemu-nvmf-floor: TCP congestion control '%s': %s\n", opt.congestion,
			strerror(-cc));
		return 1;
	}
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) || listen(listener, 64) ||
	    getsockname(listener, (struct sockaddr *)&addr, &len)) {
		perror("nvemu-nvmf-floor: listen");
		return 1;
	}
	printf("listening on %u\n", ntohs(addr.sin_port));
	fflush(stdout);
	for (;;) {
		int fd = accept(listener, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct session *s = calloc(1, sizeof(*s));
		pthread_t t;
		if (!s) {
			close(fd);
			continue;
		}
		s->host = fd;
		if (pthread_create(&t, NULL, session_main, s)) {
			close(fd);
			free(s);
			continue;
		}
		pthread_detach(t);
	}
}
