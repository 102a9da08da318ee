/*
 * The raw-TCP floor: what this machine allows for NVMe/TCP's exchanges at a
 * given queue depth with no NVMe at all.  A server process pinned to one CPU
 * answers a client pinned to another over loopback.  Each I/O is one or more
 * steps of "the client sends a message, the server answers"; every message is
 * sent as the same pieces (one iovec each) NVMe/TCP sends, e.g. a 128 KiB
 * read is one step, a 72-byte capsule answered by a 24-byte C2HData header,
 * the data and a 24-byte response:  --exchange 72:24+131072+24
 * and a 128 KiB write through R2T is two:  --exchange 72:24,24+131072:24
 * Byte 0 of every request says which step it is (as a PDU type would), so the
 * server knows its length; it reads requests in stream order and queues the
 * answers, sent in one gathered send per batch.  Pieces of 512 bytes or more
 * are data, sent from (and received into) real memory; smaller ones are
 * headers.
 *
 * Waiting, the same on both sides:
 *   default  sleep in epoll_wait, read until the socket is drained, one sendmsg
 *            per batch (the loop a minimal event-driven server has)
 *   --poll   the same loop calling epoll_wait with a zero timeout
 *   --blocking  blocking recv and send instead of epoll (the older floor)
 * Servers: default as above; --uring serves with io_uring (receive and gathered
 * send in one io_uring_enter per batch); --uring-mshot with a multishot receive
 * into a provided-buffer ring and sends from a registered buffer (one-step
 * exchanges only).
 * --zerocopy-min BYTES sends every batch holding a piece that large with
 * MSG_ZEROCOPY (with --uring: IORING_OP_SENDMSG_ZC) and reads the completion
 * notifications, to find where zero-copy sends pay off.
 * --sockbuf BYTES sets SO_SNDBUF and SO_RCVBUF on both sockets.
 *
 * Prints one JSON object: iops, lat_us {mean, p50, p99}, server and client CPU
 * per I/O (user + system), and the zero-copy notifications the server read.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/* After time.h: it needs struct timespec. */
#include <linux/errqueue.h>

#define MAX_QD 1024
#define MAX_MESSAGE (4u << 20)
#define MAX_STEPS 4
#define MAX_PIECES 4
#define DATA_PIECE_MIN 512
#define RX_BYTES (1u << 20)
#define LAT_SAMPLES (1u << 22)

struct message {
	unsigned npieces;
	size_t piece[MAX_PIECES];
	size_t bytes;
};

struct step {
	struct message request, answer;
};

struct options {
	unsigned qd;
	double seconds;
	bool poll, blocking, uring, mshot;
	size_t zerocopy_min; /* 0: never */
	int sockbuf;
	int server_cpu, client_cpu;
};

static struct step steps[MAX_STEPS];
static unsigned nsteps;
static struct options opt = {.qd = 32, .seconds = 5, .server_cpu = 0, .client_cpu = 1};
/* What data pieces are sent from; headers come from hdr (byte 0: the step). */
static uint8_t *data;
static uint8_t hdr[MAX_STEPS][256];

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(int who)
{
	struct rusage ru;
	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("sched_setaffinity");
}

static void tune(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opt.sockbuf) {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &opt.sockbuf, sizeof(opt.sockbuf));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opt.sockbuf, sizeof(opt.sockbuf));
	}
	if (opt.zerocopy_min && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		perror("SO_ZEROCOPY");
}

/* "72:24+131072+24,..." -> steps */
static int parse_exchange(const char *spec)
{
	nsteps = 0;
	const char *p = spec;
	while (*p) {
		if (nsteps == MAX_STEPS)
			return -1;
		struct step *s = &steps[nsteps++];
		memset(s, 0, sizeof(*s));
		struct message *m = &s->request;
		for (;;) {
			char *end;
			unsigned long long v = strtoull(p, &end, 10);
			if (end == p || !v || m->npieces == MAX_PIECES || v > MAX_MESSAGE)
				return -1;
			m->piece[m->npieces++] = v;
			m->bytes += v;
			p = end;
			if (*p == '+') {
				p++;
			} else if (*p == ':' && m == &s->request) {
				m = &s->answer;
				p++;
			} else if ((*p == ',' || !*p) && m == &s->answer) {
				if (*p)
					p++;
				break;
			} else {
				return -1;
			}
		}
		if (s->request.bytes > MAX_MESSAGE || s->answer.bytes > MAX_MESSAGE)
			return -1;
	}
	return nsteps ? 0 : -1;
}

