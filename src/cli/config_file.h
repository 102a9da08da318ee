/*
 * The daemon's INI config file, read with inih and turned into the daemon's
 * own command-line options, so that every option is a config key and both
 * are checked by the same code.
 *
 *   [nvemu]              any daemon option by its long name: port = 4421,
 *                        allow-host = NQN (repeatable), poll = yes, ...
 *   [subsystem NAME]     nqn = NQN
 *   [namespace NAME]     subsystem = NAME (default: the one defined last),
 *                        kind = ram|nossd|ssd|zoned, size, lba_size, preset,
 *                        and any flash-model or zone key (FEMU names too)
 *
 * Subsystems and namespaces keep the order of the file.  Errors name the
 * file, the line, the section and the key.
 */
#ifndef NVEMU_CLI_CONFIG_FILE_H
#define NVEMU_CLI_CONFIG_FILE_H

#include <getopt.h>
#include <stddef.h>

struct arg_list {
	char **argv;
	int argc, cap;
};

/* Checks one option ("port", "4421") as the command line would; 0 or -1 with err. */
typedef int (*config_check_fn)(const char *option, const char *value, char *err, size_t errlen);

int config_file_to_args(const char *path, const struct option *options, config_check_fn check,
			struct arg_list *out, char *err, size_t errlen);
int arg_list_push(struct arg_list *list, const char *arg);
void arg_list_free(struct arg_list *list);

#endif
