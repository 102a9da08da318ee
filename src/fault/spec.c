/* Fault specifications: the types, the key table, parsing, checking and printing. */
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "fault/fault.h"
#include "spec/nvme.h"
#include "util/util.h"

#define T(x) (1u << FAULT_##x)
/* Types whose effect is on commands, and those that also fire on commands. */
#define COMMAND_TYPES                                                                              \
	(T(READ_ERROR) | T(WRITE_ERROR) | T(READ_RETRY) | T(LATENCY) | T(GC_STORM) | T(TIMEOUT))
#define ON_COMMANDS (COMMAND_TYPES | T(CFS) | T(LINK_DROP))
#define TRIGGERED (ON_COMMANDS | T(NS_ADD) | T(NS_REMOVE))
#define NS_SCOPED (ON_COMMANDS | T(READ_ONLY) | T(DIE_OFFLINE) | T(NS_ADD) | T(NS_REMOVE))
#define ALL_TYPES ((1u << FAULT_TYPES) - 1)

static const struct {
	const char *name;
	enum fault_class cls;
	uint32_t allowed_ops; /* what op= may pick; 0: op= is not a key of the type */
	const char *help;
} types[FAULT_TYPES] = {
    [FAULT_READ_ERROR] = {"read-error", FAULT_CLASS_COMMAND, FAULT_OP_READS,
			  "reads of the blocks fail with Unrecovered Read Error until they are "
			  "written again"},
    [FAULT_WRITE_ERROR] = {"write-error", FAULT_CLASS_COMMAND, FAULT_OP_WRITES,
			   "writes fail with Write Fault; the blocks keep their old data"},
    [FAULT_READ_RETRY] = {"read-retry", FAULT_CLASS_COMMAND, FAULT_OP_READS,
			  "reads succeed after latency_us more (soft-decoding retries)"},
    [FAULT_DIE_OFFLINE] = {"die-offline", FAULT_CLASS_STATE, 0,
			   "die `die` of namespace nsid's flash model is lost: reads of the data it "
			   "held fail with Unrecovered Read Error until rewritten, writes go to the "
			   "other dies; critical warning bit 2"},
    [FAULT_LATENCY] = {"latency", FAULT_CLASS_COMMAND, FAULT_OP_ALL,
		       "matching commands complete latency_us later (fixed, uniform or "
		       "exponential)"},
    [FAULT_GC_STORM] = {"gc-storm", FAULT_CLASS_COMMAND, FAULT_OP_READS | FAULT_OP_WRITES,
			"a critical-GC window: writes take latency_us more, reads "
			"read_latency_us"},
    [FAULT_THERMAL] = {"thermal", FAULT_CLASS_STATE, 0,
		       "temperature rises with load (or is pinned); at threshold_c commands "
		       "slow by factor and the critical warning is set"},
    [FAULT_CFS] = {"cfs", FAULT_CLASS_EVENT, FAULT_OP_ALL,
		   "Controller Fatal Status: CSTS.CFS is set and the controller answers only "
		   "property commands until the host resets it"},
    [FAULT_TIMEOUT] = {"timeout", FAULT_CLASS_COMMAND, FAULT_OP_ALL,
		       "matching commands are never answered (the host times out)"},
    [FAULT_LINK_DROP] = {"link-drop", FAULT_CLASS_EVENT, FAULT_OP_ALL,
			 "every connection is dropped at once; new ones are refused for "
			 "down_ms"},
    [FAULT_READ_ONLY] = {"read-only", FAULT_CLASS_STATE, 0,
			 "the media turn read-only: writes fail with Attempted Write to Read "
			 "Only Range, critical warning bit 3"},
    [FAULT_SPARE_LOW] = {"spare-low", FAULT_CLASS_STATE, 0,
			 "available spare falls to spare% (threshold 10%): critical warning "
			 "bit 0"},
    [FAULT_NS_ADD] = {"ns-add", FAULT_CLASS_EVENT, 0,
		      "namespace nsid is attached (Namespace Attribute Changed event, log 04h)"},
    [FAULT_NS_REMOVE] = {"ns-remove", FAULT_CLASS_EVENT, 0,
			 "namespace nsid is detached (Namespace Attribute Changed event, log "
			 "04h); re-attached when for_ms ends"},
};

enum key_kind { KEY_NUMBER, KEY_DECIMAL, KEY_NAME, KEY_NQN, KEY_OPS, KEY_DIST, KEY_BOOL };