/* ---- the outgoing queue both sides share: a ring of iovecs ---- */

struct txq {
	struct iovec *iov;
	unsigned cap, head, count;
	size_t head_sent;
	uint64_t zc_sends, zc_done; /* MSG_ZEROCOPY sends made and completed */
	uint64_t zc_copied;         /* of those, the ones the kernel copied anyway */
	uint64_t notifications;     /* error-queue messages read */
};

static void txq_init(struct txq *q)
{
	q->cap = MAX_QD * MAX_PIECES * 2;
	q->iov = calloc(q->cap, sizeof(*q->iov));
	if (!q->iov)
		abort();
}

static void txq_push(struct txq *q, const struct message *m, unsigned step)
{
	size_t offset = 0;
	for (unsigned i = 0; i < m->npieces; i++) {
		size_t len = m->piece[i];
		void *base = len >= DATA_PIECE_MIN ? data + offset : hdr[step];
		if (len >= DATA_PIECE_MIN)
			offset += len;
		q->iov[(q->head + q->count++) % q->cap] = (struct iovec){base, len};
	}
}

static void txq_consume(struct txq *q, size_t sent)
{
	while (sent) {
		size_t left = q->iov[q->head].iov_len - q->head_sent;
		if (sent < left) {
			q->head_sent += sent;
			return;
		}
		sent -= left;
		q->head_sent = 0;
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
}

/* The queued iovecs from the unsent byte on; returns how many (at most IOV_MAX). */
static int txq_gather(const struct txq *q, struct iovec *out, bool *large)
{
	int n = 0;
	*large = false;
	for (unsigned i = 0; i < q->count && n < IOV_MAX; i++, n++) {
		out[n] = q->iov[(q->head + i) % q->cap];
		if (opt.zerocopy_min && out[n].iov_len >= opt.zerocopy_min)
			*large = true;
	}
	out[0].iov_base = (char *)out[0].iov_base + q->head_sent;
	out[0].iov_len -= q->head_sent;
	return n;
}

/* Reads MSG_ZEROCOPY completions: each message covers a range of sends. */
static void read_notifications(int fd, struct txq *q)
{
	for (;;) {
		char control[128];
		struct msghdr msg = {.msg_control = control, .msg_controllen = sizeof(control)};
		if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		q->notifications++;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			struct sock_extended_err *ee = (void *)CMSG_DATA(c);
			if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY)
				continue;
			q->zc_done += ee->ee_data - ee->ee_info + 1;
			/* The kernel copied after all (e.g. a local peer): the pages were not sent from. */
			if (ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
				q->zc_copied += ee->ee_data - ee->ee_info + 1;
		}
	}
}

/* Sends what the socket takes; returns -1 on a broken connection, else 0. */
static int txq_flush(int fd, struct txq *q)
{
	struct iovec iov[IOV_MAX];
	while (q->count) {
		bool large;
		int n = txq_gather(q, iov, &large);
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		int flags =
		    MSG_NOSIGNAL | (opt.blocking ? 0 : MSG_DONTWAIT) | (large ? MSG_ZEROCOPY : 0);
		ssize_t sent = sendmsg(fd, &msg, flags);
		if (sent < 0) {
			if (errno == ENOBUFS && large) {
				/* Too many notifications unread: read them and retry. */
				read_notifications(fd, q);
				continue;
			}
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		if (large)
			q->zc_sends++;
		txq_consume(q, (size_t)sent);
	}
	return 0;
}

/* ---- waiting: epoll (sleeping or spinning) or blocking calls ---- */

struct waiter {
	int fd, epfd;
	bool want_out;
};

static void waiter_init(struct waiter *w, int fd)
{
	w->fd = fd;
	w->epfd = -1;
	if (opt.blocking)
		return;
	w->epfd = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
	w->want_out = false;
}

/* Waits for input, or for room to send while out is pending. */
static void waiter_wait(struct waiter *w, bool out_pending)
{
	if (opt.blocking)
		return; /* recv blocks (or spins with MSG_DONTWAIT), send blocks */
	if (out_pending != w->want_out) {
		struct epoll_event ev = {.events = EPOLLIN | (out_pending ? EPOLLOUT : 0)};
		epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->fd, &ev);
		w->want_out = out_pending;
	}
	struct epoll_event ev;
	while (epoll_wait(w->epfd, &ev, 1, opt.poll ? 0 : -1) == 0)
		;
}

