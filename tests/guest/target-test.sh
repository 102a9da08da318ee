#!/usr/bin/env bash
# Runs one guest scenario against a fresh nvemu daemon: starts NVEMU on a free
# loopback port, boots the reference guest(s), stops the daemon with SIGTERM and
# requires a clean exit (under ASan, a leak or memory error fails the test).
#
# Usage: target-test.sh NVEMU SCENARIO [KERNEL]   (KERNEL: the guest's, 6.1 or 6.12; default 6.1)
#   basic-4k          nvme-cli + fio verify, 4096-byte LBAs, on the default device
#                     (an ssd namespace)
#   basic-4k-digests  the same with header and data digests (nvme connect -g -G)
#   basic-4k-zerocopy the same without digests, every read sent with MSG_ZEROCOPY
#                     (--zerocopy-min 4096): requests held until the kernel's
#                     notifications, namespace pages held against fio's writes;
#                     the host disables SQ flow control (nvme connect
#                     --disable-sqflow), so reads complete with their data's
#                     SUCCESS flag and no response
#   basic-512         nvme-cli + fio verify, 512-byte LBAs, on a ram namespace
#   ssd-waf           fio verify over 3x the capacity of a small over-provisioned
#                     ssd namespace; WAF > 1 in nvemu's vendor log page
#   ssd-wear          a tiny-endurance ssd namespace written by fio until SMART's
#                     spare falls below its threshold, then until read-only: writes
#                     fail, reads return the data
#   cut               kill one guest's QEMU mid-I/O, freeze another (keep-alive
#                     expiry), then check a third host is served
#   tour              the demo's tour of a small ssd and a zoned namespace (output
#                     on the terminal)
#   zns               nvemu --zoned: block layer, nvme-cli zns, blkzone, a libnvme
#                     program, fio --zonemode=zbd with verify, zonefs, zone wear-out
#   fdp               an ssd with Flexible Data Placement (fdp=on): nvme-cli's fdp plugin,
#                     writes placed with nvme write --dir-type=2 and io-passthru, read back
#   persist           drive directories: fio + flush, SIGKILL, restart, the host
#                     reconnects, fio --verify_only; a power cut with and without
#                     power-loss protection (old or new content, never other)
#   zns-persist       a zoned drive directory: zones and zonefs file sizes across a
#                     clean restart and a SIGKILL (open zones come back closed)
#   auth              DH-HMAC-CHAP (6.12 only): the right host secret connects and runs
#                     fio verify; a wrong host secret, a wrong controller secret and no
#                     secret are refused; both secrets (bidirectional) run fio verify
#   faults-media      media and health faults set at run time (read-error, die-offline,
#                     write-error, read-only, spare-low, latency, gc-storm, thermal, namespace hot
#                     add/remove), with a trace of the whole run checked here
#   faults-link       link-drop, CFS and a command never answered while fio verifies;
#                     the host recovers by itself
# Env: NVEMU_TEST_DIR (logs; default a new directory under /tmp), FIO_SIZE_MB.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NVEMU=${1:?usage: target-test.sh NVEMU SCENARIO}
SCENARIO=${2:?usage: target-test.sh NVEMU SCENARIO}
export NVEMU_GUEST_KERNEL=${3:-6.1}
# Logs and guests' names (so their host NQNs) say the kernel when it is not the default.
TAG=$SCENARIO
[ "$NVEMU_GUEST_KERNEL" = 6.1 ] || TAG=$SCENARIO-$NVEMU_GUEST_KERNEL
DIR=${NVEMU_TEST_DIR:-$(mktemp -d /tmp/nvemu-test.XXXXXX)}
mkdir -p "$DIR"
NQN=nqn.2026-11.dev.nvemu:ssd0  # the default device's NQN
DAEMON_LOG=$DIR/nvemu-$TAG.log
DAEMON_PID=