struct key {
	const char *name;
	enum key_kind kind;
	size_t offset;
	uint64_t min, max;
	unsigned decimals; /* KEY_DECIMAL: fraction digits kept */
	uint32_t types;
	const char *def;
	const char *help;
};

#define AT(field) offsetof(struct fault_spec, field)

static const struct key keys[] = {
    {"name", KEY_NAME, AT(name), 0, 0, 0, ALL_TYPES, "-", "a name for listings (letters, digits, . _ -)"},
    {"nqn", KEY_NQN, AT(nqn), 0, 0, 0, ALL_TYPES, "every subsystem", "the subsystem it acts on"},
    {"nsid", KEY_NUMBER, AT(nsid), 1, 0xFFFFFFFE, 0, NS_SCOPED, "every namespace",
     "the namespace (ns-add, ns-remove: the one attached or detached; die-offline: the ssd "
     "namespace whose die)"},
    {"lba", KEY_NUMBER, AT(lba), 0, UINT64_MAX, 0, ON_COMMANDS, "0", "first block of the range"},
    {"count", KEY_NUMBER, AT(count), 1, UINT64_MAX, 0, ON_COMMANDS, "to the end",
     "blocks in the range from lba"},
    {"zone", KEY_NUMBER, AT(zone), 0, UINT64_MAX, 0, ON_COMMANDS, "-",
     "the range is this zone (zoned namespaces)"},
    {"die", KEY_NUMBER, AT(die), 0, UINT32_MAX - 1, 0, T(DIE_OFFLINE), "-",
     "the die lost (0 to the model's dies - 1; channel-major: die = channel + channels x lun)"},
    {"op", KEY_OPS, AT(ops), 0, 0, 0, ON_COMMANDS, "the type's",
     "command kinds, comma-separated: read write flush dsm write_zeroes compare verify "
     "append zone_send zone_recv"},
    {"cntlid", KEY_NUMBER, AT(cntlid), 1, 0xFFEF, 0, ON_COMMANDS, "every controller",
     "the controller (commands of its queues; cfs: the one made fatal)"},
    {"at_ms", KEY_NUMBER, AT(at_ms), 0, UINT64_MAX / 1000000, 0, ALL_TYPES, "0",
     "active from this many ms after it is added (the daemon's start for config faults)"},
    {"for_ms", KEY_NUMBER, AT(for_ms), 1, UINT64_MAX / 1000000, 0, ALL_TYPES, "until cleared",
     "active for this many ms"},
    {"after", KEY_NUMBER, AT(after), 0, UINT64_MAX, 0, TRIGGERED, "0",
     "matching commands let through before it fires"},
    {"probability", KEY_DECIMAL, AT(probability), 1, FAULT_PROBABILITY_ONE, 9, TRIGGERED, "1",
     "chance per matching command, 0 < P <= 1, drawn from seed"},
    {"times", KEY_NUMBER, AT(times), 1, UINT64_MAX, 0, TRIGGERED,
     "no limit (timeout and events: 1)", "firings at most"},
    {"seed", KEY_NUMBER, AT(seed), 0, UINT64_MAX, 0, ALL_TYPES, "1",
     "seed of the draws (probability, latency)"},
    {"latency_us", KEY_NUMBER, AT(latency_us), 0, 3600000000ull, 0,
     T(READ_RETRY) | T(LATENCY) | T(GC_STORM), "500 (latency 1000, gc-storm 5000)",
     "added latency; with dist=exponential its mean"},
    {"max_us", KEY_NUMBER, AT(max_us), 0, 3600000000ull, 0, T(LATENCY), "latency_us x 10",
     "uniform: the upper bound (latency_us the lower); exponential: the cap"},
    {"dist", KEY_DIST, AT(dist), 0, 0, 0, T(LATENCY), "fixed", "fixed, uniform or exponential"},
    {"read_latency_us", KEY_NUMBER, AT(read_latency_us), 0, 3600000000ull, 0, T(GC_STORM), "0",
     "latency added to reads during the storm"},
    {"dnr", KEY_BOOL, AT(dnr), 0, 0, 0, T(READ_ERROR) | T(WRITE_ERROR), "1",
     "set Do Not Retry in the status (0: the host retries)"},
    {"temp_c", KEY_NUMBER, AT(temp_c), 0, 200, 0, T(THERMAL), "-",
     "pin the temperature (no load model)"},
    {"ambient_c", KEY_NUMBER, AT(ambient_c), 0, 200, 0, T(THERMAL), "35",
     "temperature of an idle drive"},
    {"threshold_c", KEY_NUMBER, AT(threshold_c), 1, 200, 0, T(THERMAL), "70",
     "throttling and critical warning from here on (WCTEMP)"},
    {"critical_c", KEY_NUMBER, AT(critical_c), 1, 200, 0, T(THERMAL), "85",
     "critical composite temperature (CCTEMP)"},
    {"heat", KEY_DECIMAL, AT(heat), 0, 1000000 * FAULT_MILLI, 3, T(THERMAL), "0.5",
     "degrees gained per GiB read or written"},
    {"tau_ms", KEY_NUMBER, AT(tau_ms), 1, 3600000, 0, T(THERMAL), "30000",
     "cooling time constant toward ambient"},
    {"factor", KEY_DECIMAL, AT(factor), FAULT_MILLI, 1000 * FAULT_MILLI, 3, T(THERMAL), "2",
     "throttled commands take factor x the modelled time"},
    {"spare", KEY_NUMBER, AT(spare), 0, 9, 0, T(SPARE_LOW), "5",
     "available spare in percent (below the threshold of 10)"},
    {"down_ms", KEY_NUMBER, AT(down_ms), 0, 3600000, 0, T(LINK_DROP), "0",
     "new connections refused for this long"},
};

