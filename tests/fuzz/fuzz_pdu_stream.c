/*
 * libFuzzer target for the NVMe/TCP connection code (conn.c): the input is
 * what a host writes on one connection.
 *
 * A real connection (tcp_conn_create) runs on a reactor over one end of a
 * socketpair; the harness writes the input into the other end in pieces,
 * runs the reactor until it is quiet after each piece, reads and discards
 * whatever the target answers, then hangs up and waits until the
 * connection is gone.
 *
 * The target is the one of tests/unit/nvme's harness.  Its controller 1
 * (host TH_HOSTNQN, host ID A0h..AFh) is connected, enabled and granted I/O
 * queues before fuzzing starts, outside the stream, so that a stream can
 * connect an I/O queue to it: each input is still a single connection.
 *
 * Byte 0 steers the harness, the rest is the stream:
 *   bit 0    recompute every header and data digest the stream's PDUs
 *            claim to carry, so mutations reach past the digest checks
 *   bits 1-7 how the stream is cut into writes: 0 all of it at once (the
 *            fastest: the connection parses what one recv() gives it), 1 one
 *            byte at a time for the first BYTEWISE_MAX bytes (the ICReq and
 *            the first capsules: every state a header or data can be cut
 *            in), then one PDU (by PLEN) at a time as a Linux host writes
 *            them, n > 1 pieces of (n - 1) x 61 bytes
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nvme/internal.h"
#include "target_harness.h"
#include "util/log.h"
#include "transport/conn.h"
#include "util/crc32c.h"

#define MODE_FIX_DIGESTS 0x01
#define PIECE_UNIT 61
/* Reactor passes without progress after which the connection is considered quiet. */
/* Bytes written one at a time in mode 1: each costs a few system calls. */
#define BYTEWISE_MAX 256
#define MAX_PASSES 100000
#define MAX_STALLS 1000

static struct th_env *env;
static struct th_queue standing_admin;
static struct tcp_transport transport;
static struct tcp_worker worker;
static struct reactor *reactors[1];
static uint8_t sink[256 * 1024];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct th_env_params params = {.allow_any_host = true};
	env = th_env_create(&params);
	if (!env)
		abort();
	/* NVEMU_FUZZ_LOG=1 shows why the target refused what, when replaying one input. */
	if (getenv("NVEMU_FUZZ_LOG"))
		log_threshold = LOG_DEBUG;
	/* Seeds name controller 1: make it the next ID, whatever the random start. */
	atomic_store(&env->target->next_cntlid, 1);
	th_queue_init(&standing_admin, env);
	uint16_t cntlid = 0;
	if (th_bring_up(&standing_admin, NULL, &cntlid) || cntlid != 1)
		abort();
	reactors[0] = env->reactor;
	transport.params.target = env->target;
	transport.params.reactors = reactors;
	transport.params.nreactors = 1;
	transport.workers = &worker;
	worker.transport = &transport;
	worker.reactor = env->reactor;
	return 0;
}

static uint32_t get_le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Walks the stream PDU by PDU (by PLEN) and writes the digests each one's flags announce. */
static void fix_digests(uint8_t *buf, size_t len)
{
	size_t at = 0;
	while (at + sizeof(struct nvme_tcp_hdr) <= len) {
		uint8_t *pdu = buf + at;
		uint8_t type = pdu[0], flags = pdu[1], hlen = pdu[2], pdo = pdu[3];
		uint32_t plen = get_le32(pdu + 4);
		if (plen < sizeof(struct nvme_tcp_hdr) || plen > len - at)
			return;
		if (type != NVME_TCP_ICREQ && (flags & NVME_TCP_F_HDGST) && hlen &&
		    (size_t)hlen + NVME_TCP_DIGEST_LEN <= plen)
			put_le32(pdu + hlen, crc32c(pdu, hlen));
		if ((flags & NVME_TCP_F_DDGST) && pdo && (size_t)pdo + NVME_TCP_DIGEST_LEN <= plen)
			put_le32(pdu + plen - NVME_TCP_DIGEST_LEN,
				 crc32c(pdu + pdo, plen - pdo - NVME_TCP_DIGEST_LEN));
		at += plen;
	}
}

static size_t piece_length(const uint8_t *at, size_t left, size_t sent, unsigned cut)
{
	size_t n = left;
	if (cut == 0) {
		n = left;
	} else if (cut == 1 && sent < BYTEWISE_MAX) {
		n = 1;
	} else if (cut > 1) {
		n = (cut - 1) * PIECE_UNIT;
	} else if (cut == 1 && left >= sizeof(struct nvme_tcp_hdr)) {
		uint32_t plen = get_le32(at + 4);
		if (plen >= sizeof(struct nvme_tcp_hdr))
			n = plen;
	}
	return n < left ? n : left;
}

static void drain(int fd)
{
	/* A read that does not fill the sink took everything there was. */
	while (read(fd, sink, sizeof(sink)) == (ssize_t)sizeof(sink))
		;
}

/* Runs the reactor until a pass finds nothing to do: every pass runs the deferred work (the
 * flush of what the events produced) before it returns, so an empty pass means quiet. */
static void run_until_quiet(int host_fd)
{
	for (int passes = 0; passes < MAX_PASSES; passes++) {
		int n = reactor_poll(env->reactor, 0);
		if (n < 0)
			abort();
		drain(host_fd);
		if (n == 0)
			return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	size_t len = size - 1;
	uint8_t *stream = malloc(len ? len : 1);
	if (!stream)
		abort();
	memcpy(stream, data + 1, len);
	if (mode & MODE_FIX_DIGESTS)
		fix_digests(stream, len);
	unsigned cut = mode >> 1;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (!tcp_conn_create(&worker, sv[0], NULL)) {
		close(sv[0]);
		close(sv[1]);
		free(stream);
		return 0;
	}
	size_t sent = 0;
	int stalls = 0;
	/* Stops early once the target closed its end (a fatal error): writes then fail. */
	while (sent < len && worker.conns) {
		size_t n = piece_length(stream + sent, len - sent, sent, cut);
		ssize_t w = write(sv[1], stream + sent, n);
		if (w > 0) {
			sent += (size_t)w;
			stalls = 0;
		} else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			break;
		} else if (++stalls > MAX_STALLS) {
			abort(); /* a live connection that stopped reading: a host would hang */
		}
		run_until_quiet(sv[1]);
	}
	run_until_quiet(sv[1]);
	close(sv[1]);
	/* The hang-up must end the connection. */
	for (int passes = 0; worker.conns && passes < MAX_PASSES; passes++)
		reactor_poll(env->reactor, 0);
	if (worker.conns)
		abort();
	free(stream);
	return 0;
}
