#!/bin/sh
# A zoned namespace seen from real clients: the Linux block layer
# (host-managed), nvme-cli's zns commands, blkzone, a libnvme program, fio in
# zoned mode with crc32c verify, and zonefs.  Each check prints PASS/FAIL;
# the exit status is non-zero on any FAIL.
#
# Env (besides TARGET_ADDR, TARGET_PORT, SUBNQN, see lib.sh):
#   ZNS_HELPERS   directory with zns-append, libnvme.so.1, zonefs-super
#                 (built on the host by tests/guest/zns/build.sh; default /mnt/host)
#   EXPECT_ZONE_LBAS, EXPECT_ZONE_CAP_LBAS, EXPECT_MAX_OPEN, EXPECT_MAX_ACTIVE,
#   EXPECT_ZASL_BYTES   what the daemon was started with
#   WEAR_RESETS   the daemon's zone_max_resets (0: skip the wear-out checks)
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
: "${ZNS_HELPERS:=/mnt/host}" "${WEAR_RESETS:=0}"
W=/tmp/zns
mkdir -p "$W"

connect_subsys || die "connect to $SUBNQN at $TARGET_ADDR:$TARGET_PORT"
trap '[ -n "${DEV:-}" ] && nvme disconnect -n "$SUBNQN" >/dev/null 2>&1' EXIT
LBA=$(cat "/sys/block/$NS/queue/logical_block_size")
SPL=$((LBA / 512)) # 512-byte sectors per LBA

expect() {  # expect WHAT GOT WANTED
    if [ "$2" = "$3" ]; then pass "$1 = $2"; else fail "$1 = '$2', expected '$3'"; fi
}

say "block layer view of $DEV"
Q=/sys/block/$NS/queue
# The open/active limits live on the path device (nvmeXcYnZ): the multipath
# node in front of it does not inherit them in 6.1, nor the zone append limit in
# 6.12 (it shows its own maximum transfer there).
P=$(ls -d /sys/block/nvme*c*n"$NSID" 2>/dev/null | head -n 1)/queue
for f in zoned nr_zones chunk_sectors max_open_zones max_active_zones zone_append_max_bytes; do
    echo "$f: $(cat "$Q/$f") (path: $(cat "$P/$f"))"
done
expect "queue/zoned" "$(cat "$Q/zoned")" host-managed
expect "queue/chunk_sectors" "$(cat "$Q/chunk_sectors")" $((EXPECT_ZONE_LBAS * SPL))
expect "path queue/max_open_zones" "$(cat "$P/max_open_zones")" "$EXPECT_MAX_OPEN"
expect "path queue/max_active_zones" "$(cat "$P/max_active_zones")" "$EXPECT_MAX_ACTIVE"
expect "path queue/zone_append_max_bytes" "$(cat "$P/zone_append_max_bytes")" "$EXPECT_ZASL_BYTES"
# Linux leaves multi-queue NVMe devices without a scheduler; zoned writes at
# queue depth > 1 need mq-deadline's zone write locking (zonedstorage.io).
echo mq-deadline > "$P/scheduler" && pass "mq-deadline on the path device" ||
    fail "cannot select mq-deadline"
NZONES=$(cat "$Q/nr_zones")
ZSZE=$EXPECT_ZONE_LBAS
ZCAP=$EXPECT_ZONE_CAP_LBAS

say "nvme zns id-ctrl / id-ns"
run nvme zns id-ctrl "$DEV" | tee "$W/idctrl"
ZASL=$(field "$W/idctrl" zasl)
expect "id-ctrl zasl (2^n x 4 KiB)" $((4096 << ZASL)) "$EXPECT_ZASL_BYTES"
run nvme zns id-ns "$DEV" | tee "$W/idns"
expect "id-ns zoc" "$(field "$W/idns" zoc)" 0
expect "id-ns mor" $(($(field "$W/idns" mor) + 1)) "$EXPECT_MAX_OPEN"
expect "id-ns mar" $(($(field "$W/idns" mar) + 1)) "$EXPECT_MAX_ACTIVE"
expect "id-ns lbafe 0 zsze" \
    $(($(sed -n 's/^lbafe *0: zsze:\(0x[0-9a-f]*\).*(in use).*/\1/p' "$W/idns"))) "$ZSZE"

