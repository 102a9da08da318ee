/*
 * `nvemu format DIR` and `nvemu check DIR`: a drive directory handled without serving it
 * (docs/persistence.md). Both open the drive as the daemon would (recovering it after a
 * crash, which counts as a power cycle) and close it cleanly.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "ns/ns.h"
#include "spec/nvme.h"

static int open_drive(const char *command, int argc, char **argv, struct ns **out)
{
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: nvemu %s DIR\n", command);
		return argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) ? 1
													: 2;
	}
	struct ns_params params = {.path = argv[1], .plp = -1};
	char err[1024];
	if (!(*out = ns_create(&params, err, sizeof(err)))) {
		fprintf(stderr, "nvemu %s: %s\n", command, err);
		return 2;
	}
	return 0;
}

int format_main(int argc, char **argv)
{
	struct ns *ns;
	int rc = open_drive("format", argc, argv, &ns);
	if (rc)
		return rc == 1 ? 0 : rc;
	uint16_t status = ns_format(ns);
	if (status)
		fprintf(stderr, "nvemu format: %s: failed (status %#x)\n", argv[1], status);
	else
		printf("nvemu format: %s: every block reads zeroes, the model is as out of the box\n",
		       argv[1]);
	ns_destroy(ns);
	return status ? 1 : 0;
}

int check_main(int argc, char **argv)
{
	struct ns *ns;
	int rc = open_drive("check", argc, argv, &ns);
	if (rc)
		return rc == 1 ? 0 : rc;
	char err[1024] = "";
	rc = ns->ops->check ? ns->ops->check(ns, err, sizeof(err)) : 0;
	if (rc)
		fprintf(stderr, "nvemu check: %s: %s\n", argv[1], err);
	else
		printf("nvemu check: %s: %s namespace consistent\n", argv[1], ns->ops->kind);
	ns_destroy(ns);
	return rc ? 1 : 0;
}
