#!/bin/sh
# The short demo tour for the README: connect, list, identify, a short fio
# run, SMART counters, disconnect.
# Env: as in lib.sh; TOUR_FIO_SECONDS (default 10).
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
: "${TOUR_FIO_SECONDS:=10}"

echo
echo ">>> Connecting to $SUBNQN at $TARGET_ADDR:$TARGET_PORT over NVMe/TCP"
connect_subsys || die "could not connect"

echo
echo ">>> nvme list"
nvme list

echo
echo ">>> nvme id-ctrl $CTRL (abridged)"
nvme id-ctrl "$CTRL" | grep -E '^(vid|sn|mn|fr|mdts|cntlid|ver|cntrltype|oncs|sgls|maxcmd|nn|ioccsz|subnqn) '

echo
echo ">>> fio: ${TOUR_FIO_SECONDS} s of 4 KiB random reads and writes, queue depth 16"
echo "    (the guest is software-emulated: this shows function, not performance)"
fio --name=tour --filename="$DEV" --ioengine=libaio --direct=1 --rw=randrw --bs=4k \
    --iodepth=16 --size=64M --time_based --runtime="$TOUR_FIO_SECONDS" --eta=never |
    grep -E '^ *(read|write):|err='

echo
echo ">>> nvme smart-log $CTRL (I/O counters)"
nvme smart-log "$CTRL" | grep -E -i '^(data units|host_(read|write)_commands|critical_warning|temperature)'

echo
echo ">>> Disconnecting"
disconnect_subsys || die "disconnect failed"
echo
echo "Tour done."
