#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "perf/perf.h"
#include "sim/sim.h"
#include "util/util.h"

struct command {
	const char *name;
	int (*main)(int argc, char **argv);
};

static const struct command commands[] = {
    {"serve", daemon_main},
    {"sim", sim_main},
    {"perf", perf_main},
    {"stats", stats_main},
    {"fault", fault_main},
    {"plot", plot_main},
    {"vm", vm_main},
    {"format", format_main},
    {"check", check_main},
    {"power-cut", power_cut_main},
};

int main(int argc, char **argv)
{
	if (argc > 1 && argv[1][0] != '-') {
		for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
			if (strcmp(argv[1], commands[i].name) == 0)
				return commands[i].main(argc - 1, argv + 1);
		fprintf(stderr, "nvemu: unknown command '%s' (commands: %s)\n", argv[1],
			CLI_COMMAND_NAMES);
		return 2;
	}
	return daemon_main(argc, argv);
}
