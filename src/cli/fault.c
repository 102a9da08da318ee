/*
 * `nvemu fault`: sets, lists and clears faults of a running daemon over its control socket
 * (docs/faults.md).  The daemon parses and checks; this only builds the request line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fault/fault.h"
#include "stats/stats.h"
#include "util/util.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: nvemu fault [-p PORT | -c PATH] add TYPE [KEY=VALUE...]   prints the new fault's id\n"
		"       nvemu fault [-p PORT | -c PATH] list\n"
		"       nvemu fault [-p PORT | -c PATH] clear [ID]                 every fault without ID\n"
		"       nvemu fault --list-types | --list-keys\n"
		"Faults of a running nvemu: media errors, a die offline, latency, thermal throttling,\n"
		"controller and link failures, read-only media, low spare, namespaces attached and\n"
		"detached (docs/faults.md).\n"
		"  -p, --port PORT       the daemon serving PORT (4420)\n"
		"  -c, --control PATH    the daemon's control socket\n"
		"  e.g. nvemu fault add read-error nsid=1 lba=2048 count=8\n");
}

/* "add", "list" or "clear" and what follows, as one line of the control protocol. */
static int build_line(int argc, char **argv, char *line, size_t len)
{
	size_t at = (size_t)snprintf(line, len, "fault");
	for (int i = 0; i < argc; i++) {
		if (strpbrk(argv[i], " \t\r\n") || at + strlen(argv[i]) + 2 >= len) {
			fprintf(stderr, "nvemu fault: '%s': a word with spaces, or too long a line\n",
				argv[i]);
			return -1;
		}
		at += (size_t)snprintf(line + at, len - at, " %s", argv[i]);
	}
	snprintf(line + at, len - at, "\n");
	return 0;
}

int fault_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"control", required_argument, NULL, 'c'},	{"port", required_argument, NULL, 'p'},
	    {"list-types", no_argument, NULL, 'T'},	{"list-keys", no_argument, NULL, 'K'},
	    {"help", no_argument, NULL, 'h'},		{NULL, 0, NULL, 0},
	};
	uint64_t port = 4420;
	const char *control = NULL;
	char err[160];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:p:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': control = optarg; break;
		case 'p':
			if (parse_u64(optarg, 1, 65535, &port, err, sizeof(err))) {
				fprintf(stderr, "nvemu fault: --port: %s\n", err);
				return 2;
			}
			break;
		case 'T': fault_print_types(stdout); return 0;
		case 'K': fault_print_keys(stdout); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	argc -= optind;
	argv += optind;
	bool add = argc >= 2 && strcmp(argv[0], "add") == 0;
	bool list = argc == 1 && strcmp(argv[0], "list") == 0;
	bool clear = (argc == 1 || argc == 2) && strcmp(argv[0], "clear") == 0;
	if (!add && !list && !clear) {
		usage(stderr);
		return 2;
	}
	char line[4096], path[108];
	if (build_line(argc, argv, line, sizeof(line)))
		return 2;
	if (control)
		snprintf(path, sizeof(path), "%s", control);
	else
		stats_default_control_path((uint16_t)port, path, sizeof(path));
	char *answer = cli_control_request(path, line);
	if (!answer)
		return 1;
	int rc = strncmp(answer, "error", 5) == 0 ? 1 : 0;
	unsigned id;
	if (!rc && add && sscanf(answer, "ok fault %u:", &id) == 1)
		printf("%u\n", id); /* the id alone, for scripts: ID=$(nvemu fault add ...) */
	else
		fputs(answer, rc ? stderr : stdout);
	free(answer);
	return rc;
}
