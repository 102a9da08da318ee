#include "cli/config_file.h"

#include "config/config.h"
#include "fault/fault.h"
#include "ns/ns.h"
#include "util/util.h"

#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECTIONS 256
#define NAME_LEN 128

struct subsys_section {
	char name[NAME_LEN];
	char *nqn;
	struct arg_list hosts; /* its allow_host, dhchap_key, dhchap_ctrl_key keys as options */
};

struct ns_section {
	char name[NAME_LEN];
	char subsys[NAME_LEN]; /* empty: the subsystem defined last before it */
	char *kind, *size, *lba_size, *preset;
	struct arg_list keys; /* "--ns-o" "key=value" pairs */
};

struct fault_section {
	char name[NAME_LEN];
	bool typed;
	struct fault_spec spec;
	struct arg_list early; /* key, value pairs seen before the type */
};

struct reader {
	const char *path;
	const struct opt_table *table;
	config_check_fn check;
	struct arg_list global;
	struct subsys_section subsys[MAX_SECTIONS];
	unsigned nsubsys;
	struct ns_section ns[MAX_SECTIONS];
	unsigned nns;
	struct fault_section faults[MAX_SECTIONS];
	unsigned nfaults;
	char seen[MAX_SECTIONS][NAME_LEN];
	unsigned nseen;
	char current[NAME_LEN];
	char message[1024];
};

static void copy_name(char *dst, const char *src)
{
	size_t n = strnlen(src, NAME_LEN - 1);
	memmove(dst, src, n);
	dst[n] = '\0';
}

static int fail(struct reader *r, const char *fmt, const char *a, const char *b)
{
	/* inih keeps going after an error; the first message is the one reported. */
	if (!r->message[0])
		snprintf(r->message, sizeof(r->message), fmt, a, b);
	return 0;
}

/* The check of an option the table is known to have. */
static int check(struct reader *r, const char *option, const char *value, char *err, size_t errlen)
{
	return r->check(opt_find(r->table, option), value, err, errlen);
}

static int global_key(struct reader *r, const char *key, const char *value)
{
	char name[NAME_LEN];
	copy_name(name, key);
	for (char *c = name; *c; c++)
		if (*c == '_')
			*c = '-';
	const struct opt *opt = opt_find(r->table, name);
	if (!opt || opt->flags & OPT_NOT_A_KEY)
		return fail(r, "[nvemu] unknown key '%s'%s", key, "");
	char err[400];
	if (r->check(opt, value, err, sizeof(err)))
		return fail(r, "[nvemu] %s%s", err, "");
	char option[NAME_LEN + 2];
	snprintf(option, sizeof(option), "--%s", name);
	bool on;
	if (opt->kind == OPT_FLAG)
		return !(config_parse_bool(value, &on) && on) ||
		       arg_list_push(&r->global, option) == 0;
	return arg_list_push(&r->global, option) == 0 && arg_list_push(&r->global, value) == 0;
}

static int replace(char **field, const char *value)
{
	free(*field);
	return (*field = strdup(value)) != NULL;
}

static int namespace_key(struct reader *r, struct ns_section *ns, const char *key, const char *value)
{
	if (strcmp(key, "subsystem") == 0) {
		copy_name(ns->subsys, value);
		return 1;
	}
	char assignment[512], err[400];
	enum ns_kind kind;
	uint64_t number;
	if (strcmp(key, "kind") == 0)
		return ns_kind_parse(value, &kind) == 0
			   ? replace(&ns->kind, value)
			   : fail(r, "[namespace %s] kind '%s' is not ram, nossd, ssd or zoned", ns->name, value);
	if (strcmp(key, "size") == 0)
		return parse_u64(value, 1, UINT64_MAX, &number, NULL, 0) == 0
			   ? replace(&ns->size, value)
			   : fail(r, "[namespace %s] size '%s' is not a size (like 512M or 4G)",
				  ns->name, value);
	if (strcmp(key, "lba_size") == 0 || strcmp(key, "lba-size") == 0)
		return strcmp(value, "512") == 0 || strcmp(value, "4096") == 0
			   ? replace(&ns->lba_size, value)
			   : fail(r, "[namespace %s] lba_size '%s' is not 512 or 4096", ns->name, value);
	if (strcmp(key, "preset") == 0)
		return check(r, "ns-preset", value, err, sizeof(err)) == 0
			   ? replace(&ns->preset, value)
			   : fail(r, "[namespace %s] %s", ns->name, err);
	snprintf(assignment, sizeof(assignment), "%s=%s", key, value);
	if (check(r, "ns-o", assignment, err, sizeof(err)))
		return fail(r, "[namespace %s] %s", ns->name, err);
	return arg_list_push(&ns->keys, "--ns-o") == 0 && arg_list_push(&ns->keys, assignment) == 0;
}

