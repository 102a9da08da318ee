/*
 * libFuzzer target for the controller core's command decoding.
 *
 * Each input is a sequence of commands, each laid out as
 *   byte 0     where it goes: 0 admin queue, 1 I/O queue (qid 1), 2 a queue
 *              that never saw a Connect, 3 another unconnected queue (so a
 *              fuzzed Connect can start a second association)
 *   bytes 1-2  length of the data that follows the SQE (little-endian)
 *   bytes 3-66 the SQE, as the host sent it
 *   then       the data: in-capsule if the SGL says so, else H2C after R2T
 * applied to a freshly connected controller of a long-lived target.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "target_harness.h"
#include "util/log.h"

#define COMMAND_HEADER 3
#define QUEUES 4
/* AERs a controller may hold, with room to spare: more means a lost command. */
#define MAX_HELD 16

static struct th_env *env;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct th_env_params params = {.allow_any_host = true, .fdp_ns = true};
	env = th_env_create(&params);
	if (!env)
		abort();
	/* NVEMU_FUZZ_LOG=1 shows why the target refused what, when replaying one input. */
	if (getenv("NVEMU_FUZZ_LOG"))
		log_threshold = LOG_DEBUG;
	return 0;
}

/* Held AERs are cancelled by closing, like a dropped connection, then freed. */
static void close_queue(struct th_queue *q)
{
	struct th_req *held[MAX_HELD];
	size_t nheld = 0;
	for (struct th_req *r = q->pending; r; r = r->next_pending) {
		if (nheld == MAX_HELD)
			abort();
		held[nheld++] = r;
	}
	th_queue_close(q);
	for (size_t i = 0; i < nheld; i++) {
		if (held[i]->completions)
			abort();
		th_req_free(q, held[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct th_queue queues[QUEUES];
	for (int i = 0; i < QUEUES; i++)
		th_queue_init(&queues[i], env);
	if (th_bring_up(&queues[0], &queues[1], NULL))
		abort();

	while (size >= COMMAND_HEADER + sizeof(struct nvme_sqe)) {
		struct th_queue *q = &queues[data[0] % QUEUES];
		size_t data_len = (size_t)data[1] | (size_t)data[2] << 8;
		struct nvme_sqe sqe;
		memcpy(&sqe, data + COMMAND_HEADER, sizeof(sqe));
		data += COMMAND_HEADER + sizeof(sqe);
		size -= COMMAND_HEADER + sizeof(sqe);
		if (data_len > size)
			data_len = size;
		struct th_req *req = th_submit(q, &sqe, data, (uint32_t)data_len);
		/* Exactly one completion; only an AER may be held.  Anything else hangs a host. */
		if (req->completions > 1 || (!req->completions && sqe.opcode != nvme_admin_async_event))
			abort();
		if (req->completions == 1)
			th_req_free(q, req);
		data += data_len;
		size -= data_len;
	}
	/* I/O queues first, as Linux tears an association down. */
	for (int i = QUEUES - 1; i >= 0; i--)
		close_queue(&queues[i]);
	return 0;
}
