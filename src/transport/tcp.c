/* Listening, handing connections to reactors, and sweeping dead ones. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/conn.h"
#include "util/log.h"
#include "util/util.h"

#define SWEEP_INTERVAL_NS (100ull * 1000000ull)

struct handoff {
	struct tcp_worker *worker;
	int fd;
};

static void adopt(struct tcp_worker *worker, int fd)
{
	if (!tcp_conn_create(worker, fd)) {
		log_error("out of memory for a new connection; refusing it");
		close(fd);
	}
}

static void adopt_posted(void *arg)
{
	struct handoff *h = arg;
	adopt(h->worker, h->fd);
	free(h);
}

static void on_accept(struct reactor_fd *rfd, uint32_t events)
{
	(void)events;
	struct tcp_transport *t = container_of(rfd, struct tcp_transport, listener);
	for (;;) {
		int fd = accept4(rfd->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		struct tcp_worker *worker = &t->workers[t->next_worker++ % t->params.nreactors];
		if (worker->reactor == reactor_current()) {
			adopt(worker, fd);
			continue;
		}
		struct handoff *h = malloc(sizeof(*h));
		if (h) {
			h->worker = worker;
			h->fd = fd;
		}
		if (!h || reactor_post(worker->reactor, adopt_posted, h) < 0) {
			free(h);
			close(fd);
			log_error("could not hand a connection to reactor %u", reactor_id(worker->reactor));
		}
	}
}

/* Closes queues whose controller went away and hosts that never said hello. */
static void sweep(struct reactor_timer *timer)
{
	struct tcp_worker *worker = container_of(timer, struct tcp_worker, sweep);
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
	}
	reactor_timer_arm(worker->reactor, timer, now + SWEEP_INTERVAL_NS);
}

static void start_sweep(void *arg)
{
	struct tcp_worker *worker = arg;
	reactor_timer_arm(worker->reactor, &worker->sweep, clock_now_ns() + SWEEP_INTERVAL_NS);
}

static int listen_on(const char *addr, uint16_t port, char *err, size_t errlen)
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
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		snprintf(err, errlen, "cannot listen on %s port %u: %s", addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
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
	t->workers = calloc(params->nreactors, sizeof(*t->workers));
	if (!t->workers) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->listener.fd = listen_on(params->addr, params->port, err, errlen);
	if (t->listener.fd < 0) {
		free(t->workers);
		free(t);
		return NULL;
	}
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
		close(t->listener.fd);
		free(t->workers);
		free(t);
		return NULL;
	}
	return t;
}

void tcp_transport_destroy(struct tcp_transport *t)
{
	if (!t)
		return;
	close(t->listener.fd);
	for (unsigned i = 0; i < t->params.nreactors; i++)
		while (t->workers[i].conns)
			tcp_conn_destroy_now(t->workers[i].conns);
	free(t->workers);
	free(t);
}