/*
 * One recv: returns the bytes read (0: the peer closed), -1 on an error, or -2
 * when the socket is drained (epoll only: blocking calls wait or spin instead).
 */
static ssize_t receive(int fd, void *buf, size_t len)
{
	int flags = opt.blocking && !opt.poll ? 0 : MSG_DONTWAIT;
	for (;;) {
		ssize_t n = recv(fd, buf, len, flags);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		if (!opt.blocking)
			return -2;
	}
}

/* ---- server ---- */

struct server {
	int fd;
	struct txq tx;
	uint8_t *rx;
	int step;    /* of the request being received; -1 before its first byte */
	size_t left; /* bytes of it still to come */
};

/* Walks received bytes, queueing an answer for every request completed. */
static int server_consume(struct server *s, const uint8_t *p, size_t n)
{
	while (n) {
		if (s->step < 0) {
			if (*p >= nsteps)
				return -1;
			s->step = *p;
			s->left = steps[s->step].request.bytes;
		}
		size_t take = n < s->left ? n : s->left;
		p += take;
		n -= take;
		s->left -= take;
		if (!s->left) {
			txq_push(&s->tx, &steps[s->step].answer, (unsigned)s->step);
			s->step = -1;
		}
	}
	return 0;
}

static void serve(struct server *s)
{
	struct waiter w;
	waiter_init(&w, s->fd);
	for (;;) {
		waiter_wait(&w, s->tx.count != 0);
		/* Take in everything there is, then answer the batch with one send. */
		for (;;) {
			ssize_t n = receive(s->fd, s->rx, RX_BYTES);
			if (n == -2)
				break;
			if (n <= 0 || server_consume(s, s->rx, (size_t)n))
				return;
			if ((size_t)n < RX_BYTES)
				break;
		}
		if (txq_flush(s->fd, &s->tx))
			return;
		if (opt.zerocopy_min)
			read_notifications(s->fd, &s->tx);
	}
}

/*
 * The same server on io_uring: a receive always armed, at most one gathered
 * send in flight (so the stream stays in order), one io_uring_enter per pass.
 */
static void serve_uring(struct server *s)
{
	static struct iovec iov[IOV_MAX];
	struct io_uring ring;
	if (io_uring_queue_init(16, &ring, 0))
		return;
	struct msghdr msg = {.msg_iov = iov};
	bool receiving = false, sending = false, zc = false;
	for (;;) {
		struct io_uring_sqe *sqe;
		if (!receiving) {
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_recv(sqe, s->fd, s->rx, RX_BYTES, 0);
			sqe->user_data = 0;
			receiving = true;
		}
		if (!sending && s->tx.count) {
			msg.msg_iovlen = (size_t)txq_gather(&s->tx, iov, &zc);
			sqe = io_uring_get_sqe(&ring);
			if (zc)
				io_uring_prep_sendmsg_zc(sqe, s->fd, &msg, MSG_NOSIGNAL);
			else
				io_uring_prep_sendmsg(sqe, s->fd, &msg, MSG_NOSIGNAL);
			sqe->user_data = 1;
			sending = true;
		}
		int rc = opt.poll ? io_uring_submit(&ring) : io_uring_submit_and_wait(&ring, 1);
		if (rc < 0)
			break;
		struct io_uring_cqe *cqe;
		while ((rc = io_uring_peek_cqe(&ring, &cqe)) == -EAGAIN && opt.poll)
			;
		if (rc)
			break;
		unsigned head, seen = 0;
		bool done = false;
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			seen++;
			if (cqe->flags & IORING_CQE_F_NOTIF) {
				/* A zero-copy send's buffers are free again. */
				s->tx.notifications++;
				s->tx.zc_done++;
			} else if (cqe->user_data == 1) {
				sending = false;
				if (cqe->res < 0) {
					done = true;
				} else {
					s->tx.zc_sends += zc;
					txq_consume(&s->tx, (size_t)cqe->res);
				}
			} else {
				receiving = false;
				if (cqe->res <= 0 || server_consume(s, s->rx, (size_t)cqe->res))
					done = true;
			}
		}
		io_uring_cq_advance(&ring, seen);
		if (done)
			break;
	}
	io_uring_queue_exit(&ring);
}

