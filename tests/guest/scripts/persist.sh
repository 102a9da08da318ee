#!/bin/sh
# Drives kept in directories, seen from a real host (docs/persistence.md). Namespace 1 has no
# power-loss protection, namespace 2 has it; the host side of the test restarts and cuts the
# daemon when this script says so, and tells it back through the shared folder.
#  1. fio writes both namespaces with crc32c headers (no verify yet), nvme flush, then
#     NVEMU-PERSIST-KILL: the daemon is killed with SIGKILL and started again on the same
#     directories; the host reconnects by itself and fio --verify_only passes; SMART counts an
#     unsafe shutdown; the namespace keeps its NGUID.
#  2. blockcheck writes pattern 1 over region B, nvme flush, then pattern 2 over it, and while
#     that runs NVEMU-PERSIST-CUT: the daemon's power is cut. Every block the writer got
#     acknowledged then holds pattern 1 or 2, never anything else; without power-loss
#     protection some hold pattern 1 (lost in the buffer), with it all hold pattern 2; the
#     flushed region of step 1 is intact.
# Env: as in lib.sh; PERSIST_HELPERS (blockcheck; default /mnt/host).
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
: "${PERSIST_HELPERS:=/mnt/host}"
CONNECT_OPTS="--reconnect-delay=1 --ctrl-loss-tmo=300"
W=/tmp/persist
mkdir -p "$W"

connect_subsys || die "connect to $SUBNQN at $TARGET_ADDR:$TARGET_PORT"
trap '[ -n "${DEV:-}" ] && nvme disconnect -n "$SUBNQN" >/dev/null 2>&1' EXIT
NS1=$DEV
NS2=${DEV%n*}n2
i=0
while [ ! -b "$NS2" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -b "$NS2" ] || die "no second namespace ($NS2)"
CNAME=${CTRL#/dev/}

# wait_host FILE: the host side has done its part.
wait_host() {
    i=0
    while [ ! -e "/mnt/host/$1" ] && [ $i -lt 1200 ]; do sleep 0.25; i=$((i + 1)); done
    [ -e "/mnt/host/$1" ] || die "the host never wrote $1"
}

# wait_live: the controller reconnected (nvme-tcp's own reconnect).
wait_live() {
    i=0
    while [ "$(cat /sys/class/nvme/$CNAME/state 2>/dev/null)" != live ] && [ $i -lt 600 ]; do
        sleep 0.1; i=$((i + 1))
    done
    [ "$(cat /sys/class/nvme/$CNAME/state 2>/dev/null)" = live ] ||
        die "the controller did not come back (state $(cat /sys/class/nvme/$CNAME/state))"
    echo "controller $CNAME live again"
}

fio_region_a() {  # fio_region_a DEV EXTRA...: 16 MiB of random writes with crc32c headers
    dev=$1
    shift
    fio --name=regiona --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite \
        --bsrange=4k-64k --iodepth=8 --size=16M --verify=crc32c --verify_fatal=1 \
        --randseed=13 "$@" > "$W/fio" 2>&1
}

say "1. write, flush, SIGKILL the daemon, reconnect, verify"
nguid1=$(nvme id-ns "$NS1" | sed -n 's/^nguid[[:space:]]*:[[:space:]]*//p')
for dev in "$NS1" "$NS2"; do
    fio_region_a "$dev" --do_verify=0 && pass "fio writes $dev" || { cat "$W/fio"; fail "fio writes $dev"; }
    run nvme flush "$dev" > /dev/null && pass "nvme flush $dev" || fail "nvme flush $dev"
done
echo "NVEMU-PERSIST-KILL"
wait_host restarted
wait_live
for dev in "$NS1" "$NS2"; do
    fio_region_a "$dev" --verify_only && pass "fio --verify_only after kill -9: $dev intact" ||
        { cat "$W/fio"; fail "fio --verify_only after kill -9 on $dev"; }
done
nvme smart-log "$NS1" > "$W/smart" 2>&1
unsafe=$(sed -n 's/^unsafe_shutdowns[[:space:]]*:[[:space:]]*//p' "$W/smart" | tr -d ',')
[ "${unsafe:-0}" -ge 1 ] && pass "SMART unsafe shutdowns $unsafe" || { cat "$W/smart"; fail "SMART unsafe shutdowns ${unsafe:-?}"; }
nguid2=$(nvme id-ns "$NS1" | sed -n 's/^nguid[[:space:]]*:[[:space:]]*//p')
[ -n "$nguid1" ] && [ "$nguid1" = "$nguid2" ] && pass "the namespace kept its NGUID ($nguid1)" ||
    fail "NGUID $nguid1 became $nguid2"

say "2. a power cut while writes sit in the write buffer"
B=32M
BLEN=32M
for dev in "$NS1" "$NS2"; do
    "$PERSIST_HELPERS/blockcheck" write "$dev" $B $BLEN 1 1M > /dev/null || fail "blockcheck write 1 $dev"
    nvme flush "$dev" > /dev/null || fail "nvme flush $dev"
done
# The writers go on until the host has cut the power; each says how much it wrote,
# acknowledged. Namespace 1's slow NAND drains its buffer at about 1 MB/s: writes of 256 KiB
# outrun that even on a loaded machine, so the buffer is full at the cut (16 KiB writes did
# not always: a guest as slow as the NAND left nothing in it to lose).
"$PERSIST_HELPERS/blockcheck" write "$NS1" $B $BLEN 2 256k /mnt/host/cut > "$W/written1" &
W1=$!
"$PERSIST_HELPERS/blockcheck" write "$NS2" $B $BLEN 2 256k /mnt/host/cut > "$W/written2" &
W2=$!
sleep 2
echo "NVEMU-PERSIST-CUT"
wait $W1 && pass "pattern 2 written to $NS1 through the cut ($(cat "$W/written1"))" ||
    fail "blockcheck write 2 $NS1"
wait $W2 && pass "pattern 2 written to $NS2 through the cut ($(cat "$W/written2"))" ||
    fail "blockcheck write 2 $NS2"
wait_host cut
wait_live
# check_written DEV FILE: old or new pattern over what the writer got acknowledged
check_written() {
    len=$(sed -n 's/^written //p' "$2")
    [ "${len:-0}" -gt 0 ] || { echo "nothing written"; return 1; }
    "$PERSIST_HELPERS/blockcheck" check "$1" $B "$len" 1 2
}
check_written "$NS1" "$W/written1" > "$W/check1"
st=$?
[ $st -eq 0 ] && pass "no PLP: every block holds the old or the new pattern ($(cat "$W/check1"))" ||
    fail "no PLP: blocks hold neither pattern ($(cat "$W/check1"))"
# Writes acknowledged before the cut but still in the buffer are lost, and never retried.
grep -q "^old [1-9]" "$W/check1" && pass "no PLP: acknowledged writes not yet on NAND were lost" ||
    fail "no PLP: the cut lost nothing"
check_written "$NS2" "$W/written2" > "$W/check2"
st=$?
[ $st -eq 0 ] && grep -q "^old 0 " "$W/check2" &&
    pass "PLP: every acknowledged block holds the new pattern ($(cat "$W/check2"))" ||
    fail "PLP: lost writes ($(cat "$W/check2"))"
for dev in "$NS1" "$NS2"; do
    fio_region_a "$dev" --verify_only && pass "data flushed before the cut is intact: $dev" ||
        { cat "$W/fio"; fail "fio --verify_only after the cut on $dev"; }
done

disconnect_subsys && pass "disconnect" || fail "disconnect"
trap - EXIT
[ "$FAILS" -eq 0 ]