_Static_assert(ARRAY_SIZE(keys) <= 64, "fault_spec.given has a bit per key");

static const char *const op_names[] = {"read",	      "write",	 "flush",  "dsm",
				       "write_zeroes", "compare", "verify", "append",
				       "zone_send",   "zone_recv"};
static const char *const dist_names[] = {"fixed", "uniform", "exponential"};

const char *fault_type_name(enum fault_type type)
{
	return (unsigned)type < FAULT_TYPES ? types[type].name : "?";
}

int fault_type_parse(const char *name, enum fault_type *out)
{
	for (unsigned t = 0; t < FAULT_TYPES; t++) {
		if (strcmp(name, types[t].name) == 0) {
			*out = (enum fault_type)t;
			return 0;
		}
	}
	return -1;
}

enum fault_class fault_class_of(enum fault_type type) { return types[type].cls; }

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool given(const struct fault_spec *spec, const char *name)
{
	const struct key *k = find_key(name);
	return spec->given & (1ull << (k - keys));
}

/* The keys that tie a fault to commands, as bits of fault_spec.given; found once by name, as
 * the data path asks for each command while an event fault waits. */
static uint64_t trigger_keys, nsid_key;
static pthread_once_t trigger_keys_once = PTHREAD_ONCE_INIT;

static void find_trigger_keys(void)
{
	static const char *const triggers[] = {"after", "probability", "op", "lba", "count", "zone",
					       "cntlid"};
	for (size_t i = 0; i < ARRAY_SIZE(triggers); i++)
		trigger_keys |= 1ull << (find_key(triggers[i]) - keys);
	nsid_key = 1ull << (find_key("nsid") - keys);
}

bool fault_spec_command_triggered(const struct fault_spec *spec)
{
	switch (types[spec->type].cls) {
	case FAULT_CLASS_COMMAND:
		return true;
	case FAULT_CLASS_STATE:
		return false;
	case FAULT_CLASS_EVENT:
		break;
	}
	pthread_once(&trigger_keys_once, find_trigger_keys);
	if (spec->given & trigger_keys)
		return true;
	/* nsid names a namespace to attach or detach, not a command to fire on. */
	return spec->type != FAULT_NS_ADD && spec->type != FAULT_NS_REMOVE && (spec->given & nsid_key);
}

void fault_spec_init(struct fault_spec *spec, enum fault_type type)
{
	memset(spec, 0, sizeof(*spec));
	spec->type = type;
	spec->ops = types[type].allowed_ops ? types[type].allowed_ops : FAULT_OP_ALL;
	spec->probability = FAULT_PROBABILITY_ONE;
	spec->seed = 1;
	spec->dnr = true;
	spec->latency_us = type == FAULT_LATENCY ? 1000 : type == FAULT_GC_STORM ? 5000 : 500;
	spec->times = type == FAULT_TIMEOUT || types[type].cls == FAULT_CLASS_EVENT ? 1 : 0;
	spec->ambient_c = 35;
	spec->threshold_c = 70;
	spec->critical_c = 85;
	spec->heat = FAULT_MILLI / 2;
	spec->tau_ms = 30000;
	spec->factor = 2 * FAULT_MILLI;
	spec->spare = 5;
}

