/*
 * The raw-TCP floor: what this machine allows for a request/response pair
 * with NVMe/TCP's message sizes (a 72-byte request, a 24 + 4096 + 24-byte
 * answer) at a given queue depth, with no NVMe at all.  A server process
 * pinned to one CPU answers a client pinned to another over loopback; both
 * batch like a good target would (one send per batch of answers).
 *
 * Usage: nvemu-tcp-floor [--qd N] [--seconds S] [--poll] [--server-cpu C] [--client-cpu C]
 *                        [--request-bytes N] [--answer-bytes N] [--uring | --uring-mshot]
 * --uring serves with io_uring (receive and gathered send in one io_uring_enter
 * per batch) instead of recv + writev, to compare the two on equal terms;
 * --uring-mshot with a multishot receive into a provided-buffer ring and sends
 * from a registered buffer (write_fixed).
 * The sizes default to a 4 KiB read; a 128 KiB read is --answer-bytes 131120,
 * a 128 KiB in-capsule write --request-bytes 131144 --answer-bytes 24.
 * Prints one JSON object: iops, lat_us {mean, p50, p99}, server_cpu_us_per_op.
 */
#include <errno.h>
#include <getopt.h>
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_QD 1024
#define MAX_MESSAGE (1u << 20)
#define LAT_SAMPLES (1u << 22)

static size_t request_bytes = 72, answer_bytes = 24 + 4096 + 24;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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
}

/* recv that spins on EAGAIN in poll mode and blocks otherwise. */
static ssize_t receive(int fd, void *buf, size_t len, bool poll)
{
	for (;;) {
		ssize_t n = recv(fd, buf, len, poll ? MSG_DONTWAIT : 0);
		if (n >= 0 || (errno != EAGAIN && errno != EINTR))
			return n;
	}
}

