/*
 * The statistics thread: the control socket (one request line per
 * connection), loopback HTTP, rate sampling, trace draining and the time
 * series.  Clients are served one at a time with 1 s socket timeouts: a stuck
 * client delays other clients, never a reactor.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/reactor.h"
#include "stats/internal.h"
#include "util/log.h"
#include "util/util.h"

#define TRACE_DRAIN_PERIOD_MS 10
#define REQUEST_MAX 4096

void stats_default_control_path(uint16_t port, char *out, size_t outlen)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	if (xdg && *xdg && (size_t)snprintf(dir, sizeof(dir), "%s/nvemu", xdg) < sizeof(dir) - 12 &&
	    (mkdir(dir, 0700) == 0 || errno == EEXIST) && access(dir, W_OK | X_OK) == 0) {
		snprintf(out, outlen, "%s/%u.sock", dir, port);
		return;
	}
	snprintf(out, outlen, "/tmp/nvemu-%u.sock", port);
}

static int listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path))
		return errorf(err, errlen, "control socket path '%s' is too long", path);
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errorf(err, errlen, "socket: %s", strerror(errno));
	/* A socket file nobody answers on is left over from a daemon that died: replace it. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		snprintf(err, errlen, "another nvemu answers on %s", path);
		close(fd);
		return -1;
	}
	if (errno == ECONNREFUSED)
		unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || chmod(path, 0600) || listen(fd, 16)) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int listen_http(uint16_t port, char *err, size_t errlen)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 16)) {
		snprintf(err, errlen, "HTTP on 127.0.0.1:%u: %s", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static char *render(struct stats *st, bool prometheus)
{
	struct stats_snapshot snap;
	if (stats_snapshot_take(st, &snap))
		return NULL;
	char *text = prometheus ? stats_render_prometheus(&snap) : stats_render_json(&snap, false);
	stats_snapshot_free(&snap);
	return text;
}

char *stats_printed(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = NULL;
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	return text;
}

static char *trace_command(struct stats *st, char *args)
{
	char *save = NULL;
	const char *what = strtok_r(args, " \t", &save);
	const char *nsid_text = strtok_r(NULL, " \t", &save);
	uint64_t nsid = 0;
	if (!what || !nsid_text || parse_u64(nsid_text, 1, UINT32_MAX, &nsid, NULL, 0))
		return stats_printed("error: usage: trace on NSID FILE [json|text] [NQN] | trace off NSID [NQN]\n");
	if (strcmp(what, "off") == 0) {
		struct stats_ns *sns = stats_find_ns(st, (uint32_t)nsid, strtok_r(NULL, " \t", &save));
		if (!sns)
			return stats_printed("error: no namespace %lu\n", nsid);
		const char *path;
		uint64_t events, dropped;
		if (!stats_trace_active(sns, &path, &events, &dropped))
			return stats_printed("error: namespace %lu is not traced\n", nsid);
		stats_trace_stop(sns);
		stats_trace_active(sns, &path, &events, &dropped);
		return stats_printed("ok namespace %lu: %" PRIu64 " events written to %s, %" PRIu64 " dropped\n",
			       nsid, events, path, dropped);
	}
	if (strcmp(what, "on") != 0)
		return stats_printed("error: trace on or trace off, not '%s'\n", what);
	const char *path = strtok_r(NULL, " \t", &save);
	const char *format = strtok_r(NULL, " \t", &save);
	const char *nqn = strtok_r(NULL, " \t", &save);
	if (!path)
		return stats_printed("error: trace on NSID FILE: which file?\n");
	if (format && strcmp(format, "json") != 0 && strcmp(format, "text") != 0)
		return stats_printed("error: trace format '%s' is not json or text\n", format);
	struct stats_ns *sns = stats_find_ns(st, (uint32_t)nsid, nqn);
	if (!sns)
		return stats_printed("error: no namespace %lu\n", nsid);
	char err[256];
	bool json = !format || strcmp(format, "json") == 0;
	if (stats_trace_start(sns, path, json, err, sizeof(err)))
		return stats_printed("error: %s\n", err);
	return stats_printed("ok tracing namespace %lu to %s (%s)\n", nsid, path, json ? "json" : "text");
}

static char *power_cut_command(struct stats *st, const char *args)
{
	uint64_t down_ms = 1000;
	while (*args == ' ')
		args++;
	char err[160];
	if (*args && parse_u64(args, 0, 3600000, &down_ms, err, sizeof(err)))
		return stats_printed("error: power-cut DOWN_MS: %s\n", err);
	if (!st->params.power_cut)
		return stats_printed("error: this daemon cannot cut its power\n");
	return st->params.power_cut(st->params.power_cut_ctx, down_ms);
}

char *stats_control_command(struct stats *st, const char *line)
{
	char copy[REQUEST_MAX];
	snprintf(copy, sizeof(copy), "%s", line);
	copy[strcspn(copy, "\r\n")] = '\0';
	if (strcmp(copy, "json") == 0) {
		char *json = render(st, false);
		char *text = json ? stats_printed("%s\n", json) : NULL;
		free(json);
		return text;
	}
	if (strcmp(copy, "prometheus") == 0)
		return render(st, true);
	if (strncmp(copy, "trace ", 6) == 0)
		return trace_command(st, copy + 6);
	if (strncmp(copy, "power-cut", 9) == 0 && (!copy[9] || copy[9] == ' '))
		return power_cut_command(st, copy + 9);
	if (strncmp(copy, "fault ", 6) == 0)
		return stats_fault_command(st, copy + 6);
	if (strcmp(copy, "help") == 0)
		return stats_printed("json | prometheus | trace on NSID FILE [json|text] [NQN] | "
			       "trace off NSID [NQN] | power-cut [DOWN_MS] | fault add TYPE [KEY=VALUE...] | "
			       "fault list | fault clear [ID]\n");
	return stats_printed("error: unknown command '%s' (try help)\n", copy);
}

/* ---- connections ---- */