#define MSHOT_BUFS 64
#define MSHOT_BUF_BYTES (64u * 1024)
#define MSHOT_GROUP 1

/* Receive with one multishot recv and a ring of provided buffers; send from a registered buffer. */
static void serve_uring_mshot(struct server *s)
{
	static uint8_t in[MSHOT_BUFS][MSHOT_BUF_BYTES];
	size_t request_bytes = steps[0].request.bytes, answer_bytes = steps[0].answer.bytes;
	struct io_uring ring;
	if (io_uring_queue_init(64, &ring, 0))
		return;
	/* Answers are sent straight from one registered buffer holding MAX_QD of them. */
	size_t answers_len = (size_t)MAX_QD * answer_bytes;
	uint8_t *answers = calloc(1, answers_len);
	struct iovec reg = {answers, answers_len};
	struct io_uring_buf_ring *br = NULL;
	if (!answers || posix_memalign((void **)&br, 4096, MSHOT_BUFS * sizeof(struct io_uring_buf)) ||
	    io_uring_register_buffers(&ring, &reg, 1))
		goto out;
	io_uring_buf_ring_init(br);
	struct io_uring_buf_reg ring_reg = {.ring_addr = (uintptr_t)br, .ring_entries = MSHOT_BUFS,
					    .bgid = MSHOT_GROUP};
	if (io_uring_register_buf_ring(&ring, &ring_reg, 0))
		goto out;
	int mask = io_uring_buf_ring_mask(MSHOT_BUFS);
	for (int i = 0; i < MSHOT_BUFS; i++)
		io_uring_buf_ring_add(br, in[i], MSHOT_BUF_BYTES, (unsigned short)i, mask, i);
	io_uring_buf_ring_advance(br, MSHOT_BUFS);

	bool armed = false, sending = false;
	size_t have = 0, owed = 0; /* answers not yet handed to a send */
	size_t send_left = 0;	   /* bytes of the send in flight */
	for (;;) {
		struct io_uring_sqe *sqe;
		if (!armed) {
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_recv_multishot(sqe, s->fd, NULL, 0, 0);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = MSHOT_GROUP;
			sqe->user_data = 0;
			armed = true;
		}
		if (!sending && owed) {
			size_t n = owed < MAX_QD ? owed : MAX_QD;
			send_left = n * answer_bytes;
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_write_fixed(sqe, s->fd, answers, (unsigned)send_left, 0, 0);
			sqe->user_data = 1;
			owed -= n;
			sending = true;
		}
		int rc = opt.poll ? io_uring_submit(&ring) : io_uring_submit_and_wait(&ring, 1);
		if (rc < 0)
			break;
		struct io_uring_cqe *cqe;
		while ((rc = io_uring_peek_cqe(&ring, &cqe)) == -EAGAIN && opt.poll)
			;
		if (rc)
			break;
		unsigned head, seen = 0;
		bool done = false;
		io_uring_for_each_cqe(&ring, head, cqe) {
			seen++;
			if (cqe->user_data == 1) {
				/* A short send must finish before any later answer goes out. */
				if (cqe->res <= 0 || (size_t)cqe->res != send_left) {
					done = true;
					break;
				}
				sending = false;
				continue;
			}
			if (!(cqe->flags & IORING_CQE_F_MORE))
				armed = false;
			if (cqe->res <= 0) {
				if (cqe->res != -ENOBUFS)
					done = true;
				continue;
			}
			have += (size_t)cqe->res;
			owed += have / request_bytes;
			have %= request_bytes;
			unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
			io_uring_buf_ring_add(br, in[bid], MSHOT_BUF_BYTES, (unsigned short)bid, mask, 0);
			io_uring_buf_ring_advance(br, 1);
		}
		io_uring_cq_advance(&ring, seen);
		if (done)
			break;
	}
out:
	io_uring_queue_exit(&ring);
	free(br);
	free(answers);
}

/* ---- client ---- */

