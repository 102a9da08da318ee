#!/bin/sh
# Configure Linux's own NVMe/TCP target (nvmet) in the guest, as a reference
# to compare nvemu with: one subsystem, one namespace on a memory-backed
# null_blk device (reads return what was written; discards read back as zeroes).
# Env:
#   NVMET_ADDR     listen address (default 127.0.0.1; 0.0.0.0 to serve the host
#                  through a QEMU hostfwd)
#   NVMET_PORT     listen port (default 4420)
#   SUBNQN         subsystem NQN (default nqn.2024-01.io.nvemu:nvmet-ref)
#   NVMET_SIZE_MB  namespace size in MiB (default 1024; memory is used only
#                  for written blocks)
#   NVMET_LBA      logical block size, 512 or 4096 (default 512)
: "${NVMET_ADDR:=127.0.0.1}" "${NVMET_PORT:=4420}" "${SUBNQN:=nqn.2024-01.io.nvemu:nvmet-ref}"
: "${NVMET_SIZE_MB:=1024}" "${NVMET_LBA:=512}"
set -e

modprobe nvmet
modprobe nvmet-tcp
modprobe null_blk nr_devices=0

NB=/sys/kernel/config/nullb/nullb0
mkdir "$NB"
echo "$NVMET_SIZE_MB" > "$NB/size"
echo "$NVMET_LBA" > "$NB/blocksize"
echo 1 > "$NB/memory_backed"
echo 1 > "$NB/discard"
echo 2 > "$NB/queue_mode"   # blk-mq
echo 1 > "$NB/power"
i=0
while [ ! -b /dev/nullb0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/nullb0 ] || { echo "nvmet-setup: /dev/nullb0 did not appear"; exit 1; }

T=/sys/kernel/config/nvmet
mkdir "$T/subsystems/$SUBNQN"
echo 1 > "$T/subsystems/$SUBNQN/attr_allow_any_host"
mkdir "$T/subsystems/$SUBNQN/namespaces/1"
echo /dev/nullb0 > "$T/subsystems/$SUBNQN/namespaces/1/device_path"
echo 1 > "$T/subsystems/$SUBNQN/namespaces/1/enable"

mkdir "$T/ports/1"
echo tcp > "$T/ports/1/addr_trtype"
echo ipv4 > "$T/ports/1/addr_adrfam"
echo "$NVMET_ADDR" > "$T/ports/1/addr_traddr"
echo "$NVMET_PORT" > "$T/ports/1/addr_trsvcid"
ln -s "$T/subsystems/$SUBNQN" "$T/ports/1/subsystems/$SUBNQN"
echo "nvmet-setup: serving $SUBNQN on $NVMET_ADDR:$NVMET_PORT (null_blk ${NVMET_SIZE_MB} MiB, ${NVMET_LBA}-byte blocks)"