static int send_all(int fd, struct iovec *iov, int iovcnt)
{
	while (iovcnt) {
		ssize_t n = writev(fd, iov, iovcnt);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		while (iovcnt && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static void serve(int fd, bool poll)
{
	static uint8_t in[MAX_MESSAGE], answer[MAX_MESSAGE];
	static struct iovec iov[MAX_QD];
	size_t have = 0; /* bytes of the current request received so far, mod its size */
	for (;;) {
		ssize_t n = receive(fd, in, sizeof(in), poll);
		if (n <= 0)
			return;
		have += (size_t)n;
		size_t requests = have / request_bytes;
		have %= request_bytes;
		while (requests) {
			size_t batch = requests < MAX_QD ? requests : MAX_QD;
			for (size_t i = 0; i < batch; i++)
				iov[i] = (struct iovec){answer, answer_bytes};
			if (send_all(fd, iov, (int)batch))
				return;
			requests -= batch;
		}
	}
}

/* The same server, one io_uring_enter per batch: the answers' send and the next receive. */
static void serve_uring(int fd, bool poll)
{
	static uint8_t in[MAX_MESSAGE], answer[MAX_MESSAGE];
	static struct iovec iov[MAX_QD];
	struct io_uring ring;
	if (io_uring_queue_init(8, &ring, 0))
		return;
	size_t have = 0;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_recv(sqe, fd, in, sizeof(in), 0);
	for (;;) {
		struct io_uring_cqe *cqe;
		int rc = poll ? io_uring_submit(&ring) : io_uring_submit_and_wait(&ring, 1);
		if (rc < 0)
			break;
		while ((rc = io_uring_peek_cqe(&ring, &cqe)) == -EAGAIN && poll)
			;
		if (rc)
			break;
		int n = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		if (n <= 0)
			break;
		have += (size_t)n;
		size_t requests = have / request_bytes;
		have %= request_bytes;
		/* Batches stay below MAX_QD answers: the client keeps at most qd outstanding. */
		for (size_t i = 0; i < requests; i++)
			iov[i] = (struct iovec){answer, answer_bytes};
		if (requests) {
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_writev(sqe, fd, iov, (unsigned)requests, 0);
			/* A short send would reorder the stream: skip the receive until it is checked. */
			sqe->flags |= IOSQE_IO_LINK;
			sqe->user_data = 1;
		}
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_recv(sqe, fd, in, sizeof(in), 0);
		if (requests) {
			if (io_uring_submit_and_wait(&ring, 1) < 0 || io_uring_wait_cqe(&ring, &cqe))
				break;
			bool whole = cqe->res == (int)(requests * answer_bytes);
			io_uring_cqe_seen(&ring, cqe);
			if (!whole)
				break;
		}
	}
	io_uring_queue_exit(&ring);
}

#define MSHOT_BUFS 64
#define MSHOT_BUF_BYTES (64u * 1024)
#define MSHOT_GROUP 1

/* Receive with one multishot recv and a ring of provided buffers; send from a registered buffer. */
static void serve_uring_mshot(int fd, bool poll)
{
	static uint8_t in[MSHOT_BUFS][MSHOT_BUF_BYTES];
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
			io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = MSHOT_GROUP;
			sqe->user_data = 0;
			armed = true;
		}
		if (!sending && owed) {
			size_t n = owed < MAX_QD ? owed : MAX_QD;
			send_left = n * answer_bytes;
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_write_fixed(sqe, fd, answers, (unsigned)send_left, 0, 0);
			sqe->user_data = 1;
			owed -= n;
			sending = true;
		}
		int rc = poll ? io_uring_submit(&ring) : io_uring_submit_and_wait(&ring, 1);
		if (rc < 0)
			break;
		struct io_uring_cqe *cqe;
		while ((rc = io_uring_peek_cqe(&ring, &cqe)) == -EAGAIN && poll)
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

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int run_client(int fd, unsigned qd, double seconds, bool poll, uint64_t *ops,
		      double *mean_us, double *p50_us, double *p99_us)
{
	static uint8_t out[MAX_MESSAGE], in[MAX_MESSAGE];
	static struct iovec requests[MAX_QD];
	uint64_t sent_at[MAX_QD];
	uint32_t *lat = malloc(LAT_SAMPLES * sizeof(*lat));
	if (!lat)
		return -1;
	unsigned head = 0, outstanding = 0;
	uint64_t done = 0, lat_sum = 0, samples = 0;
	size_t partial = 0;
	uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
	for (;;) {
		uint64_t t = now_ns();
		unsigned to_send = t < end ? qd - outstanding : 0;
		for (unsigned i = 0; i < to_send; i++)
			sent_at[(head + outstanding + i) % qd] = t;
		if (to_send) {
			for (unsigned i = 0; i < to_send; i++)
				requests[i] = (struct iovec){out, request_bytes};
			if (send_all(fd, requests, (int)to_send))
				break;
			outstanding += to_send;
		}
		if (!outstanding)
			break;
		ssize_t n = receive(fd, in, sizeof(in), poll);
		if (n <= 0)
			break;
		t = now_ns();
		partial += (size_t)n;
		while (partial >= answer_bytes) {
			partial -= answer_bytes;
			uint64_t l = t - sent_at[head];
			head = (head + 1) % qd;
			outstanding--;
			done++;
			lat_sum += l;
			if (samples < LAT_SAMPLES)
				lat[samples++] = (uint32_t)(l > UINT32_MAX ? UINT32_MAX : l);
		}
	}
	qsort(lat, samples, sizeof(*lat), cmp_u32);
	*ops = done;
	*mean_us = done ? (double)lat_sum / (double)done / 1000.0 : 0;
	*p50_us = samples ? lat[samples / 2] / 1000.0 : 0;
	*p99_us = samples ? lat[samples * 99 / 100] / 1000.0 : 0;
	free(lat);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned qd = 32;
	double seconds = 5;
	bool poll = false, uring = false, mshot = false;
	int server_cpu = 0, client_cpu = 1;
	static const struct option opts[] = {
	    {"qd", required_argument, NULL, 'q'},	   {"seconds", required_argument, NULL, 't'},
	    {"poll", no_argument, NULL, 'p'},	   {"server-cpu", required_argument, NULL, 's'},
	    {"client-cpu", required_argument, NULL, 'c'},
	    {"request-bytes", required_argument, NULL, 'r'},
	    {"answer-bytes", required_argument, NULL, 'a'},
	    {"uring", no_argument, NULL, 'u'},
	    {"uring-mshot", no_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "q:t:ps:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'q': qd = (unsigned)atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'p': poll = true; break;
		case 's': server_cpu = atoi(optarg); break;
		case 'c': client_cpu = atoi(optarg); break;
		case 'r': request_bytes = strtoul(optarg, NULL, 10); break;
		case 'a': answer_bytes = strtoul(optarg, NULL, 10); break;
		case 'u': uring = true; break;
		case 'm': mshot = true; break;
		default:
			fprintf(stderr, "usage: nvemu-tcp-floor [--qd N] [--seconds S] [--poll] "
					"[--server-cpu C] [--client-cpu C] [--request-bytes N] "
					"[--answer-bytes N]\n");
			return 2;
		}
	}
	if (qd < 1 || qd > MAX_QD || seconds <= 0 || !request_bytes || !answer_bytes ||
	    request_bytes > MAX_MESSAGE || answer_bytes > MAX_MESSAGE) {
		fprintf(stderr, "nvemu-tcp-floor: qd must be 1..%d, seconds > 0, sizes 1..%u\n",
			MAX_QD, MAX_MESSAGE);
		return 2;
	}
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(listener, 1) || getsockname(listener, (struct sockaddr *)&addr, &len)) {
		perror("nvemu-tcp-floor: listen");
		return 1;
	}
	pid_t server = fork();
	if (server == 0) {
		pin(server_cpu);
		int fd = accept(listener, NULL, NULL);
		tune(fd);
		if (mshot)
			serve_uring_mshot(fd, poll);
		else if (uring)
			serve_uring(fd, poll);
		else
			serve(fd, poll);
		_exit(0);
	}
	close(listener);
	pin(client_cpu);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("nvemu-tcp-floor: connect");
		kill(server, SIGKILL);
		return 1;
	}
	tune(fd);
	uint64_t ops;
	double mean, p50, p99;
	uint64_t start = now_ns();
	int rc = run_client(fd, qd, seconds, poll, &ops, &mean, &p50, &p99);
	double elapsed = (double)(now_ns() - start) / 1e9;
	shutdown(fd, SHUT_RDWR);
	close(fd);
	int status;
	struct rusage ru;
	wait4(server, &status, 0, &ru);
	double server_cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			      (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	if (rc)
		return 1;
	printf("{\"server\":\"%s\",\"qd\":%u,\"poll\":%s,\"seconds\":%.3f,\"ios\":%llu,\"iops\":%.0f,"
	       "\"lat_us\":{\"mean\":%.2f,\"p50\":%.2f,\"p99\":%.2f},\"server_cpu_us_per_op\":%.3f}\n",
	       mshot ? "io_uring-multishot" : uring ? "io_uring" : "epoll-style", qd, poll ? "true" : "false", elapsed, (unsigned long long)ops, ops / elapsed, mean, p50,
	       p99, ops ? server_cpu_s * 1e6 / (double)ops : 0.0);
	return 0;
}