static int accept_client(int listen_fd)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -1;
	struct timeval timeout = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	return fd;
}

/* Reads until `end` appears, the peer stops sending, or the buffer is full. */
static size_t read_request(int fd, char *buf, size_t size, const char *end)
{
	size_t have = 0;
	while (have + 1 < size) {
		ssize_t n = recv(fd, buf + have, size - 1 - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		if (strstr(buf, end))
			break;
	}
	buf[have] = '\0';
	return have;
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

static void serve_control(struct stats *st)
{
	int fd = accept_client(st->control_fd);
	if (fd < 0)
		return;
	char line[REQUEST_MAX];
	read_request(fd, line, sizeof(line), "\n");
	char *answer = stats_control_command(st, line);
	if (answer)
		send_all(fd, answer, strlen(answer));
	else
		send_all(fd, "error: out of memory\n", 21);
	free(answer);
	close(fd);
}

/* A whole HTTP/1.0 response, malloc'd; NULL when out of memory. */
static char *http_response(const char *status, const char *type, const char *body)
{
	return stats_printed("HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			     "Connection: close\r\n\r\n%s",
			     status, type, strlen(body), body);
}

char *stats_http_answer(struct stats *st, const char *request)
{
	char method[8] = "", target[256] = "";
	if (sscanf(request, "%7s %255s", method, target) < 1)
		method[0] = '\0';
	target[strcspn(target, "?")] = '\0';
	bool metrics = strcmp(target, "/metrics") == 0;
	bool json = strcmp(target, "/stats") == 0 || strcmp(target, "/stats.json") == 0;
	if (strcmp(method, "GET") != 0)
		return http_response("405 Method Not Allowed", "text/plain", "only GET\n");
	if (!metrics && !json)
		return http_response(
		    "404 Not Found", "text/plain",
		    "nvemu statistics: GET /metrics (Prometheus) or /stats (JSON)\n");
	char *body = render(st, metrics);
	char *answer =
	    body ? http_response("200 OK",
				 metrics ? "text/plain; version=0.0.4; charset=utf-8"
					 : "application/json",
				 body)
		 : http_response("500 Internal Server Error", "text/plain", "out of memory\n");
	free(body);
	return answer;
}

static void serve_http(struct stats *st)
{
	int fd = accept_client(st->http_fd);
	if (fd < 0)
		return;
	char request[REQUEST_MAX];
	read_request(fd, request, sizeof(request), "\r\n\r\n");
	char *answer = stats_http_answer(st, request);
	if (answer)
		send_all(fd, answer, strlen(answer));
	free(answer);
	close(fd);
}

/* ---- the thread ---- */

static void close_endpoints(struct stats *st)
{
	if (st->control_fd >= 0) {
		close(st->control_fd);
		unlink(st->control_path);
	}
	if (st->http_fd >= 0)
		close(st->http_fd);
	st->control_fd = st->http_fd = -1;
}


static void record_line(struct stats *st)
{
	char *json = render(st, false);
	if (!json)
		return;
	fprintf(st->record, "%s\n", json);
	fflush(st->record);
	free(json);
}

static bool drain_traces(struct stats *st)
{
	bool tracing = false;
	for (unsigned i = 0; i < st->nns; i++)
		tracing |= stats_trace_flush(st->ns[i]);
	return tracing;
}

static uint64_t earliest(uint64_t a, uint64_t b) { return a < b ? a : b; }

static void *stats_thread(void *arg)
{
	struct stats *st = arg;
	uint64_t record_period = st->params.record_interval_ms * 1000000ull;
	bool tracing = false;
	stats_sample_rates(st, clock_now_ns());
	for (;;) {
		uint64_t now = clock_now_ns();
		if (now >= st->next_sample_ns) {
			stats_sample_rates(st, now);
			st->next_sample_ns = earliest(st->next_sample_ns + STATS_SAMPLE_PERIOD_NS,
						      now + STATS_SAMPLE_PERIOD_NS);
		}
		if (st->record && now >= st->next_record_ns) {
			record_line(st);
			st->next_record_ns = st->next_record_ns + record_period > now
						 ? st->next_record_ns + record_period
						 : now + record_period;
		}
		tracing = drain_traces(st);
		uint64_t next = st->next_sample_ns;
		if (st->record)
			next = earliest(next, st->next_record_ns);
		int timeout_ms = (int)((next - earliest(now, next)) / 1000000 + 1);
		if (tracing && timeout_ms > TRACE_DRAIN_PERIOD_MS)
			timeout_ms = TRACE_DRAIN_PERIOD_MS;
		struct pollfd fds[3] = {{.fd = st->wake_fd, .events = POLLIN},
					{.fd = st->control_fd, .events = POLLIN},
					{.fd = st->http_fd, .events = POLLIN}};
		if (poll(fds, 3, timeout_ms) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		if (fds[1].revents & POLLIN)
			serve_control(st);
		if (fds[2].revents & POLLIN)
			serve_http(st);
	}
	for (unsigned i = 0; i < st->nns; i++)
		stats_trace_stop(st->ns[i]);
	if (st->record) {
		record_line(st);
		fclose(st->record);
	}
	close_endpoints(st);
	return NULL;
}

int stats_start(struct stats *st, char *err, size_t errlen)
{
	const char *path = st->params.control_path;
	if (!path) {
		stats_default_control_path(st->params.port, st->control_path, sizeof(st->control_path));
		st->control_fd = listen_unix(st->control_path, err, errlen);
		if (st->control_fd < 0) {
			log_warn("no control socket: %s", err);
			st->control_path[0] = '\0';
		}
	} else if (*path && strcmp(path, "none") != 0) {
		snprintf(st->control_path, sizeof(st->control_path), "%s", path);
		if ((st->control_fd = listen_unix(path, err, errlen)) < 0)
			return -1;
	}
	if (st->params.http_port && (st->http_fd = listen_http(st->params.http_port, err, errlen)) < 0)
		goto fail;
	if (st->params.record_path && !(st->record = fopen(st->params.record_path, "a"))) {
		snprintf(err, errlen, "cannot open %s: %s", st->params.record_path, strerror(errno));
		goto fail;
	}
	st->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (st->wake_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	st->next_sample_ns = clock_now_ns() + STATS_SAMPLE_PERIOD_NS;
	st->next_record_ns = clock_now_ns();
	if (pthread_create(&st->thread, NULL, stats_thread, st)) {
		snprintf(err, errlen, "cannot start the statistics thread");
		goto fail;
	}
	st->started = true;
	return 0;
fail:
	if (st->record)
		fclose(st->record);
	st->record = NULL;
	close_endpoints(st);
	return -1;
}
