# Helpers for the in-guest test scripts (POSIX sh, busybox).  Source it:
#   . "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
# Common parameters (env):
#   TARGET_ADDR  target address as seen from the guest (default 10.0.2.2, the host)
#   TARGET_PORT  NVMe/TCP port (default 4420)
#   SUBNQN       subsystem NQN to connect to (required by the connecting scripts)
#   DIGESTS      on/off: header and data digests (nvme connect -g -G; default off)
#   CONNECT_OPTS more nvme connect options, e.g. "--nr-io-queues=2"

: "${TARGET_ADDR:=10.0.2.2}" "${TARGET_PORT:=4420}" "${DIGESTS:=off}" "${CONNECT_OPTS:=}"
FAILS=0

say()  { echo "== $*"; }
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
skip() { echo "SKIP: $*"; }
die()  { echo "FAIL: $*"; echo "FATAL: giving up"; exit 1; }

# Run a command, echoing it first; its output goes to the console.
run() { echo "\$ $*"; "$@"; }

# digest_flags: the nvme connect options for $DIGESTS.
digest_flags() {
    case $DIGESTS in
        on|1|yes) echo "-g -G" ;;
        off|0|no|'') ;;
        *) die "DIGESTS must be on or off, not '$DIGESTS'" ;;
    esac
}

# find_subsys NQN: print the sysfs directory of the connected subsystem NQN.
find_subsys() {
    for f in /sys/class/nvme-subsystem/*/subsysnqn; do
        [ -f "$f" ] && [ "$(cat "$f")" = "$1" ] && { dirname "$f"; return 0; }
    done
    return 1
}

# connect_subsys: nvme connect to $SUBNQN at $TARGET_ADDR:$TARGET_PORT and
# wait for its first namespace.  Sets CTRL (/dev/nvmeX) and DEV (/dev/nvmeXnY,
# the multipath head node), NS (nvmeXnY) and NSID.
connect_subsys() {
    [ -n "${SUBNQN:-}" ] || die "SUBNQN is not set"
    # shellcheck disable=SC2046,SC2086  # word splitting wanted
    run nvme connect -t tcp -a "$TARGET_ADDR" -s "$TARGET_PORT" -n "$SUBNQN" \
        $(digest_flags) $CONNECT_OPTS || return 1
    i=0
    while [ $i -lt 100 ]; do
        if sd=$(find_subsys "$SUBNQN"); then
            NS=$(ls "$sd" | grep -E '^nvme[0-9]+n[0-9]+$' | head -n 1)
            c=$(ls "$sd" | grep -E '^nvme[0-9]+$' | head -n 1)
            if [ -n "$NS" ] && [ -n "$c" ] && [ -b "/dev/$NS" ]; then
                CTRL=/dev/$c DEV=/dev/$NS NSID=${NS##*n}
                echo "connected: controller $CTRL, namespace $DEV (nsid $NSID)"
                return 0
            fi
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "no namespace of $SUBNQN appeared within 10 s"
    return 1
}

# disconnect_subsys: nvme disconnect $SUBNQN and check its device is gone.
disconnect_subsys() {
    out=$(nvme disconnect -n "$SUBNQN" 2>&1); st=$?
    echo "$out"
    [ $st -eq 0 ] && ! find_subsys "$SUBNQN" >/dev/null && [ ! -e "${DEV:-/nonexistent}" ]
}

# field FILE NAME: value of "NAME : value" in nvme-cli's normal output.
field() { sed -n "s/^$2 *: *//p" "$1" | head -n 1 | sed 's/ *$//'; }

# json_num FILE KEY: first number after "KEY" in nvme-cli's JSON output.
json_num() { sed -n "s/.*\"$2\"[^0-9]*\\([0-9][0-9]*\\).*/\\1/p" "$1" | head -n 1; }

# vendor_log CTRL NSID: reads nvemu's vendor log page CAh of namespace NSID
# (le64 fields: version, host pages, NAND pages, GC runs, erase min, erase max,
# erase mean x1000, WAF x1000, FDP handles, FDP groups, then version 3's wear:
# retired blocks, available spare %, percentage used x1000, read-only) into
# VL_VERSION VL_HOST VL_NAND VL_GC VL_EMIN VL_EMAX VL_WAF_MILLI VL_RETIRED
# VL_SPARE VL_USED_MILLI VL_READ_ONLY.  Returns 1 if nvme-cli cannot read it.
vendor_log() {
    nvme get-log "$1" --log-id=0xca --log-len=512 --namespace-id="$2" --raw-binary \
        > /tmp/vendor-log.bin || return 1
    VL_VERSION=$(le64 /tmp/vendor-log.bin 0) VL_HOST=$(le64 /tmp/vendor-log.bin 1)
    VL_NAND=$(le64 /tmp/vendor-log.bin 2) VL_GC=$(le64 /tmp/vendor-log.bin 3)
    VL_EMIN=$(le64 /tmp/vendor-log.bin 4) VL_EMAX=$(le64 /tmp/vendor-log.bin 5)
    VL_WAF_MILLI=$(le64 /tmp/vendor-log.bin 7)
    VL_RETIRED=$(le64 /tmp/vendor-log.bin 10) VL_SPARE=$(le64 /tmp/vendor-log.bin 11)
    VL_USED_MILLI=$(le64 /tmp/vendor-log.bin 12) VL_READ_ONLY=$(le64 /tmp/vendor-log.bin 13)
}

# le64 FILE INDEX: the INDEXth little-endian 64-bit field of FILE, in decimal
# (busybox od has no 64-bit decimal output: read bytes, assemble).
le64() {
    # shellcheck disable=SC2046  # od's words are the bytes
    set -- $(od -A n -t x1 -j $(($2 * 8)) -N 8 "$1")
    echo $((0x$8$7$6$5$4$3$2$1))
}

# host_nvemu ARGS...: runs `nvemu ARGS` on the host against the daemon under test and prints
# its output; its status is nvemu's.  The request travels through the shared folder
# (/mnt/host/requests), where target-test.sh serves `fault ...` and `stats ...` requests.
host_nvemu() {
    # Numbered through a file: a request made in $(...) runs in a subshell.
    n=$(($(cat /tmp/host-requests 2>/dev/null || echo 0) + 1))
    echo "$n" > /tmp/host-requests
    d=/mnt/host/requests r=/mnt/host/requests/$n
    [ -d "$d" ] || { echo "host_nvemu: no $d (run under target-test.sh)"; return 2; }
    echo "$*" > "$r.tmp" && mv "$r.tmp" "$r.req" || return 2
    i=0
    while [ ! -f "$r.ans" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    [ -f "$r.ans" ] || { echo "host_nvemu: no answer to '$*' within 30 s"; return 2; }
    sed '$d' "$r.ans"
    rc=$(sed -n '$s/^rc=//p' "$r.ans")
    rm -f "$r.ans"
    return "$rc"
}

# host_fault ARGS...: host_nvemu fault ARGS ("add TYPE KEY=VALUE...", "list", "clear [ID]").
host_fault() { host_nvemu fault "$@"; }