/* The hosts a subsystem admits, in the order given: each secret belongs to the host before it. */
static int subsystem_host_key(struct reader *r, struct subsys_section *sub, const char *section,
			      const char *option, const char *value)
{
	bool secret = strcmp(option, "allow-host") != 0;
	if (secret && !sub->hosts.argc)
		return fail(r, "[%s] %s belongs to the allow_host before it, and there is none",
			    section, option);
	char err[400];
	if (check(r, option, value, err, sizeof(err)))
		return fail(r, "[%s] %s", section, err);
	char flag[NAME_LEN + 2];
	snprintf(flag, sizeof(flag), "--%s", option);
	return arg_list_push(&sub->hosts, flag) == 0 && arg_list_push(&sub->hosts, value) == 0;
}

static int subsystem_key(struct reader *r, struct subsys_section *sub, const char *section,
			 const char *key, const char *value)
{
	static const char *const host_keys[] = {"allow-host", "dhchap-key", "dhchap-ctrl-key"};
	char name[NAME_LEN];
	copy_name(name, key);
	for (char *c = name; *c; c++)
		if (*c == '_')
			*c = '-';
	for (size_t i = 0; i < ARRAY_SIZE(host_keys); i++)
		if (strcmp(name, host_keys[i]) == 0)
			return subsystem_host_key(r, sub, section, host_keys[i], value);
	if (strcmp(key, "nqn") != 0)
		return fail(
		    r,
		    "[%s] unknown key '%s' (a subsystem has nqn, allow_host, dhchap_key and "
		    "dhchap_ctrl_key)",
		    section, key);
	/* The same rule the target applies, here so that the message has a line. */
	if (strncmp(value, "nqn.", 4) != 0 || strlen(value) >= 256)
		return fail(r, "[%s] nqn '%s' must start with 'nqn.' and be under 256 bytes",
			    section, value);
	return replace(&sub->nqn, value);
}

/* A key of a section seen for the first time opens it; seeing it again later is a duplicate. */
static int open_section(struct reader *r, const char *section)
{
	bool subsystem = strncmp(section, "subsystem ", 10) == 0;
	bool namespace = strncmp(section, "namespace ", 10) == 0;
	bool fault = strncmp(section, "fault ", 6) == 0;
	if (!subsystem && !namespace && !fault && strcmp(section, "nvemu") != 0)
		return fail(r,
			    "unknown section [%s] (expected [nvemu], [subsystem NAME], "
			    "[namespace NAME] or [fault NAME])%s",
			    section, "");
	for (unsigned i = 0; i < r->nseen; i++)
		if (strcmp(r->seen[i], section) == 0)
			return fail(r, "duplicate section [%s]%s", section, "");
	if (r->nseen == MAX_SECTIONS)
		return fail(r, "more than 256 sections at [%s]%s", section, "");
	copy_name(r->seen[r->nseen++], section);
	if (subsystem) {
		copy_name(r->subsys[r->nsubsys++].name, section + 10);
	} else if (namespace) {
		struct ns_section *ns = &r->ns[r->nns++];
		copy_name(ns->name, section + 10);
		if (r->nsubsys)
			copy_name(ns->subsys, r->subsys[r->nsubsys - 1].name);
	} else if (fault) {
		copy_name(r->faults[r->nfaults++].name, section + 6);
	}
	/* Only now: the keys that follow go to a section that exists. */
	copy_name(r->current, section);
	return 1;
}

/* A fault's key, checked against its type as soon as the type is known. */
static int fault_key(struct reader *r, struct fault_section *f, const char *key, const char *value)
{
	char err[400];
	if (strcmp(key, "type") == 0) {
		enum fault_type type;
		if (f->typed)
			return fail(r, "[fault %s] has two types%s", f->name, "");
		if (fault_type_parse(value, &type))
			return fail(r, "[fault %s] type '%s' is not a fault type (nvemu fault "
				       "--list-types)", f->name, value);
		fault_spec_init(&f->spec, type);
		f->typed = true;
		for (int i = 0; i + 1 < f->early.argc; i += 2)
			if (fault_spec_set(&f->spec, f->early.argv[i], f->early.argv[i + 1], err,
					   sizeof(err)))
				return fail(r, "[fault %s] %s", f->name, err);
		return 1;
	}
	if (!f->typed)
		return arg_list_push(&f->early, key) == 0 && arg_list_push(&f->early, value) == 0;
	if (fault_spec_set(&f->spec, key, value, err, sizeof(err)))
		return fail(r, "[fault %s] %s", f->name, err);
	return 1;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct reader *r = user;
	/* A key before any [section] (or under a header inih could not read) belongs to none. */
	if (!section[0])
		return fail(r,
			    "key '%s' outside a section (expected [nvemu], [subsystem NAME] or "
			    "[namespace NAME] above it)%s",
			    key, "");
	if (strcmp(section, r->current) != 0 && !open_section(r, section))
		return 0;
	if (strcmp(section, "nvemu") == 0)
		return global_key(r, key, value);
	if (strncmp(section, "subsystem ", 10) == 0)
		return subsystem_key(r, &r->subsys[r->nsubsys - 1], section, key, value);
	if (strncmp(section, "fault ", 6) == 0)
		return fault_key(r, &r->faults[r->nfaults - 1], key, value);
	return namespace_key(r, &r->ns[r->nns - 1], key, value);
}

