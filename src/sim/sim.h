/*
 * nvemu sim: the SSD model of ftl/ and flash/ in virtual time. The clock jumps from one
 * completion to the next, so a run takes as long as the CPU needs and, for a given seed, always
 * gives the same numbers. Workloads are built in (sequential or random read / write / mix) or
 * replayed from traces (MSR Cambridge CSV, blkparse text, fio iolog).
 */
#ifndef NVEMU_SIM_SIM_H
#define NVEMU_SIM_SIM_H

/* Entry point of `nvemu sim`; argv[0] is "sim". Returns a process exit status. */
int sim_main(int argc, char **argv);

#endif
