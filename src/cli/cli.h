/* The nvemu command line: its subcommands and what they share. */
#ifndef NVEMU_CLI_CLI_H
#define NVEMU_CLI_CLI_H

int daemon_main(int argc, char **argv);
int stats_main(int argc, char **argv);
int plot_main(int argc, char **argv);
int vm_main(int argc, char **argv);

/* The subcommands main.c dispatches to, for help texts. */
#define CLI_COMMAND_NAMES "serve, sim, perf, stats, plot, vm"

struct json_object;
struct hist;
/* The histogram a statistics snapshot's "latency" object holds (docs/stats.md). */
void cli_latency_from_json(struct json_object *latency, struct hist *out);

#endif
