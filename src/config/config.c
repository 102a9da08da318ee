/* Generic key registry: parse, range-check and store values described by a config_table. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/util.h"

const struct config_key *config_find(const struct config_table *table, const char *key)
{
	/* The first byte before the whole name: a drive's identity file sets ~100 keys, each
	 * looked up in a table of ~100 (and strcmp is intercepted in the fuzz targets). */
	for (size_t i = 0; i < table->count; i++) {
		const struct config_key *k = &table->keys[i];
		if (k->name[0] == key[0] && strcmp(k->name, key) == 0)
			return k;
		for (size_t a = 0; a < 3 && k->aliases[a]; a++)
			if (k->aliases[a][0] == key[0] && strcmp(k->aliases[a], key) == 0)
				return k;
	}
	return NULL;
}

bool config_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = {"1", "true", "on", "yes"};
	static const char *const no[] = {"0", "false", "off", "no"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static void describe_choices(const struct config_key *key, char *out, size_t outlen)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; key->choices[i] && used < outlen; i++)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? "|" : "",
					 key->choices[i]);
}

static int store_value(const struct config_key *key, void *obj, const char *value, char *err,
		       size_t errlen)
{
	char *field = (char *)obj + key->offset;
	char why[160];
	uint64_t u;
	double d;
	bool b;
	char *end;

	switch (key->type) {
	case CONFIG_U32:
	case CONFIG_U64:
		if (parse_u64(value, (uint64_t)key->min, (uint64_t)key->max, &u, why, sizeof(why)))
			return errorf(err, errlen, "%s: %s", key->name, why);
		if (key->type == CONFIG_U32)
			*(uint32_t *)field = (uint32_t)u;
		else
			*(uint64_t *)field = u;
		return 0;
	case CONFIG_F64:
		errno = 0;
		d = strtod(value, &end);
		if (errno || end == value || *end || !isfinite(d)) {
			errorf(err, errlen, "%s: '%s' is not a number", key->name, value);
			return -1;
		}
		if (d < key->min || d > key->max) {
			errorf(err, errlen, "%s: %s is out of range [%g, %g]", key->name, value,
			       key->min, key->max);
			return -1;
		}
		*(double *)field = d;
		return 0;
	case CONFIG_BOOL:
		if (!config_parse_bool(value, &b)) {
			errorf(err, errlen, "%s: '%s' is not a boolean (on/off)", key->name, value);
			return -1;
		}
		*(bool *)field = b;
		return 0;
	case CONFIG_ENUM:
		for (uint32_t i = 0; key->choices[i]; i++) {
			if (strcasecmp(key->choices[i], value) == 0) {
				*(uint32_t *)field = i;
				return 0;
			}
		}
		char choices[256];
		describe_choices(key, choices, sizeof(choices));
		errorf(err, errlen, "%s: '%s' is not one of %s", key->name, value, choices);
		return -1;
	case CONFIG_STR:
		if (strlen(value) >= (size_t)key->max) {
			errorf(err, errlen, "%s: value longer than %.0f characters", key->name,
			       key->max - 1);
			return -1;
		}
		strcpy(field, value);
		return 0;
	}
	errorf(err, errlen, "%s: unsupported key type", key->name);
	return -1;
}

void config_defaults(const struct config_table *table, void *obj)
{
	for (size_t i = 0; i < table->count; i++) {
		char err[256];
		/* Defaults are part of the program: a bad one is a bug, caught by the unit tests. */
		if (store_value(&table->keys[i], obj, table->keys[i].default_value, err,
				sizeof(err)) != 0)
			abort();
	}
}

int config_set_in(const struct config_table *table, void *obj, const char *key, const char *value,
		  char *err, size_t errlen)
{
	const struct config_key *k = config_find(table, key);
	if (!k) {
		errorf(err, errlen, "%s: unknown %s key", key, table->name);
		return -1;
	}
	return store_value(k, obj, value, err, errlen);
}

int config_set_assignment(const struct config_table *table, void *obj, const char *assignment,
			  char *err, size_t errlen)
{
	const char *eq = strchr(assignment, '=');
	if (!eq || eq == assignment) {
		errorf(err, errlen, "'%s': expected key=value", assignment);
		return -1;
	}
	char key[128];
	size_t keylen = (size_t)(eq - assignment);
	if (keylen >= sizeof(key)) {
		errorf(err, errlen, "'%.40s...': key too long", assignment);
		return -1;
	}
	memcpy(key, assignment, keylen);
	key[keylen] = '\0';
	return config_set_in(table, obj, key, eq + 1, err, errlen);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int config_parse_text(const char *text, config_line_fn on_line, void *ctx, char *err,
		      size_t errlen)
{
	unsigned lineno = 0;
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		char line[1024];
		lineno++;
		if (len >= sizeof(line)) {
			errorf(err, errlen, "line %u: too long", lineno);
			return -1;
		}
		memcpy(line, text, len);
		line[len] = '\0';
		text += len + (nl ? 1 : 0);

		char *comment = strpbrk(line, "#;");
		if (comment)
			*comment = '\0';
		char *content = trim(line);
		if (!*content)
			continue;
		char *eq = strchr(content, '=');
		if (!eq) {
			errorf(err, errlen, "line %u: expected key = value", lineno);
			return -1;
		}
		*eq = '\0';
		char *key = trim(content), *value = trim(eq + 1);
		char msg[256];
		if (!*key) {
			errorf(err, errlen, "line %u: missing key", lineno);
			return -1;
		}
		if (on_line(key, value, ctx, msg, sizeof(msg)) != 0) {
			errorf(err, errlen, "line %u: %s", lineno, msg);
			return -1;
		}
	}
	return 0;
}

