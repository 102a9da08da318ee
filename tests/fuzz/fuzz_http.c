/*
 * libFuzzer target for the statistics HTTP endpoint's request parsing (src/stats/server.c):
 * the input is the head of a request as received (up to 4 KiB, as the server reads it).
 * Checked: every request gets a whole HTTP/1.0 response whose Content-Length is the length
 * of its body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_stats_env.h"
#include "util/log.h"

#define REQUEST_BYTES 4096

static struct th_env *env;
static struct stats *stats;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	stats = fuzz_stats_env(&env, 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char request[REQUEST_BYTES];
	size_t n = size < sizeof(request) - 1 ? size : sizeof(request) - 1;
	memcpy(request, data, n);
	request[n] = '\0';
	char *answer = stats_http_answer(stats, request);
	if (!answer || strncmp(answer, "HTTP/1.0 ", 9) != 0)
		abort();
	const char *length = strstr(answer, "Content-Length: ");
	const char *body = strstr(answer, "\r\n\r\n");
	if (!length || !body || strtoul(length + 16, NULL, 10) != strlen(body + 4))
		abort();
	free(answer);
	return 0;
}
