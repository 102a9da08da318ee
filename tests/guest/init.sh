#!/bin/sh
# /init of the nvemu reference guest (busybox sh).  Loads the NVMe/TCP host
# stack, configures the network, runs the per-run script that run-guest.sh
# packed into /nvemu, prints "NVEMU-GUEST-EXIT: <status>" and powers off.
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

if [ -n "${NVEMU_SCRIPT:-}" ] && [ -f "$NVEMU_SCRIPT" ]; then
    echo "init: running ${NVEMU_SCRIPT##*/} at uptime $(cut -d' ' -f1 /proc/uptime) s"
    cd /tmp && sh "$NVEMU_SCRIPT" "$@"
    rc=$?
else
    echo "init: no script to run (NVEMU_SCRIPT='${NVEMU_SCRIPT:-}')"
    rc=127
fi
sync
echo "NVEMU-GUEST-EXIT: $rc"
poweroff -f
# Not reached unless poweroff failed; with panic=-1 and -no-reboot QEMU exits.
exit "$rc"