# zone I: "STATE WP" of zone I in nvme-cli's report (it prints ZS << 4 in hex).
zone() {
    nvme zns report-zones "$DEV" -s $(($1 * ZSZE)) -d 1 > "$W/rz" 2>&1 || { cat "$W/rz"; return 1; }
    sed -n 's/^SLBA:.*WP: *\([0-9a-fx]*\).*State: *\(0x[0-9a-f]*\).*/\2 \1/p' "$W/rz" |
        { read -r zs wp
          case $zs in
              0x10) s=EMPTY ;; 0x20) s=IMP_OPEN ;; 0x30) s=EXP_OPEN ;; 0x40) s=CLOSED ;;
              0xd0) s=READ_ONLY ;; 0xe0) s=FULL ;; 0xf0) s=OFFLINE ;; *) s=$zs ;;
          esac
          case $wp in 0x*) ;; *) wp=0x$wp ;; esac
          echo "$s $((wp))"; }
}
zone_is() {  # zone_is WHAT I STATE [WP]
    got=$(zone "$2")
    want="$3 ${4:-}"
    case $got in "${want% }"*) pass "$1: zone $2 is $got" ;; *) fail "$1: zone $2 is '$got', expected '$want'" ;; esac
}
# zns CMD ZONE [args]: nvme zns CMD on zone ZONE's start; output in $W/out.
zns() {
    cmd=$1 z=$2
    shift 2
    nvme zns "$cmd" "$DEV" -s $((z * ZSZE)) "$@" > "$W/out" 2>&1
}
append() {  # append ZONE BLOCKS: prints the LBA nvme-cli reports
    head -c $(($2 * LBA)) /dev/urandom > "$W/data"
    zns zone-append "$1" -z $(($2 * LBA)) -d "$W/data" || { cat "$W/out" >&2; return 1; }
    lba=$(sed -n 's/.*appended data to LBA \([0-9a-fx]*\).*/\1/p' "$W/out")
    case $lba in 0x*) echo $((lba)) ;; *) echo $((0x$lba)) ;; esac
}
refused() {  # refused WHAT PATTERN: the last command failed with a status matching PATTERN
    if [ "$1" != ok ] && grep -qiE "$2" "$W/out"; then pass "$3: $(tr '\n' ' ' < "$W/out")"
    else fail "$3: expected $2, got: $(tr '\n' ' ' < "$W/out")"; fi
}

say "report-zones: $NZONES zones of $ZSZE LBAs, capacity $ZCAP"
run nvme zns report-zones "$DEV" -d 4 | tee "$W/report"
expect "report-zones nr_zones" "$(sed -n 's/^nr_zones: *//p' "$W/report")" "$NZONES"
expect "zone 3 capacity" $(($(sed -n '4s/.*Cap: *\(0x[0-9a-f]*\).*/\1/p' "$W/report" | tail -n 1))) \
    "$ZCAP"
zone_is "fresh" 1 EMPTY $ZSZE

say "explicit open, close, finish, reset of zone 1"
zns open-zone 1 || fail "open-zone: $(cat "$W/out")"
zone_is "open-zone" 1 EXP_OPEN $ZSZE
zns close-zone 1 || fail "close-zone: $(cat "$W/out")"
zone_is "close-zone of a zone holding nothing" 1 EMPTY $ZSZE
zns open-zone 1
A=$(append 1 1) && expect "zone-append LBA" "$A" "$ZSZE"
zone_is "after append" 1 EXP_OPEN $((ZSZE + 1))
zns close-zone 1 || fail "close-zone: $(cat "$W/out")"
zone_is "close-zone" 1 CLOSED $((ZSZE + 1))
zns finish-zone 1 || fail "finish-zone: $(cat "$W/out")"
zone_is "finish-zone" 1 FULL $((ZSZE + ZCAP))
zns reset-zone 1 || fail "reset-zone: $(cat "$W/out")"
zone_is "reset-zone" 1 EMPTY $ZSZE

say "zone-append returns the LBA written; writes only at the write pointer"
A1=$(append 2 1) && A2=$(append 2 2) && A3=$(append 2 1)
expect "three zone-appends to zone 2 landed at" "$A1 $A2 $A3" \
    "$((2 * ZSZE)) $((2 * ZSZE + 1)) $((2 * ZSZE + 3))"
