/*
 * libFuzzer target for the control socket's protocol (src/stats/server.c): the input is
 * one request line as a client sends it (`json`, `prometheus`, `trace on NSID FILE ...`),
 * answered by the statistics of a target with a 4 KiB-block and a 512-byte-block namespace.
 *
 * A trace writes the file the request names: this target confines that to a directory of
 * its own (every '/' of the input becomes '_', so a name cannot leave it), stops every trace
 * after each input and removes what it wrote.  Checked: every request gets an answer, "ok"
 * or "error: ..." (or the JSON or Prometheus text), ending in a newline.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_stats_env.h"
#include "util/log.h"

#define LINE_MAX_BYTES 4096

static struct th_env *env;
static struct stats *stats;
static char dir[] = "/tmp/nvemu-fuzz-control.XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	stats = fuzz_stats_env(&env, 2);
	if (!mkdtemp(dir) || chdir(dir))
		abort();
	return 0;
}

static void remove_traces(void)
{
	for (unsigned i = 0; i < stats->nns; i++)
		stats_trace_stop(stats->ns[i]);
	DIR *d = opendir(".");
	if (!d)
		abort();
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlink(e->d_name);
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[LINE_MAX_BYTES];
	size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	memcpy(line, data, n);
	line[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (line[i] == '/')
			line[i] = '_';
	char *answer = stats_control_command(stats, line);
	if (!answer || !*answer || answer[strlen(answer) - 1] != '\n')
		abort();
	free(answer);
	remove_traces();
	return 0;
}
