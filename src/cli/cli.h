/* The nvemu command line: its subcommands and what they share. */
#ifndef NVEMU_CLI_CLI_H
#define NVEMU_CLI_CLI_H

int daemon_main(int argc, char **argv);
int stats_main(int argc, char **argv);
int plot_main(int argc, char **argv);
int vm_main(int argc, char **argv);
int format_main(int argc, char **argv);
int check_main(int argc, char **argv);
int power_cut_main(int argc, char **argv);
int fault_main(int argc, char **argv);

/* The subcommands main.c dispatches to, for help texts. */
#define CLI_COMMAND_NAMES "serve, sim, perf, stats, fault, plot, vm, format, check, power-cut"

/* Sends one request line to a daemon's control socket at path and returns the whole answer
 * (malloc'd), or NULL with a message on stderr. */
char *cli_control_request(const char *path, const char *line);

struct json_object;
struct hist;
/* The histogram a statistics snapshot's "latency" object holds (docs/stats.md). */
void cli_latency_from_json(struct json_object *latency, struct hist *out);

#endif
