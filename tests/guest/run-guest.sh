#!/usr/bin/env bash
# Boot the nvemu reference guest under QEMU and run SCRIPT (a /bin/sh script)
# inside it; exit with SCRIPT's exit status.  Without SCRIPT, the guest's
# console (a shell) is on this terminal; the guest powers off when it exits.
#
# Usage: run-guest.sh [-e NAME=VALUE]... [SCRIPT [ARGS...]]
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
#   NVEMU_GUEST_TIMEOUT  hard limit in seconds (default 900 with SCRIPT, none
#                        for a console; 0: none); QEMU is killed then
#   NVEMU_GUEST_KERNEL   the guest's kernel: 6.1 (Debian 12's, the default) or 6.12
#                        (bookworm-backports'); see build-guest.sh
#   NVEMU_GUEST_MEM      guest memory (default 1G)
#   NVEMU_GUEST_SMP      guest CPUs (default 2)
#   NVEMU_GUEST_ACCEL    QEMU -accel value (default tcg,thread=single), or auto:
#                        KVM if a test boot under KVM works (cached in the guest
#                        cache as kvm-probe), else TCG.  A PVM /dev/kvm opens
#                        but does not boot Debian kernels.
#   NVEMU_GUEST_NETDEV   extra options for -netdev user, e.g.
#                        ",hostfwd=tcp:127.0.0.1:4421-:4420"
#   NVEMU_GUEST_SHARE    host directory shared read-write as /mnt/host (9p)
#   NVEMU_GUEST_APPEND   more kernel parameters, e.g. "nvme_core.io_timeout=5"
#   NVEMU_GUEST_QUIET=1  do not copy the console to stdout (the log has it)
#   NVEMU_GUEST_GDB=1    QEMU's gdb stub on :1234 (-s -S): the guest waits for gdb
#   NVEMU_GUEST_IMAGE    boot this disk image (virtio) instead of the reference
#                        guest; console only, no SCRIPT
#   NVEMU_GUEST_CACHE / NVEMU_CACHE  see build-guest.sh
#
# Exit status: SCRIPT's (the console shell's), or 124 on timeout, 125 if the
# guest stopped without reporting one (killed, crashed; for a console or an
# image: QEMU's status), 2 on usage errors.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "run-guest: error: $*" >&2; exit 2; }
usage() { sed -n '6,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

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
SCRIPT=
if [ $# -ge 1 ]; then
    SCRIPT=$1; shift
    [ -f "$SCRIPT" ] || die "no such script: $SCRIPT"
fi
IMAGE=${NVEMU_GUEST_IMAGE:-}
if [ -n "$IMAGE" ]; then
    [ -z "$SCRIPT" ] || die "no SCRIPT can run in a user's image (NVEMU_GUEST_IMAGE)"
    [ -f "$IMAGE" ] || die "no such disk image: $IMAGE"
fi

NAME=${NVEMU_GUEST_NAME:-g$$}
[[ $NAME =~ ^[A-Za-z0-9._-]+$ ]] || die "NVEMU_GUEST_NAME may only hold letters, digits, . _ -"
LOG=${NVEMU_GUEST_LOG:-${TMPDIR:-/tmp}/nvemu-guest-$NAME.log}
PIDFILE=${NVEMU_GUEST_PIDFILE:-${LOG%.log}.pid}
TIMEOUT=${NVEMU_GUEST_TIMEOUT:-$([ -n "$SCRIPT" ] && echo 900 || echo 0)}
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "NVEMU_GUEST_TIMEOUT must be a number of seconds"

# A user's image needs the reference guest only for the KVM test boot.
CACHE=
if [ -z "$IMAGE" ] || [ "${NVEMU_GUEST_ACCEL:-}" = auto ]; then
    CACHE=$("$HERE/build-guest.sh") || die "building the guest failed"
fi
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

# QEMU option values are comma-separated: a comma in a path is written twice.
qesc() { printf '%s' "${1//,/,,}"; }

# kvm_boots: does a test boot of the guest under KVM reach /init and power off?
# The answer (and why not) is cached per host, QEMU and guest build.
kvm_boots() {
    local probe=$CACHE/kvm-probe key rc=0
    key="$(uname -nr) | $(qemu-system-x86_64 --version | head -n 1) | $(md5sum < "$CACHE/stamp")"
    if [ "$(sed -n 1p "$probe" 2>/dev/null)" != "$key" ]; then
        echo "run-guest: $NAME: test boot under KVM (once; the answer is cached in $probe)" >&2
        echo 'exit 0' > "$RUN/kvm-probe.sh"
        env NVEMU_GUEST_ACCEL=kvm NVEMU_GUEST_TIMEOUT=30 NVEMU_GUEST_QUIET=1 \
            NVEMU_GUEST_NAME="$NAME-kvm-probe" NVEMU_GUEST_LOG="$RUN/kvm-probe.log" \
            NVEMU_GUEST_SHARE= NVEMU_GUEST_IMAGE= NVEMU_GUEST_GDB= NVEMU_GUEST_NETDEV= \
            "$HERE/run-guest.sh" "$RUN/kvm-probe.sh" 2>/dev/null || rc=$?
        case $rc in
            0) printf '%s\nyes\n\n' "$key" ;;
            124) printf '%s\nno\nthe test boot did not finish within 30 s\n' "$key" ;;
            *) printf '%s\nno\n%s\n' "$key" "$(tr -d '\r' < "$RUN/kvm-probe.log" |
                   grep -v '^[[:space:]]*$' | tail -n 1 | sed 's/^qemu-system-x86_64: //' | cut -c1-160)" ;;
        esac > "$probe.$$"
        mv -f "$probe.$$" "$probe"
    fi
    KVM_WHY=$(sed -n 3p "$probe")
    [ "$(sed -n 2p "$probe")" = yes ]
}

