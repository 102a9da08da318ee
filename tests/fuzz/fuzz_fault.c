/*
 * libFuzzer target for the fault specifications and the control socket's fault commands.
 *
 * An input is text: lines up to a line "--" are control-socket requests ("fault add TYPE
 * KEY=VALUE...", "fault list", "fault clear [ID]", "power-cut"...; not "json" or "prometheus",
 * which fuzz_control covers), run against a statistics object over the harness's target; every line is also parsed as a specification
 * alone, and one that parses must print back to itself.  The bytes after "--" are I/O
 * commands run through whatever faults the lines set, 4 bytes each: opcode selector,
 * namespace, first block, block count.  Namespace 3 is an ssd one with four dies (die-offline).
 * Faults are cleared, the namespaces re-attached and the ram ones formatted after each input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_stats_env.h"
#include "util/log.h"

static struct th_env *env;
static struct stats *st;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	st = fuzz_stats_env(&env, 2);
	char err[256];
	struct ns *ssd = th_add_ssd_ns(env, err, sizeof(err));
	if (!ssd || stats_add_ns(st, env->subsys, 3, ssd, err, sizeof(err)))
		abort();
	stats_set_target(st, env->target);
	if (getenv("NVEMU_FUZZ_LOG"))
		log_threshold = LOG_DEBUG;
	return 0;
}

/* A specification that parses prints back to one that parses to the same thing. */
static void round_trip(const char *line)
{
	struct fault_spec spec, again;
	char err[512], text[FAULT_TEXT_MAX];
	if (fault_spec_parse(line, &spec, err, sizeof(err)))
		return;
	fault_spec_format(&spec, text, sizeof(text));
	if (fault_spec_parse(text, &again, err, sizeof(err)) || memcmp(&spec, &again, sizeof(spec)))
		abort();
}

static void run_io(struct th_queue *io, const uint8_t *p, size_t n, uint8_t *buf)
{
	static const uint8_t opcodes[] = {nvme_cmd_read, nvme_cmd_write, nvme_cmd_write_zeroes,
					  nvme_cmd_verify, nvme_cmd_flush, nvme_cmd_compare};
	for (; n >= 4; p += 4, n -= 4) {
		uint8_t opcode = opcodes[p[0] % sizeof(opcodes)];
		uint32_t nsid = 1 + p[1] % 3, lba = nsid == 2 ? 512 : 4096;
		uint32_t nlb = 1 + p[3] % 8;
		struct nvme_sqe sqe = th_rw_sqe(opcode, nsid, p[2] * 16u, nlb, lba);
		bool h2c = opcode == nvme_cmd_write || opcode == nvme_cmd_compare;
		bool c2h = opcode == nvme_cmd_read;
		if (!h2c && !c2h)
			th_sgl_transport(&sqe, 0);
		/* Delayed or held commands: th_exec forgets what is not answered at once. */
		th_exec(io, &sqe, h2c ? buf : NULL, h2c ? nlb * lba : 0, c2h ? buf : NULL,
			c2h ? nlb * lba : 0, NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct th_queue admin, io;
	th_queue_init(&admin, env);
	th_queue_init(&io, env);
	if (th_bring_up(&admin, &io, NULL))
		abort();
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *commands = strstr(text, "\n--\n");
	size_t io_at = commands ? (size_t)(commands - text) + 4 : size;
	if (commands)
		*commands = '\0';
	for (char *rest = text, *line; (line = strsep(&rest, "\n"));) {
		round_trip(line);
		/* Rendering the statistics is fuzz_control's: here it was nine tenths of the
		 * time (a snapshot of every latency histogram, JSON through json-c, under ASan). */
		if (!strncmp(line, "json", 4) || !strncmp(line, "prometheus", 10))
			continue;
		free(stats_control_command(st, line));
	}
	static uint8_t buf[8 * 4096];
	run_io(&io, data + io_at, size - io_at, buf);
	free(stats_control_command(st, "fault clear"));
	/* Back to a fresh target: every namespace attached, no fault left. */
	free(stats_control_command(st, "fault add ns-add nsid=1"));
	free(stats_control_command(st, "fault add ns-add nsid=2"));
	free(stats_control_command(st, "fault add ns-add nsid=3"));
	free(stats_control_command(st, "fault clear"));
	/* The ram namespaces' data too (an input's reads then do not depend on the inputs
	 * before it, and their memory is given back: what an input keeps allocated has libFuzzer
	 * scan the heap for leaks).  The ssd one keeps its data: garbage collection under faults
	 * needs a drive filled by many inputs (formatting it lost 2 % of the edges). */
	env->ns1->ops->format(env->ns1);
	env->ns2->ops->format(env->ns2);
	reactor_poll(env->reactor, 0);
	th_queue_close(&io);
	th_queue_close(&admin);
	reactor_poll(env->reactor, 0);
	free(text);
	return 0;
}