int config_parse_file(const char *path, config_line_fn on_line, void *ctx, char *err,
		      size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		errorf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *text = NULL;
	size_t size = 0, used = 0;
	for (;;) {
		if (used + 4096 + 1 > size) {
			size = size ? size * 2 : 8192;
			char *grown = realloc(text, size);
			if (!grown) {
				free(text);
				fclose(f);
				errorf(err, errlen, "%s: out of memory", path);
				return -1;
			}
			text = grown;
		}
		size_t n = fread(text + used, 1, 4096, f);
		used += n;
		if (n < 4096)
			break;
	}
	bool read_error = ferror(f);
	fclose(f);
	text[used] = '\0';
	if (read_error) {
		free(text);
		errorf(err, errlen, "%s: read error", path);
		return -1;
	}
	char msg[384];
	int rc = config_parse_text(text, on_line, ctx, msg, sizeof(msg));
	free(text);
	if (rc)
		errorf(err, errlen, "%s: %s", path, msg);
	return rc;
}

static int apply_ssd_line(const char *key, const char *value, void *ctx, char *err, size_t errlen)
{
	return config_set(ctx, key, value, err, errlen);
}

int config_load_ssd_file(struct ssd_params *params, const char *path, char *err, size_t errlen)
{
	return config_parse_file(path, apply_ssd_line, params, err, errlen);
}

int config_preset_path(const char *name_or_path, char *path, size_t pathlen)
{
	/* Also tells gcc the buffer exists, which its -Wformat-truncation under ASan doubts. */
	if (!path || !pathlen)
		return -1;
	if (strchr(name_or_path, '/') || access(name_or_path, R_OK) == 0) {
		snprintf(path, pathlen, "%s", name_or_path);
		return access(path, R_OK) == 0 ? 0 : -1;
	}
	char installed[4096];
	const char *dirs[] = {getenv("NVEMU_PRESET_DIR"),
			      data_dir("presets", installed, sizeof(installed)) ? NULL : installed};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		snprintf(path, pathlen, "%s/%s", dirs[i], name_or_path);
		if (access(path, R_OK) == 0)
			return 0;
		snprintf(path, pathlen, "%s/%s.conf", dirs[i], name_or_path);
		if (access(path, R_OK) == 0)
			return 0;
	}
	return -1;
}

void config_format_value(const struct config_key *key, const void *obj, char *out, size_t outlen)
{
	const char *field = (const char *)obj + key->offset;
	switch (key->type) {
	case CONFIG_U32: snprintf(out, outlen, "%" PRIu32, *(const uint32_t *)field); break;
	case CONFIG_U64: snprintf(out, outlen, "%" PRIu64, *(const uint64_t *)field); break;
	case CONFIG_F64: {
		/* The shortest text that reads back as the same double. */
		double v = *(const double *)field;
		for (int digits = 6; digits <= 17; digits++) {
			snprintf(out, outlen, "%.*g", digits, v);
			if (strtod(out, NULL) == v)
				break;
		}
		break;
	}
	case CONFIG_BOOL: snprintf(out, outlen, "%s", *(const bool *)field ? "on" : "off"); break;
	case CONFIG_ENUM: snprintf(out, outlen, "%s", key->choices[*(const uint32_t *)field]); break;
	case CONFIG_STR: snprintf(out, outlen, "%s", field); break;
	}
}

void config_print_keys(const struct config_table *table, FILE *stream)
{
	for (size_t i = 0; i < table->count; i++) {
		const struct config_key *k = &table->keys[i];
		char range[256] = "";
		if (k->type == CONFIG_ENUM)
			describe_choices(k, range, sizeof(range));
		else if (k->type == CONFIG_U32 || k->type == CONFIG_U64 || k->type == CONFIG_F64)
			snprintf(range, sizeof(range), "%g..%g", k->min, k->max);
		else if (k->type == CONFIG_BOOL)
			snprintf(range, sizeof(range), "on|off");
		fprintf(stream, "  %-20s default %-10s %-18s %s", k->name,
			*k->default_value ? k->default_value : "\"\"", range, k->doc);
		for (size_t a = 0; a < 3 && k->aliases[a]; a++)
			fprintf(stream, "%s%s", a ? ", " : " (FEMU/fio: ", k->aliases[a]);
		fprintf(stream, "%s\n", k->aliases[0] ? ")" : "");
	}
}