zone_is "implicitly opened by appends" 2 IMP_OPEN $((2 * ZSZE + 4))
head -c "$LBA" /dev/urandom > "$W/one"
nvme write "$DEV" -s $((2 * ZSZE + 7)) -z "$LBA" -d "$W/one" > "$W/out" 2>&1 && st=ok || st=err
refused $st "invalid write|0x1bc" "write away from the write pointer"
nvme write "$DEV" -s $((2 * ZSZE + 4)) -z "$LBA" -d "$W/one" > "$W/out" 2>&1 &&
    pass "write at the write pointer" || fail "write at the write pointer: $(cat "$W/out")"
nvme read "$DEV" -s $((2 * ZSZE + 4)) -z "$LBA" -d "$W/back" > "$W/out" 2>&1 &&
    cmp -s "$W/one" "$W/back" && pass "read back" || fail "read back"
zns finish-zone 2
A=$(append 2 1 2>/dev/null) && st=ok || st=err
refused $st "zone.*full|0x1b9" "append to a full zone"

say "blkzone agrees with nvme-cli"
run blkzone report -o $((2 * ZSZE * SPL)) -c 1 "$DEV" | tee "$W/blkzone"
grep -q "start: 0x0*$(printf %x $((2 * ZSZE * SPL))),.*zcond: *14(fu)" "$W/blkzone" &&
    pass "blkzone: zone 2 full" || fail "blkzone: zone 2 not reported full"
run blkzone report -o $((1 * ZSZE * SPL)) -c 1 "$DEV" | tee "$W/blkzone"
grep -q "cap 0x0*$(printf %x $((ZCAP * SPL))),.*zcond: *1(em)" "$W/blkzone" &&
    pass "blkzone: zone 1 empty, capacity $((ZCAP * SPL)) sectors" || fail "blkzone: zone 1"

say "open and active limits ($EXPECT_MAX_OPEN open, $EXPECT_MAX_ACTIVE active)"
zns reset-zone 0 -a
B=10
append $B 1 > /dev/null # implicitly open: the victim of the next implicit close
i=1
while [ $i -lt "$EXPECT_MAX_OPEN" ]; do zns open-zone $((B + i)) || fail "open-zone $((B + i))"; i=$((i + 1)); done
zns open-zone $((B + i)) && pass "open-zone beyond the open limit closes an implicitly open zone" ||
    fail "open-zone at the open limit: $(cat "$W/out")"
zone_is "implicit close" $B CLOSED $((B * ZSZE + 1))
zns open-zone $((B + i + 1)) && st=ok || st=err
refused $st "too many open|0x1be" "open-zone with every open zone explicitly open"
zns close-zone $((B + i))
n=$((i + 1))
while [ "$((n - 1))" -lt "$EXPECT_MAX_ACTIVE" ]; do append $((B + n)) 1 > /dev/null || fail "append to zone $((B + n))"; n=$((n + 1)); done
append $((B + n)) 1 > /dev/null 2>&1 && st=ok || st=err
refused $st "too many active|0x1bd" "append to an empty zone with every active zone in use"
zns reset-zone 0 -a && pass "reset-zone --select-all"
nvme zns report-zones "$DEV" -S 1 > "$W/rz" 2>&1
expect "empty zones after reset-all" "$(sed -n 's/^nr_zones: *//p' "$W/rz")" "$NZONES"

say "libnvme client"
if LD_LIBRARY_PATH=$ZNS_HELPERS "$ZNS_HELPERS/zns-append" "$SUBNQN" 3 > "$W/libnvme" 2>&1; then
    cat "$W/libnvme"
else
    cat "$W/libnvme"; fail "zns-append (libnvme) failed"
fi

say "fio --zonemode=zbd: sequential writes with crc32c verify, then random reads"
FIO_ZONES=8
run fio --name=zbdw --filename="$DEV" --direct=1 --ioengine=libaio --iodepth=4 \
    --zonemode=zbd --rw=write --bs=64k --numjobs=4 --size=$((2 * ZSZE * LBA)) \
    --offset_increment=$((2 * ZSZE * LBA)) --offset=$((16 * ZSZE * LBA)) \
    --max_open_zones=4 --job_max_open_zones=1 --verify=crc32c --verify_fatal=1 \
    --group_reporting > "$W/fio" 2>&1 && st=ok || st=err
