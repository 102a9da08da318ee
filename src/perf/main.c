/* Standalone nvemu-perf, the same code as `nvemu perf`. */
#include "perf/perf.h"

int main(int argc, char **argv)
{
	argv[0] = "perf";
	return perf_main(argc, argv);
}
