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
 *   [fault NAME]         type = TYPE and the fault's keys (docs/faults.md): a --fault named NAME
 *
 * Subsystems and namespaces keep the order of the file.  Errors name the
 * file, the line, the section and the key.
 */
#ifndef NVEMU_CLI_CONFIG_FILE_H
#define NVEMU_CLI_CONFIG_FILE_H

#include <stddef.h>

#include "config/options.h"
#include "util/util.h"

/* Checks one option of `table` given as a key (opt_set on scratch options); 0 or -1 with err. */
typedef int (*config_check_fn)(const struct opt *opt, const char *value, char *err, size_t errlen);

/*
 * Appends to `out` the options the file stands for. The [nvemu] keys are the options of `table`
 * but those marked OPT_NOT_A_KEY.
 */
int config_file_to_args(const char *path, const struct opt_table *table, config_check_fn check,
			struct arg_list *out, char *err, size_t errlen);

#endif