grep -E "err=|WRITE:|READ:" "$W/fio"
[ $st = ok ] && pass "fio zbd: 4 jobs write $FIO_ZONES zones, crc32c verify" || { cat "$W/fio"; fail "fio zbd write + verify"; }
run fio --name=zbdr --filename="$DEV" --direct=1 --ioengine=libaio --iodepth=8 \
    --zonemode=zbd --rw=randread --bs=4k --numjobs=2 --size=$((FIO_ZONES * ZSZE * LBA)) \
    --offset=$((16 * ZSZE * LBA)) --runtime=5 --time_based --group_reporting > "$W/fio" 2>&1 &&
    st=ok || st=err
grep -E "err=|READ:" "$W/fio"
[ $st = ok ] && pass "fio zbd: random reads" || { cat "$W/fio"; fail "fio zbd random reads"; }

say "zonefs (super block written as mkzonefs would: all zones reset, block 0 of zone 0)"
zns reset-zone 0 -a
dd if="$ZNS_HELPERS/zonefs-super" of="$DEV" bs=4096 count=1 oflag=direct 2>/dev/null
mkdir -p /mnt/zonefs
if run mount -t zonefs "$DEV" /mnt/zonefs; then
    expect "zonefs sequential files" "$(ls /mnt/zonefs/seq | wc -l)" $((NZONES - 1))
    expect "zonefs seq/1 blocks (the zone capacity)" "$(stat -c %b /mnt/zonefs/seq/1)" $((ZCAP * SPL))
    # Asynchronous direct writes: zonefs turns synchronous ones into Zone
    # Appends, whose returned sector Debian's 6.1.192 mishandles ("Corrupted
    # write pointer"; zoned null_blk fails the same way).
    run fio --name=zonefs --filename=/mnt/zonefs/seq/0 --ioengine=libaio --direct=1 \
        --iodepth=1 --rw=write --bs=64k --size=$((ZCAP * LBA)) --file_append=1 --verify=crc32c \
        --verify_fatal=1 > "$W/fio" 2>&1 && st=ok || st=err
    grep -E "err=|WRITE:|READ:" "$W/fio"
    [ $st = ok ] && pass "zonefs: fio fills seq/0 (a whole zone), crc32c verify" ||
        { cat "$W/fio"; fail "zonefs: fio on seq/0"; }
    umount /mnt/zonefs && mount -t zonefs "$DEV" /mnt/zonefs
    expect "zonefs seq/0 size after remount (from the write pointer)" \
        "$(stat -c %s /mnt/zonefs/seq/0)" $((ZCAP * LBA))
    zone_is "zonefs filled zone 1" 1 FULL
    umount /mnt/zonefs
else
    dmesg | tail -n 5; fail "mount -t zonefs"
fi

if [ "$WEAR_RESETS" -gt 0 ]; then
    say "a zone worn out by $WEAR_RESETS resets turns Read Only, is listed and announced"
    Z=$((NZONES - 1))
    aec=$(nvme get-feature "$CTRL" -f 0x0b | sed -n 's/.*Current value: *\(0x[0-9a-f]*\).*/\1/p')
    nvme set-feature "$CTRL" -f 0x0b -v $((aec | 0x08000000)) > /dev/null
    k=0
    while [ $k -lt "$WEAR_RESETS" ]; do append $Z 1 > /dev/null; zns reset-zone $Z; k=$((k + 1)); done
    zone_is "worn out" $Z READ_ONLY
    run nvme zns changed-zone-list "$DEV" | tee "$W/czl"
    grep -q "zid 000: $((Z * ZSZE))\$" "$W/czl" && pass "changed-zone-list names zone $Z" ||
        fail "changed-zone-list does not name zone $Z"
    sleep 1
    dmesg | grep -i "async event result" | tail -n 1 | tee "$W/aen"
    grep -qi "00bfef02" "$W/aen" && pass "Zone Descriptor Changed event (log BFh) reached the host" ||
        fail "no Zone Descriptor Changed event"
    append $Z 1 > /dev/null 2>&1 && st=ok || st=err
    refused $st "read only|0x1ba" "append to a read-only zone"
    zns offline-zone $Z || fail "offline-zone: $(cat "$W/out")"
    zone_is "offline-zone" $Z OFFLINE
    nvme read "$DEV" -s $((Z * ZSZE)) -z "$LBA" -d "$W/back" > "$W/out" 2>&1 && st=ok || st=err
    refused $st "offline|0x1bb" "read of an offline zone"
fi

disconnect_subsys && pass "disconnect" || fail "disconnect"
trap - EXIT
[ "$FAILS" -eq 0 ]
