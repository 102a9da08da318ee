/* nvemu-sim: the simulator as a standalone program, same as `nvemu sim`. */
#include "sim/sim.h"

int main(int argc, char **argv)
{
	argv[0] = "sim";
	return sim_main(argc, argv);
}
