/* Command-line option tables: parsing, --help and --list-options from one description. */
#include "config/options.h"

#include <assert.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "util/util.h"

#define HELP_COLUMN 28
#define HELP_WIDTH 96

static bool takes_value(const struct opt *o)
{
	return o->kind == OPT_TEXT || o->kind == OPT_NUMBER;
}

static void store(const struct opt *o, void *ctx, const char *value, uint64_t number)
{
	char *field = (char *)ctx + o->offset;
	switch (o->kind) {
	case OPT_FLAG:
		assert(o->size == sizeof(bool));
		*(bool *)field = true;
		break;
	case OPT_TEXT:
		assert(o->size == sizeof(const char *));
		*(const char **)field = value;
		break;
	case OPT_NUMBER:
		/* The range must fit the field: a table that says otherwise is a bug. */
		assert(o->size == 8 || o->max < (1ull << (8 * o->size)));
		switch (o->size) {
		case 1:
			*(uint8_t *)field = (uint8_t)number;
			break;
		case 2:
			*(uint16_t *)field = (uint16_t)number;
			break;
		case 4:
			*(uint32_t *)field = (uint32_t)number;
			break;
		default:
			*(uint64_t *)field = number;
			break;
		}
		break;
	default:
		break;
	}
}

/* One option with its value (NULL for a flag); `name` as the user wrote it, for messages. */
static int take(const struct opt *o, const char *name, const char *value, void *ctx, char *err,
		size_t errlen)
{
	uint64_t number = 0;
	if (o->kind == OPT_NUMBER) {
		char why[160];
		if (parse_u64(value, o->min, o->max, &number, why, sizeof(why)))
			return errorf(err, errlen, "%s: %s", name, why);
		if (o->step && number % o->step)
			return errorf(err, errlen, "%s: %s is not a multiple of %" PRIu64, name,
				      value, o->step);
	}
	if (o->apply)
		return o->apply(ctx, name, value, err, errlen);
	store(o, ctx, value, number);
	return 0;
}

void opt_defaults(const struct opt_table *table, void *ctx)
{
	for (size_t i = 0; i < table->count; i++) {
		const struct opt *o = &table->opts[i];
		char err[256];
		if (o->def && !(o->flags & OPT_DEFAULT_SHOWN) &&
		    take(o, o->name, o->def, ctx, err, sizeof(err))) {
			fprintf(stderr, "%s: bad default of --%s: %s\n", table->command, o->name,
				err);
			abort();
		}
	}
}

const struct opt *opt_find(const struct opt_table *table, const char *name)
{
	for (size_t i = 0; i < table->count; i++)
		if (table->opts[i].name && strcmp(table->opts[i].name, name) == 0)
			return &table->opts[i];
	return NULL;
}

int opt_set(const struct opt *o, const char *value, void *ctx, char *err, size_t errlen)
{
	if (o->kind != OPT_FLAG)
		return take(o, o->name, value, ctx, err, errlen);
	bool on;
	if (!config_parse_bool(value, &on))
		return errorf(err, errlen, "%s: '%s' is not yes or no", o->name, value);
	return on ? take(o, o->name, NULL, ctx, err, errlen) : 0;
}

/* The option as messages name it: its long name, else its letter. */
static void option_name(const struct opt *o, char *out, size_t outlen)
{
	if (o->name)
		snprintf(out, outlen, "--%s", o->name);
	else
		snprintf(out, outlen, "-%c", o->short_name);
}

int opt_parse(const struct opt_table *table, int argc, char **argv, void *ctx, bool stop_at_operand,
	      char *err, size_t errlen)
{
	struct option *longopts = calloc(table->count + 1, sizeof(*longopts));
	char *shortopts = malloc(2 * table->count + 3);
	if (!longopts || !shortopts) {
		free(longopts);
		free(shortopts);
		return errorf(err, errlen, "out of memory");
	}
	/* '+': stop at the first operand; ':': tell a missing value from an unknown option. */
	size_t nlong = 0, nshort = 0;
	if (stop_at_operand)
		shortopts[nshort++] = '+';
	shortopts[nshort++] = ':';
	for (size_t i = 0; i < table->count; i++) {
		const struct opt *o = &table->opts[i];
		if (o->kind == OPT_SECTION)
			continue;
		if (o->name)
			longopts[nlong++] =
			    (struct option){o->name, takes_value(o), NULL, 256 + (int)i};
		if (o->short_name) {
			shortopts[nshort++] = o->short_name;
			if (takes_value(o))
				shortopts[nshort++] = ':';
		}
	}
	shortopts[nshort] = '\0';

	int rc = 0, c;
	optind = 0; /* 0, not 1: glibc then also forgets the state of a previous parse */
	opterr = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct opt *o = NULL;
		if (c >= 256) {
			o = &table->opts[c - 256];
		} else if (c != '?' && c != ':') {
			for (size_t i = 0; i < table->count && !o; i++)
				if (table->opts[i].short_name == c &&
				    table->opts[i].kind != OPT_SECTION)
					o = &table->opts[i];
		}
		char name[64];
		if (!o) {
			/* For an unknown long option getopt leaves optopt 0 and passes over the word. */
			if (optopt)
				snprintf(name, sizeof(name), "-%c", optopt);
			else
				snprintf(name, sizeof(name), "%s", argv[optind - 1]);
			rc = c == ':' ? errorf(err, errlen, "%s needs a value", name)
				      : errorf(err, errlen, "unknown option '%s' (see %s --help)",
					       name, table->command);
			break;
		}
		if (o->kind == OPT_HELP || o->kind == OPT_LIST) {
			free(longopts);
			free(shortopts);
			(o->kind == OPT_HELP ? opt_print_help : opt_print_list)(table, stdout);
			exit(0);
		}
		option_name(o, name, sizeof(name));
		rc = take(o, name, takes_value(o) ? optarg : NULL, ctx, err, errlen);
	}
	free(longopts);
	free(shortopts);
	return rc ? -1 : optind;
}