/* digits[.digits], at most `decimals` of them after the point, as an integer scaled by 10^decimals. */
static int parse_decimal(const char *text, unsigned decimals, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = text;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	unsigned kept = 0;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++, kept++) {
			if (kept >= decimals || v > (UINT64_MAX - 9) / 10)
				return -1;
			v = v * 10 + (uint64_t)(*p - '0');
		}
	}
	if (*p)
		return -1;
	for (; kept < decimals; kept++) {
		if (v > UINT64_MAX / 10)
			return -1;
		v *= 10;
	}
	*out = v;
	return 0;
}

static void format_decimal(uint64_t v, unsigned decimals, char *out, size_t outlen)
{
	uint64_t scale = 1;
	for (unsigned i = 0; i < decimals; i++)
		scale *= 10;
	int n = snprintf(out, outlen, "%" PRIu64, v / scale);
	uint64_t frac = v % scale;
	if (!frac || n < 0 || (size_t)n >= outlen)
		return;
	char digits[24];
	snprintf(digits, sizeof(digits), "%0*" PRIu64, (int)decimals, frac);
	size_t len = strlen(digits);
	while (len && digits[len - 1] == '0')
		digits[--len] = '\0';
	snprintf(out + n, outlen - (size_t)n, ".%s", digits);
}

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

static int parse_ops(const char *text, uint32_t allowed, uint32_t *out, char *err, size_t errlen)
{
	char copy[256];
	if (strlen(text) >= sizeof(copy))
		return errorf(err, errlen, "op: '%.40s...' is too long", text);
	strcpy(copy, text);
	uint32_t ops = 0;
	for (char *rest = copy, *word; (word = strsep(&rest, ","));) {
		size_t i = 0;
		while (i < ARRAY_SIZE(op_names) && strcmp(op_names[i], word) != 0)
			i++;
		if (i == ARRAY_SIZE(op_names) && !*word)
			return errorf(err, errlen, "op: an empty command kind in '%s'", text);
		if (i == ARRAY_SIZE(op_names))
			return errorf(err, errlen, "op: '%s' is not a command kind (read, write, flush, "
				      "dsm, write_zeroes, compare, verify, append, zone_send, zone_recv)",
				      word);
		if (!(allowed & (1u << i)))
			return errorf(err, errlen, "op: this fault type does not act on '%s'", word);
		ops |= 1u << i;
	}
	*out = ops;
	return 0;
}

static int set_value(struct fault_spec *spec, const struct key *k, const char *value, char *err,
		     size_t errlen)
{
	void *field = (char *)spec + k->offset;
	char range[80];
	uint64_t v;
	switch (k->kind) {
	case KEY_NUMBER:
		if (parse_u64(value, k->min, k->max, &v, range, sizeof(range)))
			return errorf(err, errlen, "%s: %s", k->name, range);
		*(uint64_t *)field = v;
		return 0;
	case KEY_DECIMAL: {
		char lo[32], hi[32];
		format_decimal(k->min, k->decimals, lo, sizeof(lo));
		format_decimal(k->max, k->decimals, hi, sizeof(hi));
		if (parse_decimal(value, k->decimals, &v) || v < k->min || v > k->max)
			return errorf(err, errlen, "%s: '%s' is not a decimal in [%s, %s] (at most %u "
				      "digits after the point)", k->name, value, lo, hi, k->decimals);
		*(uint64_t *)field = v;
		return 0;
	}
	case KEY_NAME:
		if (!name_ok(value) || strlen(value) >= FAULT_NAME_MAX)
			return errorf(err, errlen, "name: '%s' must be 1 to %d letters, digits, . _ or -",
				      value, FAULT_NAME_MAX - 1);
		/* Zero-filled, not only terminated: a key given twice leaves nothing of the longer
		 * value behind, so equal specifications are equal bytes (fuzz_fault found it). */
		memset(field, 0, FAULT_NAME_MAX);
		memcpy(field, value, strlen(value));
		return 0;
	case KEY_NQN:
		if (strncmp(value, "nqn.", 4) != 0 || strlen(value) >= FAULT_NQN_MAX ||
		    strpbrk(value, " \t\r\n"))
			return errorf(err, errlen, "nqn: '%s' must start with 'nqn.', be under %d "
				      "bytes and hold no spaces", value, FAULT_NQN_MAX);
		memset(field, 0, FAULT_NQN_MAX);
		memcpy(field, value, strlen(value));
		return 0;
	case KEY_OPS:
		return parse_ops(value, types[spec->type].allowed_ops, field, err, errlen);
	case KEY_DIST:
		for (size_t i = 0; i < ARRAY_SIZE(dist_names); i++) {
			if (strcmp(value, dist_names[i]) == 0) {
				*(enum fault_dist *)field = (enum fault_dist)i;
				return 0;
			}
		}
		return errorf(err, errlen, "dist: '%s' is not fixed, uniform or exponential", value);
	case KEY_BOOL:
		if (strcmp(value, "0") && strcmp(value, "1"))
			return errorf(err, errlen, "%s: '%s' is not 0 or 1", k->name, value);
		*(bool *)field = value[0] == '1';
		return 0;
	}
	return -1;
}

