#!/bin/sh
# Self-test of the reference guest: start Linux nvmet in the guest on
# 127.0.0.1 (nvmet-setup.sh) and run nvme-basic.sh against it.  Proves the
# guest, nvme-cli, fio and the test scripts work before nvemu is involved.
# Env: as for nvmet-setup.sh and nvme-basic.sh; TARGET_ADDR/TARGET_PORT are
# set from NVMET_ADDR/NVMET_PORT.
# Documented nvmet difference: Linux 6.1 nvmet has no Compare command, so
# this script sets ALLOW_NO_COMPARE=1 unless given (nvme-basic.sh then requires ONCS bit 0
# to be clear before skipping).
D=${NVEMU_SCRIPTS:-$(dirname "$0")}
: "${NVMET_ADDR:=127.0.0.1}" "${NVMET_PORT:=4420}" "${SUBNQN:=nqn.2024-01.io.nvemu:nvmet-ref}"
export NVMET_ADDR NVMET_PORT SUBNQN
sh "$D/nvmet-setup.sh" || { echo "FAIL: nvmet setup"; exit 1; }
TARGET_ADDR=$NVMET_ADDR TARGET_PORT=$NVMET_PORT ALLOW_NO_COMPARE=${ALLOW_NO_COMPARE:-1} sh "$D/nvme-basic.sh"
