#!/usr/bin/env bash
# Boot the nvemu reference guest under QEMU and run SCRIPT (a /bin/sh script)
# inside it; exit with SCRIPT's exit status.
#
# Usage: run-guest.sh [-e NAME=VALUE]... SCRIPT [ARGS...]
#   -e NAME=VALUE   export NAME in the guest before SCRIPT runs (repeatable)
# The whole tests/guest/scripts directory is available in the guest as
# $NVEMU_SCRIPTS (/nvemu/scripts).
#
# Env (all optional):
#   NVEMU_GUEST_NAME     name of this guest (default g<pid>); names the log and
#                        pid files and derives the host NQN/host ID, so two
#                        guests with different names are different NVMe hosts
#   NVEMU_GUEST_LOG      console log (default ${TMPDIR:-/tmp}/nvemu-guest-NAME.log)
#   NVEMU_GUEST_PIDFILE  QEMU's pid file (default next to the log, .pid); kill
#                        that pid to cut the guest off mid-run
#   NVEMU_GUEST_TIMEOUT  hard limit in seconds (default 900); QEMU is killed then
#   NVEMU_GUEST_MEM      guest memory (default 1G)
#   NVEMU_GUEST_SMP      guest CPUs (default 2)
#   NVEMU_GUEST_ACCEL    QEMU -accel value (default tcg,thread=single; KVM does
#                        not boot Debian kernels on this PVM host)
#   NVEMU_GUEST_NETDEV   extra options for -netdev user, e.g.
#                        ",hostfwd=tcp:127.0.0.1:4421-:4420"
#   NVEMU_GUEST_SHARE    host directory shared read-write as /mnt/host (9p)
#   NVEMU_GUEST_QUIET=1  do not copy the console to stdout (the log has it)
#   NVEMU_GUEST_CACHE / NVEMU_CACHE  see build-guest.sh
#
# Exit status: SCRIPT's, or 124 on timeout, 125 if the guest stopped without
# reporting one (killed, crashed), 2 on usage errors.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "run-guest: error: $*" >&2; exit 2; }
usage() { sed -n '5,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

GUEST_ENV=()
while [ $# -gt 0 ]; do
    case $1 in
        -e) [ $# -ge 2 ] && [[ $2 == [A-Za-z_]*=* ]] || die "-e needs NAME=VALUE"
            GUEST_ENV+=("$2"); shift 2 ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || usage
SCRIPT=$1; shift
[ -f "$SCRIPT" ] || die "no such script: $SCRIPT"

NAME=${NVEMU_GUEST_NAME:-g$$}
[[ $NAME =~ ^[A-Za-z0-9._-]+$ ]] || die "NVEMU_GUEST_NAME may only hold letters, digits, . _ -"
LOG=${NVEMU_GUEST_LOG:-${TMPDIR:-/tmp}/nvemu-guest-$NAME.log}
PIDFILE=${NVEMU_GUEST_PIDFILE:-${LOG%.log}.pid}
TIMEOUT=${NVEMU_GUEST_TIMEOUT:-900}
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "NVEMU_GUEST_TIMEOUT must be a number of seconds"

CACHE=$("$HERE/build-guest.sh") || die "building the guest failed"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"

# Shell-quote a value for the guest's sh: 'it'\''s'.
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

RUN=$(mktemp -d "${TMPDIR:-/tmp}/nvemu-run-$NAME.XXXXXX")
QEMU_PID=
cleanup() {
    [ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null || true
    rm -rf "$RUN" "$PIDFILE"
}
trap cleanup EXIT
trap 'echo "run-guest: interrupted, killing QEMU" >&2; exit 130' INT
trap 'echo "run-guest: terminated, killing QEMU" >&2; exit 143' TERM

# The per-run cpio: scripts, environment and arguments under /nvemu.
mkdir -p "$RUN/root/nvemu/run"
cp -r "$HERE/scripts" "$RUN/root/nvemu/scripts"
cp "$SCRIPT" "$RUN/root/nvemu/run/"
HOSTID=$(printf '%s' "nvemu-guest-$NAME" | md5sum | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/')
{
    echo "export NVEMU_GUEST_NAME=$(shq "$NAME")"
    echo "export NVEMU_SCRIPT=/nvemu/run/$(shq "$(basename "$SCRIPT")")"
    echo "export NVEMU_SCRIPTS=/nvemu/scripts"
    echo "export NVEMU_HOSTID=$HOSTID"
    echo "export NVEMU_HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:$HOSTID"
    [ -n "${NVEMU_GUEST_SHARE:-}" ] && echo "export NVEMU_SHARE=1"
    for kv in "${GUEST_ENV[@]}"; do echo "export ${kv%%=*}=$(shq "${kv#*=}")"; done
} > "$RUN/root/nvemu/env"
{
    printf 'set --'
    for a in "$@"; do printf ' %s' "$(shq "$a")"; done
    echo
} > "$RUN/root/nvemu/args"
(cd "$RUN/root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$RUN/run.cpio.gz"
cat "$CACHE/initrd.img" "$RUN/run.cpio.gz" > "$RUN/initrd.img"

QEMU=(qemu-system-x86_64 -name "nvemu-$NAME" -nographic -nodefaults -no-user-config
      -serial mon:stdio -accel "${NVEMU_GUEST_ACCEL:-tcg,thread=single}" -cpu max
      -m "${NVEMU_GUEST_MEM:-1G}" -smp "${NVEMU_GUEST_SMP:-2}"
      -kernel "$CACHE/vmlinux" -initrd "$RUN/initrd.img"
      -append "console=ttyS0 panic=-1 quiet"
      -netdev "user,id=n0${NVEMU_GUEST_NETDEV:-}" -device virtio-net-pci,netdev=n0,romfile=
      -no-reboot -pidfile "$PIDFILE")
if [ -n "${NVEMU_GUEST_SHARE:-}" ]; then
    [ -d "$NVEMU_GUEST_SHARE" ] || die "NVEMU_GUEST_SHARE is not a directory: $NVEMU_GUEST_SHARE"
    QEMU+=(-virtfs "local,path=$NVEMU_GUEST_SHARE,mount_tag=host,security_model=none")
fi

rm -f "$PIDFILE"
: > "$LOG"
echo "run-guest: $NAME: $(basename "$SCRIPT") $*; console log $LOG, QEMU pid file $PIDFILE" >&2
START=$SECONDS
"${QEMU[@]}" </dev/null >"$LOG" 2>&1 &
QEMU_PID=$!
echo "run-guest: $NAME: QEMU pid $QEMU_PID" >&2
[ "${NVEMU_GUEST_QUIET:-0}" = 1 ] || tail -n +1 -f --pid="$QEMU_PID" "$LOG" &

TIMED_OUT=0
while kill -0 "$QEMU_PID" 2>/dev/null; do
    if [ $((SECONDS - START)) -ge "$TIMEOUT" ]; then
        echo "run-guest: timeout after $TIMEOUT s, killing QEMU" >&2
        kill "$QEMU_PID" 2>/dev/null || true
        TIMED_OUT=1
        break
    fi
    sleep 0.2
done
QEMU_STATUS=0
wait "$QEMU_PID" || QEMU_STATUS=$?
QEMU_PID=
wait  # the console tail

RC=$(tr -d '\r' < "$LOG" | sed -n 's/^NVEMU-GUEST-EXIT: \([0-9]\{1,3\}\)$/\1/p' | tail -n 1)
if [ "$TIMED_OUT" = 1 ]; then
    RC=124
elif [ -z "$RC" ]; then
    echo "run-guest: guest stopped without an exit status (QEMU status $QEMU_STATUS); log ends:" >&2
    tail -n 5 "$LOG" | tr -d '\r' >&2
    RC=125
fi
echo "run-guest: $NAME: exit $RC after $((SECONDS - START)) s; console log $LOG" >&2
exit "$RC"