ACCEL=${NVEMU_GUEST_ACCEL:-tcg,thread=single}
TCG_WHY=
if [ "$ACCEL" = auto ]; then
    ACCEL=tcg,thread=single
    if [ ! -e /dev/kvm ]; then
        TCG_WHY="no /dev/kvm"
    elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
        TCG_WHY="/dev/kvm is not open to $(id -un)"
    elif kvm_boots; then
        ACCEL=kvm
    else
        TCG_WHY="KVM does not boot the guest kernel here: $KVM_WHY"
    fi
fi
case $ACCEL in
    kvm*) echo "run-guest: $NAME: KVM" >&2 ;;
    *) echo "run-guest: $NAME: software emulation (TCG${TCG_WHY:+; $TCG_WHY}): timings in the guest are not meaningful" >&2 ;;
esac

QEMU=(qemu-system-x86_64 -name "nvemu-$NAME" -nographic -nodefaults -no-user-config
      -accel "$ACCEL" -cpu max -m "${NVEMU_GUEST_MEM:-1G}" -smp "${NVEMU_GUEST_SMP:-2}"
      -netdev "user,id=n0${NVEMU_GUEST_NETDEV:-}" -device virtio-net-pci,netdev=n0,romfile=
      -pidfile "$PIDFILE")
if [ -n "$SCRIPT" ]; then
    QEMU+=(-serial mon:stdio)
else
    # The console on this terminal (Ctrl-C goes to the guest) and a copy in
    # the log, where the exit status is read from.
    QEMU+=(-chardev "stdio,id=con,mux=on,signal=off,logfile=$(qesc "$LOG")"
           -serial chardev:con -mon chardev=con)
fi
if [ -n "${NVEMU_GUEST_SHARE:-}" ]; then
    [ -d "$NVEMU_GUEST_SHARE" ] || die "NVEMU_GUEST_SHARE is not a directory: $NVEMU_GUEST_SHARE"
    QEMU+=(-virtfs "local,path=$(qesc "$NVEMU_GUEST_SHARE"),mount_tag=host,security_model=none")
fi
[ "${NVEMU_GUEST_GDB:-0}" = 1 ] && QEMU+=(-s -S)

if [ -n "$IMAGE" ]; then
    QEMU+=(-drive "file=$(qesc "$IMAGE"),if=virtio")
