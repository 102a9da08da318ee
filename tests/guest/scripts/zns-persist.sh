#!/bin/sh
# A zoned drive kept in a directory, across a clean restart and a SIGKILL of the daemon
# (docs/persistence.md): zone states and write pointers hold, zones that were open come back
# closed (as on a ZNS drive after a power cycle), and zonefs remounted shows the same file
# sizes. The host side stops or kills the daemon when this script says so (NVEMU-ZNS-RESTART,
# NVEMU-ZNS-KILL) and answers through the shared folder.
# Env: as in lib.sh; ZNS_HELPERS (zonefs-super; default /mnt/host); EXPECT_ZONE_LBAS,
# EXPECT_ZONE_CAP_LBAS: the daemon's zone size and capacity in LBAs.
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
: "${ZNS_HELPERS:=/mnt/host}"
CONNECT_OPTS="--reconnect-delay=1 --ctrl-loss-tmo=300"
W=/tmp/zns-persist
mkdir -p "$W" /mnt/zonefs

connect_subsys || die "connect to $SUBNQN at $TARGET_ADDR:$TARGET_PORT"
trap 'umount /mnt/zonefs 2>/dev/null; [ -n "${DEV:-}" ] && nvme disconnect -n "$SUBNQN" >/dev/null 2>&1' EXIT
CNAME=${CTRL#/dev/}
LBA=$(cat "/sys/block/$NS/queue/logical_block_size")
ZSZE=$EXPECT_ZONE_LBAS
P=$(ls -d /sys/block/nvme*c*n"$NSID" 2>/dev/null | head -n 1)/queue

wait_host() {
    i=0
    while [ ! -e "/mnt/host/$1" ] && [ $i -lt 1200 ]; do sleep 0.25; i=$((i + 1)); done
    [ -e "/mnt/host/$1" ] || die "the host never wrote $1"
}

wait_live() {
    i=0
    while [ "$(cat /sys/class/nvme/$CNAME/state 2>/dev/null)" != live ] && [ $i -lt 600 ]; do
        sleep 0.1; i=$((i + 1))
    done
    [ "$(cat /sys/class/nvme/$CNAME/state 2>/dev/null)" = live ] || die "the controller did not come back"
    echo mq-deadline > "$P/scheduler" 2>/dev/null
    echo "controller $CNAME live again"
}

# zone I: "STATE WP" of zone I (as in zns-basic.sh).
zone() {
    nvme zns report-zones "$DEV" -s $(($1 * ZSZE)) -d 1 > "$W/rz" 2>&1 || { cat "$W/rz"; return 1; }
    sed -n 's/^SLBA:.*WP: *\([0-9a-fx]*\).*State: *\(0x[0-9a-f]*\).*/\2 \1/p' "$W/rz" |
        { read -r zs wp
          case $zs in
              0x10) s=EMPTY ;; 0x20) s=IMP_OPEN ;; 0x30) s=EXP_OPEN ;; 0x40) s=CLOSED ;;
              0xe0) s=FULL ;; *) s=$zs ;;
          esac
          case $wp in 0x*) ;; *) wp=0x$wp ;; esac
          echo "$s $((wp))"; }
}

expect() {  # expect WHAT GOT WANTED
    if [ "$2" = "$3" ]; then pass "$1: $2"; else fail "$1: '$2', expected '$3'"; fi
}

sizes() { stat -c "%n %s" /mnt/zonefs/seq/0 /mnt/zonefs/seq/1 /mnt/zonefs/seq/2 | tr '\n' ' '; }

# zonefs file I grows by MB MiB (asynchronous direct writes, as in zns-basic.sh).
grow() {
    fio --name=grow --filename="/mnt/zonefs/seq/$1" --ioengine=libaio --direct=1 --iodepth=1 \
        --rw=write --bs=64k --size="$2"M --file_append=1 > "$W/fio" 2>&1 ||
        { cat "$W/fio"; fail "fio appends $2 MiB to seq/$1"; }
}

echo mq-deadline > "$P/scheduler" || fail "cannot select mq-deadline"
say "zonefs with files in open zones"
nvme zns reset-zone "$DEV" -s 0 -a > /dev/null || fail "reset all zones"
dd if="$ZNS_HELPERS/zonefs-super" of="$DEV" bs=4096 count=1 oflag=direct 2>/dev/null
run mount -t zonefs "$DEV" /mnt/zonefs || die "mount -t zonefs"
grow 0 4
grow 1 6
grow 2 12   # the whole capacity: Full
# A zone opened explicitly with data in it (zone 20, outside zonefs' files above).
nvme zns open-zone "$DEV" -s $((20 * ZSZE)) > /dev/null || fail "open-zone 20"
head -c "$LBA" /dev/urandom > "$W/blk"
nvme zns zone-append "$DEV" -s $((20 * ZSZE)) -z "$LBA" -d "$W/blk" > /dev/null || fail "append to zone 20"
before=$(sizes)
echo "sizes: $before"
umount /mnt/zonefs
for z in 1 2 3 20; do echo "zone $z: $(zone $z)"; done
expect "zone 1 before" "$(zone 1)" "IMP_OPEN $((1 * ZSZE + 4 * 1048576 / LBA))"
expect "zone 20 before" "$(zone 20)" "EXP_OPEN $((20 * ZSZE + 1))"

check_after() {  # check_after WHAT
    expect "$1: zone 1 (was open)" "$(zone 1)" "CLOSED $((1 * ZSZE + 4 * 1048576 / LBA))"
    expect "$1: zone 2 (was open)" "$(zone 2)" "CLOSED $((2 * ZSZE + 6 * 1048576 / LBA))"
    expect "$1: zone 3 (full)" "$(zone 3)" "FULL $((3 * ZSZE + EXPECT_ZONE_CAP_LBAS))"
    expect "$1: zone 20 (was opened explicitly)" "$(zone 20)" "CLOSED $((20 * ZSZE + 1))"
    run mount -t zonefs "$DEV" /mnt/zonefs || { fail "$1: mount -t zonefs"; return; }
    expect "$1: zonefs file sizes" "$(sizes)" "$before"
}

say "clean restart of the daemon"
echo "NVEMU-ZNS-RESTART"
wait_host restarted
wait_live
check_after "after a clean restart"
grow 1 2
before=$(sizes)
umount /mnt/zonefs
expect "zone 2 written again" "$(zone 2)" "IMP_OPEN $((2 * ZSZE + 8 * 1048576 / LBA))"

say "SIGKILL of the daemon"
echo "NVEMU-ZNS-KILL"
wait_host killed
wait_live
expect "after a kill: zone 2 (was open)" "$(zone 2)" "CLOSED $((2 * ZSZE + 8 * 1048576 / LBA))"
expect "after a kill: zone 1" "$(zone 1)" "CLOSED $((1 * ZSZE + 4 * 1048576 / LBA))"
run mount -t zonefs "$DEV" /mnt/zonefs && expect "after a kill: zonefs file sizes" "$(sizes)" "$before" ||
    fail "after a kill: mount -t zonefs"
umount /mnt/zonefs

disconnect_subsys && pass "disconnect" || fail "disconnect"
trap - EXIT
[ "$FAILS" -eq 0 ]