/* A bound as people write it, from 1 MiB up: 64M rather than 67108864, but 4096 as it is. */
static void format_number(uint64_t v, char *out, size_t outlen)
{
	static const char units[] = "KMGT";
	for (int u = 3; u >= 1; u--) {
		unsigned shift = 10 * (unsigned)(u + 1);
		if (v >= 1ull << shift && v % (1ull << shift) == 0) {
			snprintf(out, outlen, "%" PRIu64 "%c", v >> shift, units[u]);
			return;
		}
	}
	snprintf(out, outlen, "%" PRIu64, v);
}

/* "1..1024", "0..131072, a multiple of 16": empty when a number has no bound but the type's. */
static void format_range(const struct opt *o, char *out, size_t outlen)
{
	char min[32], max[32], step[32];
	out[0] = '\0';
	if (o->kind != OPT_NUMBER || o->max == UINT64_MAX)
		return;
	format_number(o->min, min, sizeof(min));
	format_number(o->max, max, sizeof(max));
	format_number(o->step, step, sizeof(step));
	snprintf(out, outlen, o->step ? "%s..%s, a multiple of %s" : "%s..%s", min, max, step);
}

/* "(1..1024; repeatable; default 64)": what --help and the man page add to an option's help. */
static void describe(const struct opt *o, char *out, size_t outlen)
{
	format_range(o, out, outlen);
	size_t used = strlen(out);
	if (o->flags & OPT_REPEATABLE && used < outlen)
		used +=
		    (size_t)snprintf(out + used, outlen - used, "%srepeatable", used ? "; " : "");
	if (o->def && used < outlen)
		snprintf(out + used, outlen - used, "%sdefault %s", used ? "; " : "", o->def);
}

/* Words of `text` from column `col` on, wrapped at HELP_WIDTH and indented to HELP_COLUMN. */
static void print_wrapped(FILE *out, const char *text, int col)
{
	for (const char *word = text; *word;) {
		int len = (int)strcspn(word, " ");
		if (word != text && col + 1 + len > HELP_WIDTH) {
			fprintf(out, "\n%*s", HELP_COLUMN, "");
			col = HELP_COLUMN;
		} else if (word != text) {
			fputc(' ', out);
			col++;
		}
		fprintf(out, "%.*s", len, word);
		col += len;
		word += len + strspn(word + len, " ");
	}
	fputc('\n', out);
}

void opt_print_help(const struct opt_table *table, FILE *out)
{
	fputs(table->usage, out);
	for (size_t i = 0; i < table->count; i++) {
		const struct opt *o = &table->opts[i];
		if (o->kind == OPT_SECTION) {
			fprintf(out, "%s\n", o->help);
			continue;
		}
		char names[80], more[160], text[512];
		int n;
		if (o->short_name && o->name)
			n = snprintf(names, sizeof(names), "  -%c, --%s", o->short_name, o->name);
		else if (o->short_name)
			n = snprintf(names, sizeof(names), "  -%c", o->short_name);
		else
			n = snprintf(names, sizeof(names), "      --%s", o->name);
		if (o->arg)
			n += snprintf(names + n, sizeof(names) - (size_t)n, " %s", o->arg);
		describe(o, more, sizeof(more));
		snprintf(text, sizeof(text), more[0] ? "%s (%s)" : "%s", o->help, more);
		fprintf(out, "%-*s ", HELP_COLUMN - 1, names);
		print_wrapped(out, text, (n < HELP_COLUMN - 1 ? HELP_COLUMN - 1 : n) + 1);
	}
	if (table->epilog)
		fputs(table->epilog, out);
}

void opt_print_list(const struct opt_table *table, FILE *out)
{
	for (size_t i = 0; i < table->count; i++) {
		const struct opt *o = &table->opts[i];
		if (o->kind == OPT_SECTION) {
			fprintf(out, "section\t%s\n", o->help);
			continue;
		}
		char shortname[3] = "-", longname[64] = "-", range[96];
		if (o->short_name)
			snprintf(shortname, sizeof(shortname), "-%c", o->short_name);
		if (o->name)
			snprintf(longname, sizeof(longname), "--%s", o->name);
		format_range(o, range, sizeof(range));
		if (!range[0])
			snprintf(range, sizeof(range), "-");
		fprintf(out, "option\t%s\t%s\t%s\t%s\t%s\t%s\t%s%s\n", shortname, longname,
			o->arg ? o->arg : "-", o->def ? o->def : "-", range,
			o->name && !(o->flags & OPT_NOT_A_KEY) ? o->name : "-", o->help,
			o->flags & OPT_REPEATABLE ? " (repeatable)" : "");
	}
}
