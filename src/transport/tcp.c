/* Listening, handing connections to reactors, and sweeping dead ones. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/conn.h"
#include "util/crc32c.h"
#include "util/log.h"
#include "util/util.h"

#define SWEEP_INTERVAL_NS (100ull * 1000000ull)
#define PEER_BUCKETS 1024

/* The connections of one peer address that have no usable queue yet. */
struct tcp_peer {
	struct tcp_peer *next;
	unsigned count;
	uint8_t family;
	uint8_t addr[16];
};

/* The peer entry of the address in ss, counting one more connection; NULL when the address
 * has as many as the limit allows already (or no memory is left for its entry). */
static struct tcp_peer *peer_take(struct tcp_transport *t, const struct sockaddr_storage *ss)
{
	uint8_t addr[16] = {0};
	uint8_t family = (uint8_t)ss->ss_family;
	if (ss->ss_family == AF_INET)
		memcpy(addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else if (ss->ss_family == AF_INET6)
		memcpy(addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	uint32_t hash = crc32c(addr, sizeof(addr)) % PEER_BUCKETS;
	struct tcp_peer *peer = NULL;
	pthread_mutex_lock(&t->peers_lock);
	for (peer = t->peers[hash]; peer; peer = peer->next)
		if (peer->family == family && !memcmp(peer->addr, addr, sizeof(addr)))
			break;
	if (!peer && (peer = calloc(1, sizeof(*peer)))) {
		peer->family = family;
		memcpy(peer->addr, addr, sizeof(addr));
		peer->next = t->peers[hash];
		t->peers[hash] = peer;
	}
	unsigned limit = t->params.max_unconnected_per_address;
	if (peer && limit && peer->count >= limit)
		peer = NULL;
	else if (peer)
		peer->count++;
	pthread_mutex_unlock(&t->peers_lock);
	return peer;
}

void tcp_peer_release(struct tcp_transport *t, struct tcp_peer *peer)
{
	pthread_mutex_lock(&t->peers_lock);
	if (--peer->count == 0) {
		uint32_t hash = crc32c(peer->addr, sizeof(peer->addr)) % PEER_BUCKETS;
		for (struct tcp_peer **p = &t->peers[hash]; *p; p = &(*p)->next) {
			if (*p == peer) {
				*p = peer->next;
				free(peer);
				break;
			}
		}
	}
	pthread_mutex_unlock(&t->peers_lock);
}

struct handoff {
	struct tcp_worker *worker;
	int fd;
	struct tcp_peer *peer;
};

static bool link_down(const struct tcp_transport *t)
{
	return clock_now_ns() < atomic_load(&t->down_until_ns);
}

static void adopt(struct tcp_worker *worker, int fd, struct tcp_peer *peer)
{
	if (link_down(worker->transport)) { /* the host retries later */
		tcp_peer_release(worker->transport, peer);
		close(fd);
		return;
	}
	if (!tcp_conn_create(worker, fd, peer)) {
		log_error("out of memory for a new connection; refusing it");
		tcp_peer_release(worker->transport, peer);
		close(fd);
	}
}

static void adopt_posted(void *arg)
{
	struct handoff *h = arg;
	adopt(h->worker, h->fd, h->peer);
	free(h);
}

static void format_address(const struct sockaddr_storage *ss, char *out, size_t len)
{
	snprintf(out, len, "?");
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out,
			  (socklen_t)len);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, out,
			  (socklen_t)len);
}

/* Out of file descriptors: the listener stays readable, so take the pending connection with
 * the spare descriptor and close it, rather than spin on it. */