say() { echo "target-test: $TAG: $*" >&2; }
fail() { say "FAIL: $*"; say "daemon log: $DAEMON_LOG"; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_daemon() {
    PORT=$(free_port)
    : > "$DAEMON_LOG"
    restart_daemon "$@"
}

# restart_daemon ARGS...: the daemon again, on the same port (the hosts reconnect to it).
restart_daemon() {
    local started
    started=$(grep -c "serving NVMe/TCP" "$DAEMON_LOG" 2>/dev/null || true)
    "$NVEMU" -p "$PORT" -n "$NQN" --verbose "$@" >> "$DAEMON_LOG" 2>&1 &
    DAEMON_PID=$!
    for _ in $(seq 300); do
        [ "$(grep -c "serving NVMe/TCP" "$DAEMON_LOG")" -gt "${started:-0}" ] && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || fail "nvemu exited at start"
        sleep 0.1
    done
    fail "nvemu did not start"
}

kill_daemon() {
    kill -KILL "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=
}

stop_daemon() {
    kill -TERM "$DAEMON_PID"
    local rc=0
    wait "$DAEMON_PID" || rc=$?
    DAEMON_PID=
    [ "$rc" -eq 0 ] || fail "nvemu exited with status $rc on SIGTERM"
    ! grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$DAEMON_LOG" ||
        fail "sanitizer report in the daemon log"
}

cleanup() {
    # Guests left in the background may have ended already: failures are fine here.
    [ -z "$DAEMON_PID" ] || kill -KILL "$DAEMON_PID" 2>/dev/null || true
    jobs -p | xargs -r kill 2>/dev/null || true
}
trap cleanup EXIT

# guest NAME SCRIPT [-e VAR=VALUE]...: boots a guest against the daemon.
guest() {
    local name=$1 script=$2
    shift 2
    NVEMU_GUEST_NAME=$TAG-$name NVEMU_GUEST_LOG=$DIR/guest-$TAG-$name.log \
        NVEMU_GUEST_QUIET=${QUIET:-1} \
        "$HERE/run-guest.sh" -e SUBNQN=$NQN -e TARGET_PORT="$PORT" "$@" "$HERE/scripts/$script"
}

wait_for() {  # wait_for SECONDS FILE PATTERN
    local deadline=$((SECONDS + $1))
    until grep -qE "$3" "$2" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.5
    done
}

basic() {  # basic LBA_SIZE "DAEMON OPTIONS" [GUEST OPTIONS]
    local lba=$1 daemon_opts=$2
    shift 2
    # shellcheck disable=SC2086  # the daemon's options are words
    start_daemon --lba-size "$lba" $daemon_opts
    guest host nvme-basic.sh -e EXPECT_LBA_SIZE="$lba" -e FIO_SIZE_MB="${FIO_SIZE_MB:-256}" "$@" ||
        fail "guest checks failed (log: $DIR/guest-$TAG-host.log)"
    grep -E "^(PASS|FAIL|SKIP):" "$DIR/guest-$TAG-host.log" >&2
    stop_daemon
}

# The controller of the Nth host that connected to the test subsystem is freed
# (every queue closed) within SECONDS.
host_released() {  # host_released N SECONDS
    local cntlid
    cntlid=$(sed -n "s/.*controller \([0-9]*\): \(.*\) connected to $NQN .*/\1 \2/p" "$DAEMON_LOG" |
             awk '!seen[$2]++ {print $1}' | sed -n "${1}p")
    [ -n "$cntlid" ] || fail "no controller of host $1 in the daemon log"
    wait_for "$2" "$DAEMON_LOG" "controller $cntlid: all queues closed, freed"
}

# serve_requests DIR: runs the guest's `nvemu fault ...` and `nvemu stats ...` requests
# (DIR/N.req, one line of arguments, from lib.sh's host_nvemu) against the daemon and
# answers in DIR/N.ans (the output, then "rc=STATUS"), until DIR/stop appears.
serve_requests() {
    local dir=$1 req ans
    while [ ! -e "$dir/stop" ]; do
        for req in "$dir"/*.req; do
            [ -e "$req" ] || continue
            ans=${req%.req}.ans
            read -r -a words < "$req"
            case ${words[0]:-} in
                fault|stats) "$NVEMU" "${words[0]}" -p "$PORT" "${words[@]:1}" > "$ans.tmp" 2>&1
                    echo "rc=$?" >> "$ans.tmp" ;;
                *) printf 'not served: %s\nrc=2\n' "${words[*]}" > "$ans.tmp" ;;
            esac
            echo "target-test: guest asked: nvemu ${words[*]}: $(tail -n 1 "$ans.tmp")" >> "$DIR/requests.log"
            mv "$ans.tmp" "$ans"
            rm -f "$req"
        done
        sleep 0.1
    done
}

# faults SCRIPT DAEMON_OPTIONS... [-- GUEST_OPTIONS...]: the guest SCRIPT sets faults through
# serve_requests while a trace of namespace 1 records every command (checked by trace_has).
faults() {
    local script=$1 share=$DIR/share-$SCENARIO
    shift
    local daemon_opts=() guest_opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do daemon_opts+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    guest_opts=("$@")
    rm -rf "$share"
    mkdir -p "$share/requests"
    start_daemon "${daemon_opts[@]}"
    serve_requests "$share/requests" &
    local server=$!
    "$NVEMU" stats -p "$PORT" --trace 1 --out "$DIR/trace-$SCENARIO.json" > "$DIR/trace.log" 2>&1 &
    local tracer=$!
    local rc=0
    NVEMU_GUEST_SHARE=$share guest host "$script" "${guest_opts[@]}" || rc=$?
    kill -INT "$tracer"
    wait "$tracer" || true
    touch "$share/requests/stop"
    wait "$server"
    grep -E "^(PASS|FAIL|SKIP):" "$DIR/guest-$TAG-host.log" >&2
    [ "$rc" -eq 0 ] || fail "guest checks failed (log: $DIR/guest-$TAG-host.log)"
    stop_daemon
}

# trace_has WHAT PATTERN: the scenario's trace holds a line matching PATTERN.
trace_has() {
    local n
    n=$(grep -cE "$2" "$DIR/trace-$SCENARIO.json" || true)
    [ "$n" -gt 0 ] || fail "the trace shows no $1 (pattern $2)"
    say "trace: $n line(s) with $1"
}

cut() {
    start_daemon
    # Host A is killed mid-I/O: its sockets close under the daemon.
    guest cutA long-io.sh > /dev/null 2>&1 &
    wait_for 120 "$DIR/guest-$TAG-cutA.log" NVEMU-IO-RUNNING || fail "host A never ran I/O"
    kill -KILL "$(cat "$DIR/guest-$TAG-cutA.pid")"
    say "killed host A's QEMU mid-I/O"
    host_released 1 20 || fail "host A's controller was not freed"
    # Host B freezes mid-I/O: its sockets stay open, so only keep-alive can tell.
    guest cutB long-io.sh > /dev/null 2>&1 &
    wait_for 120 "$DIR/guest-$TAG-cutB.log" NVEMU-IO-RUNNING || fail "host B never ran I/O"
    local frozen
    frozen=$(cat "$DIR/guest-$TAG-cutB.pid")
    kill -STOP "$frozen"
    say "froze host B's QEMU mid-I/O; waiting for keep-alive expiry"
    host_released 2 30 || fail "host B's controller survived its keep-alive"
    grep -q "no Keep Alive" "$DAEMON_LOG" || fail "host B was not torn down by keep-alive"
    kill -KILL "$frozen"
    # Host C must be served as if nothing happened.
    guest cutC nvme-basic.sh -e FIO_SIZE_MB=64 || fail "host C was not served after the cuts"
    stop_daemon
}

persist() {
    local helpers=$DIR/persist-helpers ctl=$DIR/persist.sock guest_log=$DIR/guest-$TAG-host.log
    "$HERE/persist/build.sh" "$helpers" || fail "building blockcheck"
    rm -rf "$DIR/drive1" "$DIR/drive2" "$helpers/restarted" "$helpers/cut"
    # Namespace 1: no power-loss protection, a slow NAND behind a 4 MiB write buffer, so that
    # writes wait there at the cut. Namespace 2: power-loss protection.
    local args=(--control "$ctl" --ns ssd --ns-preset small --ns-o "path=$DIR/drive1"
                --ns-o page_program_ns=20000000 --ns-o write_buffer_kib=4096
                --ns ssd --ns-preset small --ns-o "path=$DIR/drive2"
                --ns-o power_loss_protection=on)
    start_daemon "${args[@]}"
    NVEMU_GUEST_SHARE=$helpers guest host persist.sh &
    local guest_pid=$!
    wait_for 600 "$guest_log" NVEMU-PERSIST-KILL || fail "the guest never asked for the kill"
    kill_daemon
    say "killed nvemu with SIGKILL; starting it again on the same directories"
    restart_daemon "${args[@]}"
    touch "$helpers/restarted"
    wait_for 600 "$guest_log" NVEMU-PERSIST-CUT || fail "the guest never asked for the cut"
    "$NVEMU" power-cut --control "$ctl" --down-ms 2000 >&2 || fail "nvemu power-cut"
    touch "$helpers/cut"
    wait "$guest_pid" || fail "guest checks failed (log: $guest_log)"
    grep -E "^(PASS|FAIL|SKIP):" "$guest_log" >&2
    grep -E "power cut: .* lost" "$DAEMON_LOG" >&2
    grep -qE "namespace 1 lost [1-9][0-9]* LBAs" "$DAEMON_LOG" ||
        fail "the cut lost nothing of namespace 1 (no power-loss protection)"
    grep -q "namespace 2 lost 0 LBAs" "$DAEMON_LOG" || fail "namespace 2 (PLP) lost writes"
    stop_daemon
}

zns_persist() {
    local share=$DIR/zns-helpers guest_log=$DIR/guest-$TAG-host.log
    "$HERE/zns/build.sh" "$share" || fail "building the ZNS helpers"
    rm -rf "$DIR/zdrive" "$share/restarted" "$share/killed"
    local args=(--path "$DIR/zdrive" --zoned -o zone_cap=12M -o max_open=12 -o max_active=14)
    start_daemon "${args[@]}"
    NVEMU_GUEST_SHARE=$share guest host zns-persist.sh -e EXPECT_ZONE_LBAS=4096 \
        -e EXPECT_ZONE_CAP_LBAS=3072 &
    local guest_pid=$!
    wait_for 600 "$guest_log" NVEMU-ZNS-RESTART || fail "the guest never asked for the restart"
    stop_daemon
    say "stopped nvemu cleanly; starting it again on the same directory"
    restart_daemon --path "$DIR/zdrive"
    touch "$share/restarted"
    wait_for 600 "$guest_log" NVEMU-ZNS-KILL || fail "the guest never asked for the kill"
    kill_daemon
    say "killed nvemu with SIGKILL; starting it again"
    restart_daemon --path "$DIR/zdrive"
    touch "$share/killed"
    wait "$guest_pid" || fail "guest checks failed (log: $guest_log)"
    grep -E "^(PASS|FAIL|SKIP):" "$guest_log" >&2
    stop_daemon
}

# secret [TRANSFORM [BYTES]]: a random DH-HMAC-CHAP secret as nvme gen-dhchap-key writes it.
secret() {
    python3 -c 'import base64, os, struct, sys, zlib
raw = os.urandom(int(sys.argv[2]))
print("DHHC-1:%02x:%s:" % (int(sys.argv[1]), base64.b64encode(raw + struct.pack("<I", zlib.crc32(raw))).decode()))' \
        "${1:-1}" "${2:-32}"
}

auth() {
    local host=nqn.2014-08.org.nvmexpress:uuid:6e76656d-752d-4175-7468-000000000001
    local key ctrl_key
    key=$(secret 1 32) ctrl_key=$(secret 2 48)
    # The secrets go through a config file, as a user would keep them out of the process list.
    printf '[nvemu]\nallow_host = %s\ndhchap_key = %s\ndhchap_ctrl_key = %s\n' \
        "$host" "$key" "$ctrl_key" > "$DIR/auth.ini"
    start_daemon --config "$DIR/auth.ini" --ns ram:256M
    guest host auth.sh -e AUTH_HOSTNQN=$host -e KEY="$key" -e CTRL_KEY="$ctrl_key" \
        -e WRONG_KEY="$(secret 1 32)" -e WRONG_CTRL_KEY="$(secret 0 32)" ||
        fail "guest checks failed (log: $DIR/guest-$TAG-host.log)"
    grep -E "^(PASS|FAIL|SKIP):" "$DIR/guest-$TAG-host.log" >&2
    # The target's side of each attempt, as its log tells it.
    [ "$(grep -c "host $host authenticated" "$DAEMON_LOG")" -eq 2 ] ||
        fail "the daemon did not log two successful authentications"
    grep -q "controller authenticated too" "$DAEMON_LOG" || fail "no bidirectional authentication logged"
    grep -q "authentication failed (wrong response" "$DAEMON_LOG" || fail "the wrong host secret was not refused"
    grep -q "refused DH-HMAC-CHAP" "$DAEMON_LOG" || fail "the host's refusal of our response was not logged"
    ! grep -qF -e "$key" -e "$ctrl_key" -e "${key:10:30}" "$DAEMON_LOG" || fail "a secret is in the daemon log"
    grep -E "authenticated|DH-HMAC-CHAP" "$DAEMON_LOG" | sed 's/^/  daemon: /' >&2
    stop_daemon
}

case $SCENARIO in
    basic-4k) basic 4096 "" ;;
    basic-4k-digests) basic 4096 "" -e DIGESTS=on ;;
    basic-4k-zerocopy)
        basic 4096 "--zerocopy-min 4096" -e "CONNECT_OPTS=--disable-sqflow"
        grep -q "the host disabled SQ flow control" "$DAEMON_LOG" ||
            fail "the host did not disable SQ flow control (nvme connect --disable-sqflow)" ;;
    basic-512) basic 512 "--kind ram" ;;
    ssd-waf)
        # 2 x 2 dies of 64 blocks x 64 pages: 64 MiB of flash, 25% over-provisioned.
        start_daemon --kind ssd -o channels=2 -o luns_per_channel=2 -o blocks_per_plane=64 \
            -o pages_per_block=64 -o op_pcent=25
        guest host ssd-waf.sh || fail "guest checks failed (log: $DIR/guest-$TAG-host.log)"
        grep -E "^(PASS|FAIL|SKIP):|vendor log" "$DIR/guest-$TAG-host.log" >&2
        stop_daemon ;;
    ssd-wear)
        # 2 x 2 dies of 16 blocks x 16 pages: 4 MiB of flash, half of it spare, blocks
        # that endure about 5 erases (spread 40 %), dynamic wear levelling: worn out after
        # 7-10 MB of writes (nvemu sim says), the spare warning (from the first tenth of
        # the spare retired) 2-3 MB before.
        start_daemon --kind ssd -o channels=2 -o luns_per_channel=2 -o blocks_per_plane=16 \
            -o pages_per_block=16 -o op_pcent=100 -o endurance=5 -o endurance_spread_pcent=40 \
            -o wear_levelling=dynamic -o spare_threshold_pcent=90
        guest host ssd-wear.sh -e EXPECT_SPARE_THRESHOLD=90 ||
            fail "guest checks failed (log: $DIR/guest-$TAG-host.log)"
        grep -E "^(PASS|FAIL|SKIP):|smart:|vendor log" "$DIR/guest-$TAG-host.log" >&2
        stop_daemon ;;
    cut) cut ;;
    tour)
        # A small ssd (the small preset: 128 MiB of flash, 12 % over-provisioned) that the
        # guest can write past its spare area in seconds, and a zoned namespace.
        start_daemon --ns ssd --ns-preset small --ns zoned
        QUIET=0 guest tour tour.sh || fail "the tour failed"
        stop_daemon ;;
    zns)
        # The guest's helpers (libnvme program, zonefs super block) are built here
        # and reach the guest through the shared folder.
        "$HERE/zns/build.sh" "$DIR/zns-helpers" || fail "building the ZNS helpers"
        start_daemon --zoned -o zone_cap=12M -o max_open=12 -o max_active=14 \
            -o zone_max_resets=6
        NVEMU_GUEST_SHARE=$DIR/zns-helpers guest host zns-basic.sh -e EXPECT_ZONE_LBAS=4096 \
            -e EXPECT_ZONE_CAP_LBAS=3072 -e EXPECT_MAX_OPEN=12 -e EXPECT_MAX_ACTIVE=14 \
            -e EXPECT_ZASL_BYTES=65536 -e WEAR_RESETS=6 ||
            fail "guest checks failed (log: $DIR/guest-$TAG-host.log)"
        grep -E "^(PASS|FAIL|SKIP):" "$DIR/guest-$TAG-host.log" >&2
        stop_daemon ;;
    fdp)
        # 4 dies of 256 blocks of 64 pages (256 MiB of flash), 25 % over-provisioned: reclaim
        # units of one block per die (1 MiB), 8 handles.
        start_daemon --kind ssd -o channels=2 -o luns_per_channel=2 -o blocks_per_plane=256 \
            -o pages_per_block=64 -o op_pcent=25 -o fdp=on
        guest host fdp.sh -e EXPECT_NRUH=8 -e EXPECT_RU_BYTES=1048576 ||
            fail "guest checks failed (log: $DIR/guest-$TAG-host.log)"
        grep -E "^(PASS|FAIL|SKIP):" "$DIR/guest-$TAG-host.log" >&2
        stop_daemon ;;
    persist) persist ;;
    zns-persist) zns_persist ;;
    auth)
        [ "$NVEMU_GUEST_KERNEL" = 6.12 ] || fail "needs the 6.12 guest (Debian's 6.1 has no NVMe authentication)"
        auth ;;
    faults-media)
        # An ssd namespace with the small preset's round latencies, a ram one detached at start.
        faults faults-media.sh --ns ssd --ns-preset small --ns-o op_pcent=50 --ns ram:64M \
            --fault "ns-remove nsid=2"
        trace_has "failed reads of the bad blocks" '"status":17025,.*"fault":"read-error"'
        trace_has "reads of the offline die" '"status":17025,.*"fault":"die-offline"'
        trace_has "refused writes" '"fault":"read-only"'
        trace_has "latency spikes" '"fault":"latency","fault_id":[0-9]*,"fault_ns":50000000'
        trace_has "late reads" '"fault":"read-retry","fault_id":[0-9]*,"fault_ns":20000000'
        trace_has "throttled commands" '"fault":"thermal"'
        grep -q "namespace 2 attached" "$DAEMON_LOG" && grep -q "namespace 2 detached" "$DAEMON_LOG" ||
            fail "the daemon log does not show namespace 2 attached and detached" ;;
    faults-link)
        # The host's I/O timeout is short so that a command never answered costs seconds.
        export NVEMU_GUEST_APPEND="nvme_core.io_timeout=5"
        faults faults-link.sh --kind ram --size 256M -- \
            -e "CONNECT_OPTS=--reconnect-delay=1 --ctrl-loss-tmo=120 --keep-alive-tmo=5"
        trace_has "the held write" '"fault":"timeout".*"answered":false'
        trace_has "the CFS event" '"fault":"cfs","fault_id":[0-9]*,"what":"Controller Fatal' ;;
    *) fail "unknown scenario" ;;
esac
say "PASS"