int fault_spec_set(struct fault_spec *spec, const char *key, const char *value, char *err,
		   size_t errlen)
{
	const struct key *k = find_key(key);
	if (!k)
		return errorf(err, errlen, "unknown key '%s' (nvemu fault --list-keys)", key);
	if (!(k->types & (1u << spec->type)))
		return errorf(err, errlen, "%s is not a key of %s faults", key,
			      fault_type_name(spec->type));
	if (set_value(spec, k, value, err, errlen))
		return -1;
	spec->given |= 1ull << (k - keys);
	if (k->offset == AT(zone))
		spec->has_zone = true;
	if (k->offset == AT(temp_c))
		spec->has_temp = true;
	return 0;
}

int fault_spec_check(const struct fault_spec *spec, char *err, size_t errlen)
{
	bool range = given(spec, "lba") || given(spec, "count") || given(spec, "zone");
	if (range && !given(spec, "nsid"))
		return errorf(err, errlen, "lba, count and zone need nsid");
	if (given(spec, "zone") && (given(spec, "lba") || given(spec, "count")))
		return errorf(err, errlen, "zone and lba/count exclude each other");
	if ((spec->type == FAULT_NS_ADD || spec->type == FAULT_NS_REMOVE ||
	     spec->type == FAULT_DIE_OFFLINE) &&
	    !given(spec, "nsid"))
		return errorf(err, errlen, "%s needs nsid", fault_type_name(spec->type));
	if (spec->type == FAULT_DIE_OFFLINE && !given(spec, "die"))
		return errorf(err, errlen, "die-offline needs die");
	if (spec->count && spec->lba + spec->count < spec->lba)
		return errorf(err, errlen, "lba + count is past the largest block number");
	if (spec->threshold_c > spec->critical_c)
		return errorf(err, errlen, "threshold_c (%" PRIu64 ") is above critical_c (%" PRIu64 ")",
			      spec->threshold_c, spec->critical_c);
	if (spec->dist == FAULT_DIST_UNIFORM && given(spec, "max_us") &&
	    spec->max_us < spec->latency_us)
		return errorf(err, errlen, "max_us (%" PRIu64 ") is below latency_us (%" PRIu64 ")",
			      spec->max_us, spec->latency_us);
	return 0;
}

int fault_spec_parse(const char *text, struct fault_spec *out, char *err, size_t errlen)
{
	char copy[4096];
	if (strlen(text) >= sizeof(copy))
		return errorf(err, errlen, "fault specification longer than %zu bytes", sizeof(copy) - 1);
	strcpy(copy, text);
	char *save = NULL;
	const char *type = strtok_r(copy, " \t\r\n", &save);
	enum fault_type t;
	if (!type)
		return errorf(err, errlen, "no fault type (nvemu fault --list-types)");
	if (fault_type_parse(type, &t))
		return errorf(err, errlen, "'%s' is not a fault type (nvemu fault --list-types)", type);
	fault_spec_init(out, t);
	for (char *word = strtok_r(NULL, " \t\r\n", &save); word;
	     word = strtok_r(NULL, " \t\r\n", &save)) {
		char *eq = strchr(word, '=');
		if (!eq || eq == word)
			return errorf(err, errlen, "'%s' is not key=value", word);
		*eq = '\0';
		if (fault_spec_set(out, word, eq + 1, err, errlen))
			return -1;
	}
	return fault_spec_check(out, err, errlen);
}

