/*
 * Scripted faults: what a fault is, which commands it picks, when it fires.
 *
 * A fault is written as a type and key=value pairs, on the command line, in a
 * config file's [fault NAME] section or over the control socket:
 *
 *   read-error nsid=1 lba=2048 count=8
 *   latency op=read probability=0.01 latency_us=5000 dist=exponential seed=7
 *
 * This layer only parses, checks and prints such specifications and gives the
 * pure pieces of their behaviour: the seeded draws (the n-th draw of a seed is
 * always the same number, so the same seed and the same command sequence give
 * the same faults), latency distributions and the thermal model.  It reads no
 * clock and knows no controller: the controller core (nvme/fault.c) applies
 * faults to commands, controllers and namespaces.  docs/faults.md describes
 * every type and key.
 */
#ifndef NVEMU_FAULT_FAULT_H
#define NVEMU_FAULT_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum fault_type {
	FAULT_READ_ERROR,  /* Unrecovered Read Error, sticky until the LBAs are written */
	FAULT_WRITE_ERROR, /* Write Fault */
	FAULT_READ_RETRY,  /* a read that succeeds late (soft decoding) */
	FAULT_DIE_OFFLINE, /* a die of the model lost: reads of its data fail, writes go elsewhere */
	FAULT_LATENCY,     /* a spike added to matching commands */
	FAULT_GC_STORM,    /* a "critical GC" window: writes (and reads) stall */
	FAULT_THERMAL,     /* temperature, throttling and its critical warning */
	FAULT_CFS,         /* Controller Fatal Status: the host must reset */
	FAULT_TIMEOUT,     /* a command never answered */
	FAULT_LINK_DROP,   /* every connection dropped at once */
	FAULT_READ_ONLY,   /* media read-only: writes refused, critical warning */
	FAULT_SPARE_LOW,   /* available spare below its threshold */
	FAULT_NS_ADD,      /* a namespace attached at run time */
	FAULT_NS_REMOVE,   /* a namespace detached at run time */
	FAULT_TYPES
};

/* How a type's triggers work. */
enum fault_class {
	FAULT_CLASS_COMMAND, /* acts on the matching commands it fires on */
	FAULT_CLASS_STATE,   /* a condition that holds while the fault is active */
	FAULT_CLASS_EVENT,   /* happens once per firing: when it becomes active, or on a command */
};

/* Command kinds (op=), one bit each. */
enum {
	FAULT_OP_READ = 1u << 0,
	FAULT_OP_WRITE = 1u << 1,
	FAULT_OP_FLUSH = 1u << 2,
	FAULT_OP_DSM = 1u << 3,
	FAULT_OP_WRITE_ZEROES = 1u << 4,
	FAULT_OP_COMPARE = 1u << 5,
	FAULT_OP_VERIFY = 1u << 6,
	FAULT_OP_APPEND = 1u << 7,
	FAULT_OP_ZONE_SEND = 1u << 8,
	FAULT_OP_ZONE_RECV = 1u << 9,
	FAULT_OP_ALL = (1u << 10) - 1,
	/* Commands that read the medium, and those that change it. */
	FAULT_OP_READS = FAULT_OP_READ | FAULT_OP_COMPARE | FAULT_OP_VERIFY,
	FAULT_OP_WRITES = FAULT_OP_WRITE | FAULT_OP_WRITE_ZEROES | FAULT_OP_APPEND,
};

enum fault_dist { FAULT_DIST_FIXED, FAULT_DIST_UNIFORM, FAULT_DIST_EXPONENTIAL };

/* Fixed-point scales of the decimal keys. */
#define FAULT_PROBABILITY_ONE 1000000000ull /* probability= in billionths */
#define FAULT_MILLI 1000ull		    /* factor= and heat= in thousandths */

#define FAULT_NAME_MAX 64
#define FAULT_NQN_MAX 256
#define FAULT_TEXT_MAX 1024 /* a specification printed by fault_spec_format() */

