#!/bin/sh
# Serve Linux nvmet from the guest so that host-side tools (or a second
# guest) can compare nvemu with the reference target.  Run it with a QEMU
# port forward, e.g.:
#   NVEMU_GUEST_NETDEV=",hostfwd=tcp:127.0.0.1:4421-:4420" \
#       tests/guest/run-guest.sh tests/guest/scripts/nvmet-serve.sh
# nvmet is then at 127.0.0.1:4421 on the host (10.0.2.2:4421 from another
# guest).  Prints "NVEMU-NVMET-READY" when listening, then serves for
# SERVE_SECONDS (default 3600) or until QEMU is killed.
# Env: as for nvmet-setup.sh; NVMET_ADDR defaults to the guest's 10.0.2.15,
# the address hostfwd delivers to (and the one in the discovery log).
D=${NVEMU_SCRIPTS:-$(dirname "$0")}
: "${NVMET_ADDR:=10.0.2.15}" "${SERVE_SECONDS:=3600}"
export NVMET_ADDR
sh "$D/nvmet-setup.sh" || { echo "FAIL: nvmet setup"; exit 1; }
echo "NVEMU-NVMET-READY"
sleep "$SERVE_SECONDS"
