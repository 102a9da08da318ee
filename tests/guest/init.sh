#!/bin/sh
# /init of the nvemu reference guest (busybox sh).  Loads the NVMe/TCP host
# stack, configures the network, connects every subsystem of the target if
# NVEMU_CONNECT_ALL=1 (nvemu vm), runs the per-run script that run-guest.sh
# packed into /nvemu or, with NVEMU_CONSOLE=1, a shell on the console, prints
# "NVEMU-GUEST-EXIT: <status>" and powers off.
export PATH=/usr/sbin:/usr/bin HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# busybox modprobe ignores softdeps: the crc providers are loaded explicitly,
# before the modules that look them up.
for m in configfs crc32c_generic crc32c-intel crct10dif_generic crct10dif-pclmul \
         crc64_rocksoft_generic virtio_pci virtio_net nvme-tcp; do
    modprobe "$m" || echo "init: modprobe $m failed"
done
mount -t configfs configfs /sys/kernel/config

ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2

# Written by run-guest.sh: exported variables (NVEMU_*, test parameters) and
# "set -- ARGS" for the script.
[ -f /nvemu/env ] && . /nvemu/env
set --
[ -f /nvemu/args ] && . /nvemu/args

: "${NVEMU_HOSTID:=6e76656d-752d-4775-6573-740000000000}"
echo "${NVEMU_HOSTNQN:-nqn.2014-08.org.nvmexpress:uuid:$NVEMU_HOSTID}" > /etc/nvme/hostnqn
echo "$NVEMU_HOSTID" > /etc/nvme/hostid

if [ -n "${NVEMU_SHARE:-}" ]; then
    mkdir -p /mnt/host
    modprobe 9pnet_virtio && modprobe 9p &&
        mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /mnt/host ||
        echo "init: cannot mount the shared folder on /mnt/host"
fi

# subsys_dir NQN: the sysfs directory of connected subsystem NQN.
subsys_dir() {
    for f in /sys/class/nvme-subsystem/*/subsysnqn; do
        [ -f "$f" ] && [ "$(cat "$f")" = "$1" ] && { dirname "$f"; return 0; }
    done
    return 1
}

# namespace_devices NQN: wait until every active namespace of connected
# subsystem NQN has its block device (at most 10 s); print them.
namespace_devices() {
    i=0 want='' devs=''
    while [ $i -lt 100 ]; do
        if sd=$(subsys_dir "$1"); then
            ctrl=$(ls "$sd" | grep -E '^nvme[0-9]+$' | head -n 1)
            [ -n "$want" ] || want=$(nvme list-ns "/dev/$ctrl" 2>/dev/null | grep -c '^\[')
            devs=$(ls "$sd" | grep -E '^nvme[0-9]+n[0-9]+$' | sed 's|^|/dev/|' | tr '\n' ' ')
            devs=${devs% }
            n=0
            for d in $devs; do [ -b "$d" ] && n=$((n + 1)); done
            [ -n "$want" ] && [ "$n" -ge "$want" ] && { echo "$devs"; return 0; }
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "init: $1: not all of its ${want:-?} namespaces appeared within 10 s" >&2
    echo "$devs"
    return 1
}

# connect_all: nvme connect every NVM subsystem in the discovery log of
# TARGET_ADDR:TARGET_PORT and export NVEMU_DEVICES, the block devices of their
# namespaces.  The log carries the target's own address (127.0.0.1: the guest
# itself), so each subsystem is connected at TARGET_ADDR, never with connect-all.
connect_all() {
    addr=${TARGET_ADDR:-10.0.2.2} port=${TARGET_PORT:-4420}
    if ! disc=$(nvme discover -t tcp -a "$addr" -s "$port" 2>&1); then
        echo "init: nvme discover -t tcp -a $addr -s $port failed: $disc"
        return 1
    fi
    nqns=$(echo "$disc" | awk '/^subtype:/ {nvm = /nvme subsystem/} /^subnqn:/ && nvm {print $2}')
    [ -n "$nqns" ] || { echo "init: no NVM subsystem in the discovery log of $addr:$port"; return 1; }
    NVEMU_DEVICES=
    for nqn in $nqns; do
        if ! out=$(nvme connect -t tcp -a "$addr" -s "$port" -n "$nqn" 2>&1); then
            echo "init: nvme connect -t tcp -a $addr -s $port -n $nqn failed: $out"
            continue
        fi
        devs=$(namespace_devices "$nqn")
        echo "init: connected $nqn: ${devs:-no namespace}"
        NVEMU_DEVICES="${NVEMU_DEVICES:+$NVEMU_DEVICES }$devs"
    done
    export NVEMU_DEVICES
}

# console: an interactive shell on ttyS0 (its controlling terminal, so that
# Ctrl-C and job control work); returns its exit status.  The session leader
# is a second shell that outlives the interactive one by a moment: a session
# leader's exit hangs the terminal up, which drops output not yet sent.
console() {
    # shellcheck disable=SC2086  # "ROWS COLS"
    [ -n "${NVEMU_CONSOLE_SIZE:-}" ] && set -- $NVEMU_CONSOLE_SIZE &&
        stty -F /dev/ttyS0 rows "$1" cols "$2"
    mkdir -p /root
    cd /root
    [ -n "${NVEMU_SHARE:-}" ] && [ -d /mnt/host ] && cd /mnt/host
    echo
    echo "nvemu guest: Linux $(uname -r) with nvme-cli, fio, blkzone (busybox tools)."
    [ -n "${NVEMU_DEVICES:-}" ] && nvme list
    [ -n "${NVEMU_SHARE:-}" ] && echo "Shared folder: /mnt/host = $NVEMU_SHARE on the host."
    echo "exit or Ctrl-D powers the guest off."
    PS1='nvemu-guest:\w# ' setsid -c sh -c 'sh; rc=$?; sleep 0.2; exit $rc' \
        </dev/ttyS0 >/dev/ttyS0 2>&1
}

[ "${NVEMU_CONNECT_ALL:-0}" = 1 ] && connect_all
if [ -n "${NVEMU_SCRIPT:-}" ] && [ -f "$NVEMU_SCRIPT" ]; then
    echo "init: running ${NVEMU_SCRIPT##*/} at uptime $(cut -d' ' -f1 /proc/uptime) s"
    cd /tmp && sh "$NVEMU_SCRIPT" "$@"
    rc=$?
elif [ "${NVEMU_CONSOLE:-0}" = 1 ]; then
    console
    rc=$?
else
    echo "init: no script to run (NVEMU_SCRIPT='${NVEMU_SCRIPT:-}')"
    rc=127
fi
# A clean shutdown for the target: controllers deleted, not cut off.
if [ "${NVEMU_CONNECT_ALL:-0}" = 1 ] || [ "${NVEMU_CONSOLE:-0}" = 1 ]; then
    nvme disconnect-all >/dev/null 2>&1
    [ -n "${NVEMU_SHARE:-}" ] && umount /mnt/host 2>/dev/null
fi
sync
echo "NVEMU-GUEST-EXIT: $rc"
poweroff -f
# Not reached unless poweroff failed; with panic=-1 and -no-reboot QEMU exits.
exit "$rc"