static void format_value(const struct fault_spec *spec, const struct key *k, char *out, size_t outlen)
{
	const void *field = (const char *)spec + k->offset;
	switch (k->kind) {
	case KEY_NUMBER:
		snprintf(out, outlen, "%" PRIu64, *(const uint64_t *)field);
		return;
	case KEY_DECIMAL:
		format_decimal(*(const uint64_t *)field, k->decimals, out, outlen);
		return;
	case KEY_NAME:
	case KEY_NQN:
		snprintf(out, outlen, "%s", (const char *)field);
		return;
	case KEY_OPS: {
		size_t at = 0;
		out[0] = '\0';
		for (size_t i = 0; i < ARRAY_SIZE(op_names); i++) {
			if (!(spec->ops & (1u << i)))
				continue;
			int n = snprintf(out + at, outlen - at, "%s%s", at ? "," : "", op_names[i]);
			if (n < 0 || (size_t)n >= outlen - at)
				return;
			at += (size_t)n;
		}
		return;
	}
	case KEY_DIST:
		snprintf(out, outlen, "%s", dist_names[spec->dist]);
		return;
	case KEY_BOOL:
		snprintf(out, outlen, "%d", *(const bool *)field ? 1 : 0);
		return;
	}
}

void fault_spec_format(const struct fault_spec *spec, char *out, size_t outlen)
{
	size_t at = 0;
	int n = snprintf(out, outlen, "%s", fault_type_name(spec->type));
	for (size_t i = 0; n >= 0 && (size_t)n < outlen - at && i < ARRAY_SIZE(keys); i++) {
		at += (size_t)n;
		n = 0;
		if (!(spec->given & (1ull << i)))
			continue;
		char value[FAULT_NQN_MAX];
		format_value(spec, &keys[i], value, sizeof(value));
		n = snprintf(out + at, outlen - at, " %s=%s", keys[i].name, value);
	}
}

void fault_print_keys(FILE *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct key *k = &keys[i];
		char range[96] = "";
		if (k->kind == KEY_NUMBER)
			snprintf(range, sizeof(range), "%" PRIu64 "..%" PRIu64, k->min, k->max);
		else if (k->kind == KEY_DECIMAL) {
			char lo[32], hi[32];
			format_decimal(k->min, k->decimals, lo, sizeof(lo));
			format_decimal(k->max, k->decimals, hi, sizeof(hi));
			snprintf(range, sizeof(range), "%s..%s", lo, hi);
		} else if (k->kind == KEY_BOOL)
			snprintf(range, sizeof(range), "0|1");
		else
			snprintf(range, sizeof(range), "text");
		fprintf(out, "%s\t", k->name);
		const char *sep = "";
		for (unsigned t = 0; t < FAULT_TYPES; t++) {
			if (k->types == ALL_TYPES) {
				fprintf(out, "all");
				break;
			}
			if (k->types & (1u << t)) {
				fprintf(out, "%s%s", sep, types[t].name);
				sep = ",";
			}
		}
		fprintf(out, "\t%s\t%s\t%s\n", range, k->def, k->help);
	}
}

void fault_print_types(FILE *out)
{
	static const char *const classes[] = {"command", "state", "event"};
	for (unsigned t = 0; t < FAULT_TYPES; t++)
		fprintf(out, "%s\t%s\t%s\n", types[t].name, classes[types[t].cls], types[t].help);
}

uint32_t fault_op_of(uint8_t opcode)
{
	switch (opcode) {
	case nvme_cmd_read: return FAULT_OP_READ;
	case nvme_cmd_write: return FAULT_OP_WRITE;
	case nvme_cmd_flush: return FAULT_OP_FLUSH;
	case nvme_cmd_dsm: return FAULT_OP_DSM;
	case nvme_cmd_write_zeroes: return FAULT_OP_WRITE_ZEROES;
	case nvme_cmd_compare: return FAULT_OP_COMPARE;
	case nvme_cmd_verify: return FAULT_OP_VERIFY;
	case nvme_cmd_zone_append: return FAULT_OP_APPEND;
	case nvme_cmd_zone_mgmt_send: return FAULT_OP_ZONE_SEND;
	case nvme_cmd_zone_mgmt_recv: return FAULT_OP_ZONE_RECV;
	default: return 0;
	}
}
