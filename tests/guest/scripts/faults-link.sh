#!/bin/sh
# Controller and link faults seen by a real host (target-test.sh faults-link), each while fio
# writes with crc32c verify; the host must recover by itself and fio's verify must pass:
#   link-drop  every connection drops and is refused for 2 s: the host reconnects
#   cfs        Controller Fatal Status: the host's keep-alive times out, it resets (reconnects)
#   timeout    one write is never answered: the host's I/O timeout (nvme_core.io_timeout, set
#              short on the kernel command line) fires, it resets, the write is retried
# Connect with a short reconnect delay (CONNECT_OPTS from target-test.sh).
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
W=/tmp/faults
mkdir -p "$W"

connect_subsys || die "connect to $SUBNQN at $TARGET_ADDR:$TARGET_PORT"
trap 'nvme disconnect -n "$SUBNQN" >/dev/null 2>&1' EXIT
echo "nvme_core.io_timeout: $(cat /sys/module/nvme_core/parameters/io_timeout) s"
PATHDEV=$(ls /sys/block | grep -E "^${NS%n*}c[0-9]+n$NSID\$" | head -n 1)
ios() { awk '{print $1 + $5}' "/sys/block/$PATHDEV/stat" 2>/dev/null || echo 0; }
cntlid() { cat "/sys/class/nvme/${CTRL#/dev/}/cntlid"; }

# under_fio NAME OFFSET_MB FAULT...: fio randwrite + verify over 24 MiB at OFFSET_MB while the
# host sets FAULT once fio is writing; checks that fio finished, verify passed, and the host
# came back on a new controller.
under_fio() {
    name=$1 offset=$2
    shift 2
    say "$name: $* while fio writes with verify"
    before=$(cntlid)
    n0=$(dmesg | wc -l)
    t0=$(cut -d' ' -f1 /proc/uptime)
    fio --name="$name" --filename="$DEV" --ioengine=libaio --direct=1 --rw=randwrite \
        --bsrange=4k-64k --iodepth=8 --offset="${offset}M" --size=24M --verify=crc32c \
        --verify_fatal=1 > "$W/$name.fio" 2>&1 &
    fio=$!
    io0=$(ios)
    i=0
    while [ "$(ios)" -le $((io0 + 50)) ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    host_fault "$@" > "$W/$name.id" || fail "$name: nvemu fault $*: $(cat "$W/$name.id")"
    rc=0
    wait $fio || rc=$?
    t1=$(cut -d' ' -f1 /proc/uptime)
    dmesg | sed -n "$((n0 + 1)),\$p" | grep -iE "nvme|reset|reconnect|timeout" | head -n 12
    grep -E "err=|verify|WRITE:|READ:" "$W/$name.fio" | head -n 4
    if [ $rc -eq 0 ] && ! grep -q "verify: bad" "$W/$name.fio"; then
        pass "$name: fio finished and verify passed ($(awk "BEGIN {print $t1 - $t0}") s)"
    else
        tail -n 15 "$W/$name.fio"
        fail "$name: fio failed (status $rc)"
    fi
    after=$(cntlid)
    echo "controller $before -> $after, state $(cat "/sys/class/nvme/${CTRL#/dev/}/state")"
    [ "$after" != "$before" ] && pass "$name: the host reconnected on its own (a new controller)" ||
        fail "$name: the host did not reconnect"
}

under_fio link-drop 0 add link-drop down_ms=2000
dmesg | grep -qiE "reconnect|Successfully" && pass "link-drop: the kernel logged its reconnect" ||
    fail "link-drop: no reconnect in the kernel log"
under_fio cfs 32 add cfs
under_fio timeout 64 add timeout op=write after=20
dmesg | grep -qiE "timeout" && pass "timeout: the host's I/O timeout fired" || fail "timeout: no timeout in the kernel log"

say "faults on the host"
host_fault list
echo "faults-link: $FAILS failure(s)"
if [ "$FAILS" -ne 0 ]; then dmesg | grep -i nvme | tail -n 40; fi
[ "$FAILS" -eq 0 ]