struct fault_spec {
	enum fault_type type;
	char name[FAULT_NAME_MAX];
	/* Scope: where it acts.  Empty or 0 means every one. */
	char nqn[FAULT_NQN_MAX];
	uint64_t nsid;
	uint64_t lba, count; /* blocks [lba, lba + count); count 0: to the end */
	uint64_t zone;	     /* with has_zone: the zone's blocks instead */
	bool has_zone;
	uint32_t ops; /* command kinds; the type's default unless op= was given */
	uint64_t cntlid;
	uint64_t die; /* die-offline: the die of the namespace's model */
	/* Trigger: when it fires. */
	uint64_t at_ms;	 /* active from at_ms after it is added */
	uint64_t for_ms; /* for for_ms (0: until cleared) */
	uint64_t after;	 /* matching commands let through first */
	uint64_t times;	 /* firings at most (0: no limit; events default to 1) */
	uint64_t probability; /* per matching command, in billionths (FAULT_PROBABILITY_ONE: always) */
	uint64_t seed;
	/* Effect */
	uint64_t latency_us, max_us, read_latency_us;
	enum fault_dist dist;
	bool dnr;
	uint64_t temp_c; /* with has_temp: the temperature is pinned there */
	bool has_temp;
	uint64_t ambient_c, threshold_c, critical_c;
	uint64_t heat;	 /* degrees per GiB moved, in thousandths */
	uint64_t tau_ms; /* cooling time constant */
	uint64_t factor; /* slowdown above threshold_c, in thousandths (2000: twice as slow) */
	uint64_t spare;	 /* available spare, percent */
	uint64_t down_ms;
	/* The keys written (bit per key table entry), printed back by fault_spec_format(). */
	uint64_t given;
};

const char *fault_type_name(enum fault_type type);
int fault_type_parse(const char *name, enum fault_type *out);
enum fault_class fault_class_of(enum fault_type type);
/* True when the type's firing depends on commands (after=, probability=, times= apply). */
bool fault_spec_command_triggered(const struct fault_spec *spec);

/* The type's defaults. */
void fault_spec_init(struct fault_spec *spec, enum fault_type type);
/* One key of spec; 0, or -1 with a message naming the key and what it takes. */
int fault_spec_set(struct fault_spec *spec, const char *key, const char *value, char *err,
		   size_t errlen);
/* Checks the keys together (lba needs nsid, thresholds in order...); 0 or -1 with err. */
int fault_spec_check(const struct fault_spec *spec, char *err, size_t errlen);
/* "TYPE key=value ..." (spaces or tabs between words): init, set each, check. */
int fault_spec_parse(const char *text, struct fault_spec *out, char *err, size_t errlen);
/* The type and the keys given, normalised, as fault_spec_parse() reads them back. */
void fault_spec_format(const struct fault_spec *spec, char *out, size_t outlen);
/* Every key: name, the types that take it, its range and default (docs, --list-keys). */
void fault_print_keys(FILE *out);
/* Every type with its class and one line of help. */
void fault_print_types(FILE *out);

/* The op= bit of an I/O opcode, 0 for none. */
uint32_t fault_op_of(uint8_t opcode);

/* The n-th 64-bit draw of seed: a pure function (splitmix64 of seed and n). */
uint64_t fault_draw(uint64_t seed, uint64_t n);
/* Whether a draw falls under a probability in billionths. */
bool fault_draw_hits(uint64_t draw, uint64_t probability);
/* The latency a draw gives under the spec's distribution, in ns. */
uint64_t fault_latency_ns(const struct fault_spec *spec, uint64_t draw);

/*
 * The thermal model: the drive heats by `heat` degrees per GiB it moves and
 * cools toward ambient with time constant tau (first order: what is above
 * ambient falls by e^(-dt/tau)).  Returns the temperature dt_ns after
 * temp_c, with `bytes` moved at the end of that time.
 */
double fault_thermal_step(const struct fault_spec *spec, double temp_c, uint64_t dt_ns,
			  uint64_t bytes);

#endif
