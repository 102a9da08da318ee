/*
 * Command-line option tables. A command describes each option once (names, value, range,
 * default, help, section), as config.h describes model keys, and everything else comes from that
 * description: parsing (getopt_long), --help, the keys of the daemon's config file, and, through
 * `COMMAND --list-options` and scripts/gen-config-keys, the man page and the option tables of
 * docs/config.md and the README.
 */
#ifndef NVEMU_CONFIG_OPTIONS_H
#define NVEMU_CONFIG_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opt_kind {
	OPT_SECTION, /* not an option: a heading of the options below it; `help` is its title */
	OPT_FLAG,    /* takes no value: sets a bool field */
	OPT_TEXT,    /* takes any text: a const char * field points at it */
	OPT_NUMBER, /* takes a number (util/util.h) within [min, max]: an unsigned field of any width */
	OPT_HELP, /* prints --help and exits */
	OPT_LIST, /* prints the table for scripts (see opt_print_list) and exits */
};

enum opt_flags {
	OPT_REPEATABLE = 1 << 0,    /* may be given more than once; --help says so */
	OPT_NOT_A_KEY = 1 << 1,     /* the daemon's config file has no key for it */
	OPT_DEFAULT_SHOWN = 1 << 2, /* `def` is for --help only: the command sets the default */
};

struct opt;

/*
 * Handles an option instead of storing it into a field: `name` is the option as the user wrote
 * it ("--port", or "port" in a config file) for messages, `value` its text (NULL for a flag),
 * checked already for OPT_NUMBER). Returns 0, or -1 with err.
 */
typedef int (*opt_apply_fn)(void *ctx, const char *name, const char *value, char *err,
			    size_t errlen);

struct opt {
	enum opt_kind kind;
	const char *name;        /* --name, and its config-file key; NULL: only -short */
	char short_name;         /* -x, or 0 */
	const char *arg;         /* the value's name in --help: "PORT" */
	uint64_t min, max, step; /* OPT_NUMBER: in [min, max], a multiple of step (0: any) */
	const char *def;         /* the default as --help and the docs show it; NULL: none */
	const char *help;        /* one sentence, no line breaks: --help wraps it */
	unsigned flags;          /* enum opt_flags */
	/* Where the value goes in the command's options struct, unless `apply` is set. */
	size_t offset, size;
	opt_apply_fn apply;
};

/* The field of an options struct that an option fills: `.offset` and `.size` in one. */
#define OPT_FIELD(type, field) .offset = offsetof(type, field), .size = sizeof(((type *)0)->field)

struct opt_table {
	const char *command; /* "nvemu", "nvemu perf": in messages and the man page */
	const char *usage;   /* the lines --help starts with */
	const char *epilog;  /* the lines --help ends with; NULL: none */
	const struct opt *opts;
	size_t count;
};

/*
 * Parses argv[1..argc) with getopt_long after the table, storing into or applying to ctx.
 * With stop_at_operand the first argument that is not an option ends the options (getopt's
 * "+"); otherwise operands are left for the caller, after the options. Returns the index of the
 * first operand (argc if none), or -1 with a message in err.
 */
int opt_parse(const struct opt_table *table, int argc, char **argv, void *ctx, bool stop_at_operand,
	      char *err, size_t errlen);

/*
 * Stores each option's default (`def`, parsed like user input) into ctx, unless the option says
 * OPT_DEFAULT_SHOWN. A default the table cannot parse is a bug: it aborts.
 */
void opt_defaults(const struct opt_table *table, void *ctx);

/* The option called `name` (its long name), or NULL. */
const struct opt *opt_find(const struct opt_table *table, const char *name);

/*
 * Applies one option given as a config-file key: `value` is its text, "yes"/"no" and the like for a
 * flag (config_parse_bool). Messages name the option as the key, without dashes. 0 or -1 with err.
 */
int opt_set(const struct opt *opt, const char *value, void *ctx, char *err, size_t errlen);

/* --help: usage, then each section and option with its range and default, then the epilog. */
void opt_print_help(const struct opt_table *table, FILE *out);

/*
 * --list-options: one line per section or option, tab-separated, for scripts/gen-config-keys:
 *   section TITLE
 *   option  SHORT LONG ARG DEFAULT RANGE KEY HELP
 * where an absent field is "-", RANGE is "min..max" (or "-"), KEY is "key" or "-" (not a
 * config-file key), and HELP ends with " (repeatable)" for a repeatable option.
 */
void opt_print_list(const struct opt_table *table, FILE *out);

#endif
