/* nvemu perf: an NVMe/TCP load generator and verifier in the manner of spdk_nvme_perf. */
#ifndef NVEMU_PERF_PERF_H
#define NVEMU_PERF_PERF_H

/* argv[0] is "perf".  Returns the process exit status: 0 only if every I/O succeeded. */
int perf_main(int argc, char **argv);

#endif