struct result {
	uint64_t ops;
	double mean_us, p50_us, p99_us;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

struct client {
	int fd;
	struct txq tx;
	uint64_t started[MAX_QD];
	uint8_t step[MAX_QD];
	unsigned fifo[MAX_QD]; /* slots in the order their messages were sent */
	unsigned fifo_head, outstanding;
	size_t partial; /* bytes of the oldest answer received so far */
};

static void client_send(struct client *c, unsigned slot, unsigned step, uint64_t t)
{
	if (step == 0)
		c->started[slot] = t;
	c->step[slot] = (uint8_t)step;
	txq_push(&c->tx, &steps[step].request, step);
	c->fifo[(c->fifo_head + c->outstanding++) % opt.qd] = slot;
}

static int run_client(int fd, struct result *res)
{
	static struct client c;
	uint8_t *in = malloc(RX_BYTES);
	uint32_t *lat = malloc(LAT_SAMPLES * sizeof(*lat));
	if (!in || !lat)
		return -1;
	memset(&c, 0, sizeof(c));
	c.fd = fd;
	txq_init(&c.tx);
	struct waiter w;
	waiter_init(&w, fd);
	uint64_t done = 0, lat_sum = 0, samples = 0;
	uint64_t t = now_ns(), end = t + (uint64_t)(opt.seconds * 1e9);
	for (unsigned slot = 0; slot < opt.qd; slot++)
		client_send(&c, slot, 0, t);
	int rc = 0;
	while (c.outstanding) {
		if (txq_flush(fd, &c.tx)) {
			rc = -1;
			break;
		}
		waiter_wait(&w, c.tx.count != 0);
		ssize_t n = receive(fd, in, RX_BYTES);
		if (n == -2)
			continue;
		if (n <= 0) {
			rc = -1;
			break;
		}
		t = now_ns();
		c.partial += (size_t)n;
		for (;;) {
			unsigned slot = c.fifo[c.fifo_head];
			unsigned step = c.step[slot];
			size_t need = steps[step].answer.bytes;
			if (!c.outstanding || c.partial < need)
				break;
			c.partial -= need;
			c.fifo_head = (c.fifo_head + 1) % opt.qd;
			c.outstanding--;
			if (step + 1 < nsteps) {
				client_send(&c, slot, step + 1, t);
				continue;
			}
			uint64_t l = t - c.started[slot];
			done++;
			lat_sum += l;
			if (samples < LAT_SAMPLES)
				lat[samples++] = (uint32_t)(l > UINT32_MAX ? UINT32_MAX : l);
			if (t < end)
				client_send(&c, slot, 0, t);
		}
	}
	qsort(lat, samples, sizeof(*lat), cmp_u32);
	res->ops = done;
	res->mean_us = done ? (double)lat_sum / (double)done / 1000.0 : 0;
	res->p50_us = samples ? lat[samples / 2] / 1000.0 : 0;
	res->p99_us = samples ? lat[samples * 99 / 100] / 1000.0 : 0;
	free(lat);
	free(in);
	return rc;
}

/* The server's own counters go back to the client over a pipe. */
struct server_report {
	double cpu_s;
	uint64_t zc_sends, zc_done, zc_copied, notifications;
};

static void run_server(int listener, int report_fd)
{
	pin(opt.server_cpu);
	static struct server s;
	s.fd = accept(listener, NULL, NULL);
	s.rx = malloc(RX_BYTES);
	s.step = -1;
	txq_init(&s.tx);
	tune(s.fd);
	double cpu0 = cpu_seconds(RUSAGE_SELF);
	if (opt.mshot)
		serve_uring_mshot(&s);
	else if (opt.uring)
		serve_uring(&s);
	else
		serve(&s);
	if (opt.zerocopy_min) /* the last notifications: they are part of the cost */
		read_notifications(s.fd, &s.tx);
	struct server_report r = {cpu_seconds(RUSAGE_SELF) - cpu0, s.tx.zc_sends, s.tx.zc_done,
				  s.tx.zc_copied, s.tx.notifications};
	if (write(report_fd, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: nvemu-tcp-floor [--qd N] [--seconds S] [--exchange REQ:ANS[,REQ:ANS...]]\n"
		"                       [--poll] [--blocking] [--uring | --uring-mshot]\n"
		"                       [--zerocopy-min BYTES] [--sockbuf BYTES]\n"
		"                       [--server-cpu C] [--client-cpu C]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"qd", required_argument, NULL, 'q'},
	    {"seconds", required_argument, NULL, 't'},
	    {"exchange", required_argument, NULL, 'e'},
	    {"poll", no_argument, NULL, 'p'},
	    {"blocking", no_argument, NULL, 'b'},
	    {"uring", no_argument, NULL, 'u'},
	    {"uring-mshot", no_argument, NULL, 'm'},
	    {"zerocopy-min", required_argument, NULL, 'z'},
	    {"sockbuf", required_argument, NULL, 'k'},
	    {"server-cpu", required_argument, NULL, 's'},
	    {"client-cpu", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	const char *exchange = "72:24+4096+24";
	int ch;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			opt.qd = (unsigned)atoi(optarg);
			break;
		case 't':
			opt.seconds = atof(optarg);
			break;
		case 'e':
			exchange = optarg;
			break;
		case 'p':
			opt.poll = true;
			break;
		case 'b':
			opt.blocking = true;
			break;
		case 'u':
			opt.uring = true;
			break;
		case 'm':
			opt.mshot = true;
			break;
		case 'z':
			opt.zerocopy_min = strtoul(optarg, NULL, 10);
			break;
		case 'k':
			opt.sockbuf = atoi(optarg);
			break;
		case 's':
			opt.server_cpu = atoi(optarg);
			break;
		case 'c':
			opt.client_cpu = atoi(optarg);
			break;
		default:
			usage();
			return 2;
		}
	}
	if (opt.qd < 1 || opt.qd > MAX_QD || opt.seconds <= 0 || parse_exchange(exchange) ||
	    (opt.mshot && (nsteps != 1 || opt.zerocopy_min)) || (opt.uring && opt.blocking)) {
		fprintf(stderr,
			"nvemu-tcp-floor: qd must be 1..%d, seconds > 0, an exchange of up to "
			"%d steps of up to %d pieces (--uring-mshot: one step, no zero-copy)\n",
			MAX_QD, MAX_STEPS, MAX_PIECES);
		usage();
		return 2;
	}
	/* Real pages (not the shared zero page), as a target's data would be. */
	data = malloc(MAX_MESSAGE);
	if (!data)
		return 1;
	memset(data, 0xa5, MAX_MESSAGE);
	for (unsigned i = 0; i < MAX_STEPS; i++)
		hdr[i][0] = (uint8_t)i;

	int listener = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	int report[2];
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(listener, 1) || getsockname(listener, (struct sockaddr *)&addr, &len) ||
	    pipe(report)) {
		perror("nvemu-tcp-floor: listen");
		return 1;
	}
	pid_t server = fork();
	if (server == 0) {
		close(report[0]);
		run_server(listener, report[1]);
	}
	close(report[1]);
	close(listener);
	pin(opt.client_cpu);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0)
		tune(fd);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("nvemu-tcp-floor: connect");
		kill(server, SIGKILL);
		return 1;
	}
	struct result res;
	double client_cpu0 = cpu_seconds(RUSAGE_SELF);
	uint64_t start = now_ns();
	int rc = run_client(fd, &res);
	double elapsed = (double)(now_ns() - start) / 1e9;
	double client_cpu = cpu_seconds(RUSAGE_SELF) - client_cpu0;
	shutdown(fd, SHUT_RDWR);
	close(fd);
	struct server_report sr = {0};
	if (read(report[0], &sr, sizeof(sr)) != sizeof(sr))
		rc = -1;
	int status;
	waitpid(server, &status, 0);
	if (rc) {
		fprintf(stderr, "nvemu-tcp-floor: the connection failed\n");
		return 1;
	}
	double ops = res.ops ? (double)res.ops : 1;
	printf(
	    "{\"server\":\"%s\",\"exchange\":\"%s\",\"qd\":%u,\"poll\":%s,\"seconds\":%.3f,"
	    "\"ios\":%llu,\"iops\":%.0f,\"lat_us\":{\"mean\":%.2f,\"p50\":%.2f,\"p99\":%.2f},"
	    "\"server_cpu_us_per_op\":%.3f,\"client_cpu_us_per_op\":%.3f,"
	    "\"zerocopy_sends\":%llu,\"zerocopy_completed\":%llu,\"zerocopy_copied\":%llu,\"notifications\":%llu}\n",
	    opt.mshot      ? "io_uring-multishot"
	    : opt.uring    ? "io_uring"
	    : opt.blocking ? "blocking"
			   : "epoll",
	    exchange, opt.qd, opt.poll ? "true" : "false", elapsed, (unsigned long long)res.ops,
	    res.ops / elapsed, res.mean_us, res.p50_us, res.p99_us, sr.cpu_s * 1e6 / ops,
	    client_cpu * 1e6 / ops, (unsigned long long)sr.zc_sends, (unsigned long long)sr.zc_done,
	    (unsigned long long)sr.zc_copied, (unsigned long long)sr.notifications);
	return 0;
}
