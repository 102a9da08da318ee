#!/bin/sh
# Runs in the guest under `nvemu vm --run` (see vm-test.sh): /init has
# connected every subsystem of the daemon.  Checks that the namespaces of
# EXPECT_NQNS are all there, that exactly one is zoned (host-managed), that a
# RAM namespace keeps data, and that the shared folder works both ways.
# Exits with status $1 when every check passes (so the host can check that the
# status comes through), 1 otherwise.
#
# Env: EXPECT_NQNS (space-separated), SHARE_TOKEN (content of /mnt/host/token),
# EXPECT_KERNEL (the kernel's version starts with it: 6.1 or 6.12).
. "$NVEMU_SCRIPTS/lib.sh"
status=${1:-0}

case $(uname -r) in
    "${EXPECT_KERNEL:-}".*) pass "kernel $(uname -r)" ;;
    *) fail "kernel $(uname -r), expected ${EXPECT_KERNEL:-?}" ;;
esac
say "devices connected by /init: ${NVEMU_DEVICES:-none}"
nvme list
# shellcheck disable=SC2086  # one word per device
set -- $NVEMU_DEVICES
if [ $# -eq 2 ]; then pass "two namespaces"; else fail "$# namespaces, expected 2"; fi
for nqn in $EXPECT_NQNS; do
    if find_subsys "$nqn" >/dev/null; then pass "subsystem $nqn connected"
    else fail "subsystem $nqn not connected"; fi
done

zoned='' conventional=''
for dev in $NVEMU_DEVICES; do
    case $(cat "/sys/block/${dev#/dev/}/queue/zoned") in
        host-managed) zoned="$zoned $dev" ;;
        none) conventional="$conventional $dev" ;;
    esac
done
zoned=${zoned# } conventional=${conventional# }
case $zoned in
    */dev/*' '*|'') fail "zoned (host-managed) devices: ${zoned:-none}, expected one" ;;
    *) pass "zoned (host-managed): $zoned" ;;
esac
case $conventional in
    */dev/*' '*|'') fail "conventional devices: ${conventional:-none}, expected one" ;;
    *) pass "conventional: $conventional" ;;
esac

if [ -n "$zoned" ]; then
    zones=$(blkzone report -c 4 "$zoned" | grep -c 'start:')
    if [ "$zones" = 4 ]; then pass "blkzone report: 4 zones"; else fail "blkzone report: $zones zones"; fi
    # What a user runs next: fio in zoned mode, sequential writes verified, over 4 zones.
    if run fio --name=zbd --filename="$zoned" --zonemode=zbd --direct=1 --ioengine=psync \
        --rw=write --bs=64k --size=32M --verify=crc32c --verify_fatal=1 > /tmp/fio.out 2>&1
    then pass "fio --zonemode=zbd write + verify"; else cat /tmp/fio.out; fail "fio --zonemode=zbd"; fi
fi
if [ -n "$conventional" ]; then
    head -c 65536 /dev/urandom > /tmp/data
    if run dd if=/tmp/data of="$conventional" bs=4096 oflag=direct &&
        run dd if="$conventional" of=/tmp/back bs=4096 count=16 iflag=direct && cmp /tmp/data /tmp/back
    then pass "64 KiB written and read back"; else fail "64 KiB written and read back"; fi
fi

if [ "$(cat /mnt/host/token 2>/dev/null)" = "$SHARE_TOKEN" ]; then pass "shared folder: host's token"
else fail "shared folder: no /mnt/host/token with the host's token"; fi
if echo "$SHARE_TOKEN" > /mnt/host/from-guest; then pass "shared folder: wrote from-guest"
else fail "shared folder: cannot write"; fi

[ "$FAILS" -eq 0 ] || exit 1
exit "$status"