static int emit_namespace(struct reader *r, struct ns_section *ns, struct arg_list *out)
{
	if (!ns->kind)
		return fail(r, "[namespace %s] has no kind%s", ns->name, "");
	char spec[256];
	snprintf(spec, sizeof(spec), "%s:%s:%s", ns->kind, ns->size ? ns->size : "",
		 ns->lba_size ? ns->lba_size : "");
	char err[400];
	if (check(r, "ns", spec, err, sizeof(err)))
		return fail(r, "[namespace %s] %s", ns->name, err);
	if (arg_list_push(out, "--ns") || arg_list_push(out, spec))
		return 0;
	if (ns->preset && (arg_list_push(out, "--ns-preset") || arg_list_push(out, ns->preset)))
		return 0;
	for (int i = 0; i < ns->keys.argc; i++)
		if (arg_list_push(out, ns->keys.argv[i]))
			return 0;
	return 1;
}

/* A [fault NAME] as the --fault it stands for, named after its section. */
static int emit_fault(struct reader *r, struct fault_section *f, struct arg_list *out)
{
	char err[400], text[FAULT_TEXT_MAX];
	if (!f->typed)
		return fail(r, "[fault %s] has no type%s", f->name, "");
	if (!f->spec.name[0] && fault_spec_set(&f->spec, "name", f->name, err, sizeof(err)))
		return fail(r, "[fault %s] the section's %s", f->name, err);
	if (fault_spec_check(&f->spec, err, sizeof(err)))
		return fail(r, "[fault %s] %s", f->name, err);
	fault_spec_format(&f->spec, text, sizeof(text));
	return arg_list_push(out, "--fault") == 0 && arg_list_push(out, text) == 0;
}

static int assemble(struct reader *r, struct arg_list *out)
{
	for (int i = 0; i < r->global.argc; i++)
		if (arg_list_push(out, r->global.argv[i]))
			return 0;
	for (unsigned n = 0; n < r->nns; n++) {
		bool found = !r->ns[n].subsys[0];
		for (unsigned s = 0; s < r->nsubsys && !found; s++)
			found = strcmp(r->subsys[s].name, r->ns[n].subsys) == 0;
		if (!found)
			return fail(r, "[namespace %s] names no [subsystem %s]", r->ns[n].name, r->ns[n].subsys);
	}
	/* Namespaces before any subsystem go to the default one, which comes first. */
	for (unsigned n = 0; n < r->nns; n++)
		if (!r->ns[n].subsys[0] && !emit_namespace(r, &r->ns[n], out))
			return 0;
	for (unsigned s = 0; s < r->nsubsys; s++) {
		/* A section exists once it has a key, and it may have no nqn key among them. */
		char err[400];
		if (!r->subsys[s].nqn)
			return fail(r, "[subsystem %s] has no nqn%s", r->subsys[s].name, "");
		if (check(r, "nqn", r->subsys[s].nqn, err, sizeof(err)))
			return fail(r, "[subsystem %s] %s", r->subsys[s].name, err);
		if (arg_list_push(out, "--nqn") || arg_list_push(out, r->subsys[s].nqn))
			return 0;
		for (int i = 0; i < r->subsys[s].hosts.argc; i++)
			if (arg_list_push(out, r->subsys[s].hosts.argv[i]))
				return 0;
		for (unsigned n = 0; n < r->nns; n++)
			if (strcmp(r->ns[n].subsys, r->subsys[s].name) == 0 &&
			    !emit_namespace(r, &r->ns[n], out))
				return 0;
	}
	for (unsigned f = 0; f < r->nfaults; f++)
		if (!emit_fault(r, &r->faults[f], out))
			return 0;
	return 1;
}

static void reader_free(struct reader *r)
{
	arg_list_free(&r->global);
	for (unsigned s = 0; s < r->nsubsys; s++) {
		free(r->subsys[s].nqn);
		arg_list_free(&r->subsys[s].hosts);
	}
	for (unsigned n = 0; n < r->nns; n++) {
		free(r->ns[n].kind);
		free(r->ns[n].size);
		free(r->ns[n].lba_size);
		free(r->ns[n].preset);
		arg_list_free(&r->ns[n].keys);
	}
	for (unsigned f = 0; f < r->nfaults; f++)
		arg_list_free(&r->faults[f].early);
	free(r);
}

int config_file_to_args(const char *path, const struct opt_table *table, config_check_fn check,
			struct arg_list *out, char *err, size_t errlen)
{
	struct reader *r = calloc(1, sizeof(*r));
	if (!r)
		return errorf(err, errlen, "%s: out of memory", path);
	r->path = path;
	r->table = table;
	r->check = check;
	int line = ini_parse(path, on_key, r);
	int rc = 0;
	if (line < 0) {
		snprintf(err, errlen, "%s: cannot read the config file", path);
		rc = -1;
	} else if (line > 0) {
		snprintf(err, errlen, "%s:%d: %s", path, line,
			 r->message[0] ? r->message : "not a 'key = value' line or a [section]");
		rc = -1;
	} else if (!assemble(r, out)) {
		snprintf(err, errlen, "%s: %s", path, r->message[0] ? r->message : "out of memory");
		rc = -1;
	}
	reader_free(r);
	return rc;
}