static void shed_one(struct tcp_transport *t)
{
	log_once(&t->fd_limit_logged, "out of file descriptors: closing new connections at once");
	if (t->spare_fd < 0)
		return;
	close(t->spare_fd);
	int fd = accept4(t->listener.fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	t->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void on_accept(struct reactor_fd *rfd, uint32_t events)
{
	(void)events;
	struct tcp_transport *t = container_of(rfd, struct tcp_transport, listener);
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		int fd =
		    accept4(rfd->fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				shed_one(t);
			else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		/* Over a limit: closed before its ICReq, other hosts unaffected. */
		unsigned max = t->params.max_connections;
		if (max && atomic_load(&t->nconns) >= max) {
			log_once(
			    &t->conn_limit_logged,
			    "%u connections open (--max-connections): closing new ones at once",
			    max);
			close(fd);
			continue;
		}
		struct tcp_peer *peer = peer_take(t, &ss);
		if (!peer) {
			char addr[INET6_ADDRSTRLEN];
			format_address(&ss, addr, sizeof(addr));
			log_once(
			    &t->peer_limit_logged,
			    "%s has %u connections without a queue (--max-unconnected-per-address): "
			    "closing its new ones at once",
			    addr, t->params.max_unconnected_per_address);
			close(fd);
			continue;
		}
		struct tcp_worker *worker = &t->workers[t->next_worker++ % t->params.nreactors];
		if (worker->reactor == reactor_current()) {
			adopt(worker, fd, peer);
			continue;
		}
		struct handoff *h = malloc(sizeof(*h));
		if (h)
			*h = (struct handoff){.worker = worker, .fd = fd, .peer = peer};
		if (!h || reactor_post(worker->reactor, adopt_posted, h) < 0) {
			free(h);
			close(fd);
			tcp_peer_release(t, peer);
			log_error("could not hand a connection to reactor %u", reactor_id(worker->reactor));
		}
	}
}

/* True once a host stopped in the middle of a PDU for longer than the PDU timeout. */
static bool stalled(struct tcp_conn *conn, uint64_t now, uint64_t timeout_ns)
{
	if (!tcp_conn_mid_pdu(conn) || conn->rx_bytes != conn->sweep_rx_bytes) {
		conn->sweep_rx_bytes = conn->rx_bytes;
		conn->stalled_since_ns = 0;
		return false;
	}
	if (!conn->stalled_since_ns)
		conn->stalled_since_ns = now;
	return now - conn->stalled_since_ns > timeout_ns;
}

/*
 * Closes queues whose controller went away or that failed to authenticate, hosts that never
 * said hello or never got a usable queue, and hosts that stopped in the middle of a PDU
 * (whatever their keep-alive: KATO 0 would otherwise keep them forever).
 */
static void sweep(struct reactor_timer *timer)
{
	struct tcp_worker *worker = container_of(timer, struct tcp_worker, sweep);
	const struct tcp_transport_params *p = &worker->transport->params;
	uint64_t now = clock_now_ns();
	struct tcp_conn *next;
	for (struct tcp_conn *conn = worker->conns; conn; conn = next) {
		next = conn->next;
		if (nvme_sq_orphaned(&conn->sq))
			tcp_conn_close(conn, NULL);
		else if (conn->state == CONN_AWAIT_ICREQ && now - conn->accepted_ns > TCP_ICREQ_TIMEOUT_NS)
			tcp_conn_close(conn, "no ICReq within 10 s");
		else if (conn->close_when_sent && now - conn->fatal_at_ns > TCP_TERM_TIMEOUT_NS)
			tcp_conn_close(conn, "the host did not read our termination request");
		else if (p->setup_timeout_ms && conn->state == CONN_LIVE &&
			 !nvme_sq_ready(&conn->sq) &&
			 now - conn->accepted_ns > p->setup_timeout_ms * 1000000ull)
			tcp_conn_close(conn, "no usable queue (Connect, authentication) in time");
		else if (p->pdu_timeout_ms && stalled(conn, now, p->pdu_timeout_ms * 1000000ull))
			tcp_conn_close(conn, "the host stopped in the middle of a PDU");
	}
	reactor_timer_arm(worker->reactor, timer, now + SWEEP_INTERVAL_NS);
}

static void start_sweep(void *arg)
{
	struct tcp_worker *worker = arg;
	reactor_timer_arm(worker->reactor, &worker->sweep, clock_now_ns() + SWEEP_INTERVAL_NS);
}

/*
 * BBR, a common default, paces each connection's sends by its bandwidth estimate: on a
 * local link that held 128 KiB reads to two thirds of what the same sends make unpaced
 * (docs/benchmarks.md), and the host then waits for data in small pieces.
 */
static int set_congestion(int fd, const char *name, char *err, size_t errlen)
{
	int rc = socket_set_congestion(fd, name);
	if (rc == 1)
		log_warn("TCP congestion control '%s' is not allowed for this user "
			 "(net.ipv4.tcp_allowed_congestion_control): the kernel's default stays",
			 name);
	if (rc >= 0)
		return 0;
	return errorf(err, errlen,
		      "TCP congestion control '%s': %s (the kernel has those in "
		      "/proc/sys/net/ipv4/tcp_available_congestion_control; 'system' keeps its default)",
		      name, strerror(-rc));
}

static int listen_on(const char *addr, uint16_t port, const char *congestion, char *err,
		     size_t errlen)
{
	char service[8];
	snprintf(service, sizeof(service), "%u", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai;
	int rc = getaddrinfo(addr, service, &hints, &ai);
	if (rc)
		return errorf(err, errlen, "listen address '%s': %s", addr, gai_strerror(rc));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd >= 0 && set_congestion(fd, congestion, err, errlen)) {
		close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	/* The kernel caps the backlog at net.core.somaxconn: as long a queue as the system allows,
	 * so that a burst of connects is not answered by dropped SYNs and 1 s retries. */
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, INT_MAX) < 0) {
		snprintf(err, errlen, "cannot listen on %s port %u: %s", addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* What tcp_transport_create set up, in reverse; connections are gone already. */
static void transport_free(struct tcp_transport *t)
{
	if (t->listener.fd >= 0)
		close(t->listener.fd);
	if (t->spare_fd >= 0)
		close(t->spare_fd);
	for (size_t i = 0; t->peers && i < PEER_BUCKETS; i++) {
		while (t->peers[i]) {
			struct tcp_peer *next = t->peers[i]->next;
			free(t->peers[i]);
			t->peers[i] = next;
		}
	}
	pthread_mutex_destroy(&t->peers_lock);
	free(t->peers);
	free(t->workers);
	free(t);
}

struct tcp_transport *tcp_transport_create(const struct tcp_transport_params *params, char *err,
					   size_t errlen)
{
	struct tcp_transport *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->params = *params;
	t->listener.fd = -1;
	pthread_mutex_init(&t->peers_lock, NULL);
	t->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	t->workers = calloc(params->nreactors, sizeof(*t->workers));
	t->peers = calloc(PEER_BUCKETS, sizeof(*t->peers));
	if (!t->workers || !t->peers) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	t->listener.fd = listen_on(params->addr, params->port, params->congestion, err, errlen);
	if (t->listener.fd < 0)
		goto fail;
	t->listener.on_event = on_accept;
	for (unsigned i = 0; i < params->nreactors; i++) {
		struct tcp_worker *worker = &t->workers[i];
		worker->transport = t;
		worker->reactor = params->reactors[i];
		worker->sweep.fire = sweep;
		reactor_post(worker->reactor, start_sweep, worker);
	}
	if (reactor_add_fd(params->reactors[0], &t->listener, EPOLLIN) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		goto fail;
	}
	return t;
fail:
	transport_free(t);
	return NULL;
}

struct power_cut {
	pthread_mutex_t lock;
	pthread_cond_t done;
	unsigned remaining; /* reactors still dropping their connections */
};

struct power_cut_task {
	struct tcp_worker *worker;
	struct power_cut *cut;
};

/* On each reactor: its connections drop, and the file I/O they had in flight lands. */
static void cut_reactor(void *arg)
{
	struct power_cut_task *task = arg;
	struct tcp_worker *worker = task->worker;
	while (worker->conns)
		tcp_conn_close(worker->conns, "power cut");
	reactor_io_drain(worker->reactor);
	pthread_mutex_lock(&task->cut->lock);
	if (--task->cut->remaining == 0)
		pthread_cond_signal(&task->cut->done);
	pthread_mutex_unlock(&task->cut->lock);
}

void tcp_transport_power_cut(struct tcp_transport *t, uint64_t up_ns)
{
	atomic_store(&t->down_until_ns, up_ns);
	unsigned n = t->params.nreactors;
	struct power_cut cut = {.remaining = n};
	struct power_cut_task *tasks = calloc(n, sizeof(*tasks));
	if (!tasks)
		return;
	pthread_mutex_init(&cut.lock, NULL);
	pthread_cond_init(&cut.done, NULL);
	for (unsigned i = 0; i < n; i++) {
		tasks[i] = (struct power_cut_task){&t->workers[i], &cut};
		if (reactor_post(t->workers[i].reactor, cut_reactor, &tasks[i])) {
			pthread_mutex_lock(&cut.lock);
			cut.remaining--;
			pthread_mutex_unlock(&cut.lock);
		}
	}
	pthread_mutex_lock(&cut.lock);
	while (cut.remaining)
		pthread_cond_wait(&cut.done, &cut.lock);
	pthread_mutex_unlock(&cut.lock);
	pthread_mutex_destroy(&cut.lock);
	pthread_cond_destroy(&cut.done);
	free(tasks);
}

/* On each reactor: its own connections drop. */
static void drop_reactor(void *arg)
{
	struct tcp_worker *worker = arg;
	while (worker->conns)
		tcp_conn_close(worker->conns, "link dropped by a fault");
}

void tcp_transport_drop_connections(struct tcp_transport *t, uint64_t down_ms)
{
	atomic_store(&t->down_until_ns, clock_now_ns() + down_ms * 1000000ull);
	for (unsigned i = 0; i < t->params.nreactors; i++)
		if (reactor_post(t->workers[i].reactor, drop_reactor, &t->workers[i]))
			log_error("cannot reach reactor %u to drop its connections", i);
}

void tcp_transport_destroy(struct tcp_transport *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->params.nreactors; i++) {
		while (t->workers[i].conns)
			tcp_conn_destroy_now(t->workers[i].conns);
		while (t->workers[i].closing)
			tcp_conn_free_closing(t->workers[i].closing);
		tcp_worker_drop_spares(&t->workers[i]);
	}
	transport_free(t);
}
