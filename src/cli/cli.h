/* The nvemu command line: subcommands and the small parsers they share. */
#ifndef NVEMU_CLI_CLI_H
#define NVEMU_CLI_CLI_H

#include <stdint.h>

int daemon_main(int argc, char **argv);
int stats_main(int argc, char **argv);
int plot_main(int argc, char **argv);
int vm_main(int argc, char **argv);

/* "4096", "512K", "1G", "2TiB": binary multiples. Returns 0 on success. */
int cli_parse_size(const char *text, uint64_t *out);
/* A decimal number within [min, max]. Returns 0 on success. */
int cli_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);
/* "sim, perf" and so on, for help texts. */
const char *cli_command_names(void);

struct json_object;
struct hist;
/* The histogram a statistics snapshot's "latency" object holds (docs/stats.md). */
void cli_latency_from_json(struct json_object *latency, struct hist *out);

#endif