else
    # The per-run cpio: /init, scripts, environment and arguments under /nvemu.
    mkdir -p "$RUN/root/nvemu/run"
    install -m 755 "$HERE/init.sh" "$RUN/root/init"
    cp -r "$HERE/scripts" "$RUN/root/nvemu/scripts"
    [ -n "$SCRIPT" ] && cp "$SCRIPT" "$RUN/root/nvemu/run/"
    HOSTID=$(printf '%s' "nvemu-guest-$NAME" | md5sum | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/')
    {
        echo "export NVEMU_GUEST_NAME=$(shq "$NAME")"
        if [ -n "$SCRIPT" ]; then
            echo "export NVEMU_SCRIPT=/nvemu/run/$(shq "$(basename "$SCRIPT")")"
        else
            echo "export NVEMU_CONSOLE=1 TERM=$(shq "${TERM:-vt100}")"
            # The guest's serial console cannot know the terminal's size.
            if [ -t 0 ] && [[ $(stty size) =~ ^[1-9][0-9]*\ [1-9][0-9]*$ ]]; then
                echo "export NVEMU_CONSOLE_SIZE=$(shq "$(stty size)")"
            fi
        fi
        echo "export NVEMU_SCRIPTS=/nvemu/scripts"
        echo "export NVEMU_HOSTID=$HOSTID"
        echo "export NVEMU_HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:$HOSTID"
        [ -n "${NVEMU_GUEST_SHARE:-}" ] && echo "export NVEMU_SHARE=$(shq "$NVEMU_GUEST_SHARE")"
        for kv in "${GUEST_ENV[@]}"; do echo "export ${kv%%=*}=$(shq "${kv#*=}")"; done
    } > "$RUN/root/nvemu/env"
    {
        printf 'set --'
        for a in "$@"; do printf ' %s' "$(shq "$a")"; done
        echo
    } > "$RUN/root/nvemu/args"
    (cd "$RUN/root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$RUN/run.cpio.gz"
    cat "$CACHE/initrd.img" "$RUN/run.cpio.gz" > "$RUN/initrd.img"
    APPEND="console=ttyS0 panic=-1 quiet${NVEMU_GUEST_APPEND:+ $NVEMU_GUEST_APPEND}"
    # The kernel's addresses must be those of its vmlinux for gdb.
    [ "${NVEMU_GUEST_GDB:-0}" = 1 ] && APPEND+=" nokaslr"
    QEMU+=(-kernel "$CACHE/vmlinux" -initrd "$RUN/initrd.img" -append "$APPEND" -no-reboot)
fi

if [ "${NVEMU_GUEST_GDB:-0}" = 1 ]; then
    echo "run-guest: $NAME: the guest waits for gdb on port 1234 (QEMU -s -S); attach with" >&2
    if [ -n "$IMAGE" ]; then
        echo "    gdb VMLINUX -ex 'target remote :1234'" >&2
        echo "  VMLINUX: the image kernel's, with symbols; boot it with nokaslr" >&2
    else
        KVER=$(sed -n 's/^guest linux-image-\([0-9][^=]*\)=.*/\1/p' "$CACHE/stamp")
        DBG_VMLINUX=/usr/lib/debug/boot/vmlinux-$KVER
        echo "    gdb $DBG_VMLINUX -ex 'target remote :1234'" >&2
        echo "  then e.g. 'hbreak start_kernel', 'continue'." >&2
        [ -f "$DBG_VMLINUX" ] || echo "  $DBG_VMLINUX (symbols of the booted kernel, whose" \
            "own vmlinux is stripped) comes with: apt-get install linux-image-$KVER-dbg" >&2
    fi
fi

rm -f "$PIDFILE"
: > "$LOG"
START=$SECONDS
if [ -n "$SCRIPT" ]; then
    echo "run-guest: $NAME: $(basename "$SCRIPT") $*; console log $LOG, QEMU pid file $PIDFILE" >&2
    "${QEMU[@]}" </dev/null >"$LOG" 2>&1 &
    QEMU_PID=$!
    [ "${NVEMU_GUEST_QUIET:-0}" = 1 ] || tail -n +1 -f --pid="$QEMU_PID" "$LOG" &
else
    echo "run-guest: $NAME: console on this terminal (Ctrl-A X stops QEMU, Ctrl-A C its" \
        "monitor); console log $LOG, QEMU pid file $PIDFILE" >&2
    # Without job control QEMU stays in the terminal's foreground group; its
    # stdin must be named, or bash gives a background command /dev/null.
    "${QEMU[@]}" <&0 &
    QEMU_PID=$!
fi
echo "run-guest: $NAME: QEMU pid $QEMU_PID" >&2

TIMED_OUT=0
while kill -0 "$QEMU_PID" 2>/dev/null; do
    if [ "$TIMEOUT" -gt 0 ] && [ $((SECONDS - START)) -ge "$TIMEOUT" ]; then
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
elif [ -z "$RC" ] && [ -z "$SCRIPT" ]; then
    RC=$QEMU_STATUS  # stopped from QEMU's monitor, or the user's image powered off
elif [ -z "$RC" ]; then
    echo "run-guest: guest stopped without an exit status (QEMU status $QEMU_STATUS); log ends:" >&2
    tail -n 5 "$LOG" | tr -d '\r' >&2
    RC=125
fi
echo "run-guest: $NAME: exit $RC after $((SECONDS - START)) s; console log $LOG" >&2
exit "$RC"
