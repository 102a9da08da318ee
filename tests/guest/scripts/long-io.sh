#!/bin/sh
# Connect and keep fio busy for a long time, for host-side tests that cut the
# connection mid-I/O (kill QEMU through run-guest.sh's pid file).  Prints
# "NVEMU-IO-RUNNING" once the controller has completed I/O; exits with fio's
# status if it is left to finish.
# Env: as in lib.sh; IO_SECONDS (default 600), IO_RW (default randrw),
# IO_BS (default 4k-64k), IO_IODEPTH (default 16), IO_JOBS (default 2).
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
: "${IO_SECONDS:=600}" "${IO_RW:=randrw}" "${IO_BS:=4k-64k}" "${IO_IODEPTH:=16}" "${IO_JOBS:=2}"

connect_subsys || die "connect to $SUBNQN at $TARGET_ADDR:$TARGET_PORT"
# The multipath head node keeps no I/O statistics; the path node does.
PATHDEV=$(ls /sys/block | grep -E "^${NS%n*}c[0-9]+n$NSID\$" | head -n 1)
ios() { awk '{print $1 + $5}' "/sys/block/$PATHDEV/stat"; }
before=$(ios)

run fio --name=long-io --filename="$DEV" --ioengine=libaio --direct=1 --rw="$IO_RW" \
    --bsrange="$IO_BS" --iodepth="$IO_IODEPTH" --numjobs="$IO_JOBS" --time_based \
    --runtime="$IO_SECONDS" --group_reporting &
FIO=$!
while kill -0 $FIO 2>/dev/null && [ "$(ios)" -le "$before" ]; do sleep 0.2; done
echo "NVEMU-IO-RUNNING"
wait $FIO
