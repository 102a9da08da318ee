/* Workload keys of nvemu sim; `-o` looks a key up among the model's keys first, then here. */
#include <stddef.h>

#include "sim/sim_internal.h"
#include "util/util.h"

#define FIELD(name) offsetof(struct sim_params, name)
#define NO_ALIAS {NULL, NULL, NULL}

static const char *const workload_names[] = {"read",   "write",  "randread", "randwrite", "rw",
					     "randrw", "trace",  "hotcold",  "cache",     "endurance",
					     NULL};
/* enum endurance_pattern */
static const char *const pattern_names[] = {"randwrite", "write", "randrw", "rw", NULL};
static const char *const precondition_names[] = {"auto", "none", "fill", "steady", NULL};
static const char *const trace_format_names[] = {"auto", "msr", "blkparse", "fio", NULL};
static const char *const trace_timing_names[] = {"auto", "timestamps", "qd", NULL};

static const struct config_key sim_keys[] = {
	{"workload", {"rw", "readwrite"}, CONFIG_ENUM, FIELD(workload), "randwrite", 0, 0,
	 workload_names,
	 "built-in workload (fio names), hotcold or cache (docs/fdp.md), trace, or endurance "
	 "(writes `pattern` until the drive turns read-only; needs endurance)"},
	{"bs", {"blocksize"}, CONFIG_U64, FIELD(block_size), "4096", 1, 1 << 30, NULL,
	 "bytes per I/O, rounded up to whole pages"},
	{"qd", {"iodepth"}, CONFIG_U32, FIELD(queue_depth), "32", 1, 1 << 20, NULL,
	 "I/Os in flight (closed loop)"},
	{"rwmixread", NO_ALIAS, CONFIG_F64, FIELD(read_pcent), "50", 0, 100, NULL,
	 "percent of reads in rw and randrw"},
	{"footprint_pcent", NO_ALIAS, CONFIG_F64, FIELD(footprint_pcent), "100", 0.0001, 100, NULL,
	 "share of the logical space the workload touches"},
	{"duration", {"runtime"}, CONFIG_F64, FIELD(duration_s), "0", 0, 1e9, NULL,
	 "measured phase length in simulated seconds; 0 = until io_size"},
	{"io_size", {"size"}, CONFIG_U64, FIELD(io_size), "0", 0, 1.8e19, NULL,
	 "bytes issued in the measured phase; 0 = one pass over the footprint (unlimited for traces)"},
	{"precondition", NO_ALIAS, CONFIG_ENUM, FIELD(precondition), "auto", 0, 0,
	 precondition_names,
	 "before measuring: fill = sequential fill of the footprint, steady = fill + random "
	 "writes; auto = steady for random writes and mixes, fill for reads, none otherwise"},
	{"warmup", NO_ALIAS, CONFIG_F64, FIELD(warmup), "2", 0, 1000, NULL,
	 "random writes of the steady precondition, in passes over the footprint"},
	{"idle", NO_ALIAS, CONFIG_F64, FIELD(idle_s), "0", 0, 1e6, NULL,
	 "seconds the device idles after preconditioning, before the measured phase (background "
	 "GC and SLC folding run then)"},
	{"trace", NO_ALIAS, CONFIG_STR, FIELD(trace), "", 0, 512, NULL,
	 "trace file to replay (sets workload=trace)"},
	{"trace_format", NO_ALIAS, CONFIG_ENUM, FIELD(trace_format), "auto", 0, 0,
	 trace_format_names, "msr (MSR Cambridge CSV), blkparse (text), fio (iolog v2/v3)"},
	{"trace_timing", NO_ALIAS, CONFIG_ENUM, FIELD(trace_timing), "auto", 0, 0,
	 trace_timing_names,
	 "timestamps = issue at recorded times (open loop); qd = as fast as qd allows"},
	{"pattern", NO_ALIAS, CONFIG_ENUM, FIELD(pattern), "randwrite", 0, 0, pattern_names,
	 "what workload=endurance writes (with bs, qd, footprint_pcent, rwmixread): randwrite, "
	 "write, randrw or rw"},
	{"warranty_years", NO_ALIAS, CONFIG_F64, FIELD(warranty_years), "5", 0.01, 100, NULL,
	 "workload=endurance: the warranty its drive writes per day are given for"},
	{"life_step", NO_ALIAS, CONFIG_F64, FIELD(life_step), "0.25", 0.001, 1e6, NULL,
	 "workload=endurance: drive writes between two points of the life curve (--json life)"},
	{"breakdown", NO_ALIAS, CONFIG_BOOL, FIELD(breakdown), "on", 0, 1, NULL,
	 "split every measured command's latency into its parts (breakdown_us in --json); off "
	 "saves the bookkeeping"},
	{"hot_pcent", NO_ALIAS, CONFIG_F64, FIELD(hot_pcent), "20", 0.0001, 100, NULL,
	 "hotcold, cache: share of the footprint rewritten at random (FDP handle 0); the rest is "
	 "a sequential log (handle 1)"},
	{"hot_write_pcent", NO_ALIAS, CONFIG_F64, FIELD(hot_write_pcent), "80", 0, 100, NULL,
	 "hotcold, cache: share of the bytes written that go to the hot region"},
	{"log_bs", NO_ALIAS, CONFIG_U64, FIELD(log_bs), "0", 0, 1ull << 34, NULL,
	 "hotcold, cache: bytes per write of the sequential log; 0 = bs (hotcold), 16 MiB (cache)"},
};

const struct config_table sim_config_table = {"sim", sim_keys, ARRAY_SIZE(sim_keys)};
