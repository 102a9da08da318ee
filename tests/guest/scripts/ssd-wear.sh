#!/bin/sh
# A drive that wears out, seen from a real host: fio writes a tiny-endurance ssd
# namespace (half its capacity at a time, a quarter once blocks retire) until
# SMART shows the available spare below its threshold (critical warning bit 0,
# writes still accepted), then until writes fail: SMART then shows the media read-only (bit 3), a write fails
# with Attempted Write to Read Only Range, reads still work and return the
# 256 KiB written first, and nvemu's vendor log page says read-only.
# Env: as in lib.sh; EXPECT_SPARE_THRESHOLD: the threshold the daemon was given.
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
: "${EXPECT_SPARE_THRESHOLD:=10}"

connect_subsys || die "connect to $SUBNQN at $TARGET_ADDR:$TARGET_PORT"
bytes=$(( $(cat "/sys/block/$NS/size") * 512 ))
echo "namespace: $bytes bytes"

# smart: the namespace's SMART / Health fields into CW SPARE THRESH USED.
smart() {
    nvme smart-log "$CTRL" --namespace-id="$NSID" -o json > /tmp/smart.json || return 1
    CW=$(json_num /tmp/smart.json critical_warning) SPARE=$(json_num /tmp/smart.json avail_spare)
    THRESH=$(json_num /tmp/smart.json spare_thresh) USED=$(json_num /tmp/smart.json percent_used)
    echo "smart: critical_warning=$CW avail_spare=$SPARE spare_thresh=$THRESH percent_used=$USED"
}

smart || die "nvme smart-log"
[ "$CW" -eq 0 ] && [ "$SPARE" -eq 100 ] && [ "$THRESH" -eq "$EXPECT_SPARE_THRESHOLD" ] &&
    pass "fresh: no warning, spare 100 %, threshold $THRESH %" || fail "fresh drive's SMART"

# The first 256 KiB are written once and kept out of the wear: they must read back at the end.
dd if=/dev/urandom of=/tmp/ref.bin bs=256k count=1 2>/dev/null
run dd if=/tmp/ref.bin of="$DEV" bs=256k count=1 oflag=direct 2>&1 || die "writing the first 256 KiB"

wear=$((bytes - 262144)) written=0 pass_no=0 warned=0 st=0 SPARE=100
while [ $pass_no -lt 200 ]; do
    step=$((bytes / 2))
    [ "$SPARE" -lt 100 ] && step=$((bytes / 4)) # the end is near: finer steps
    fio --name=wear --filename="$DEV" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k \
        --iodepth=16 --offset=256k --size="$wear" --io_size="$step" --norandommap \
        --randrepeat=0 > /tmp/fio.out 2>&1
    st=$?
    pass_no=$((pass_no + 1)) written=$((written + step))
    smart > /tmp/smart.line || die "nvme smart-log"
    if [ $st -ne 0 ]; then
        cat /tmp/smart.line
        break
    fi
    if [ $warned -eq 0 ] && [ $((CW & 1)) -ne 0 ]; then
        warned=1
        cat /tmp/smart.line
        [ "$CW" -eq 1 ] && [ "$SPARE" -lt "$THRESH" ] &&
            pass "after $((written >> 10)) KiB: spare $SPARE % below the threshold: critical warning bit 0, writes still accepted" ||
            fail "spare warning: critical_warning=$CW spare=$SPARE threshold=$THRESH"
    fi
done
[ $st -ne 0 ] && pass "fio's writes failed, read-only after at most $((written >> 10)) KiB" ||
    die "the drive never wore out in $((written >> 10)) KiB"
[ $warned -eq 1 ] || fail "the spare warning was never seen before read-only"
grep -E "err=" /tmp/fio.out | head -n 3
[ $((CW & 9)) -eq 9 ] && [ "$SPARE" -eq 0 ] && [ "$USED" -gt 0 ] &&
    pass "SMART: critical warning $CW (spare, read-only), spare 0 %, $USED % used" ||
    fail "read-only drive's SMART: critical_warning=$CW spare=$SPARE used=$USED"

# Writes fail with the specification's status; the kernel turns it into an I/O error.
lbs=$(cat "/sys/block/$NS/queue/logical_block_size")
out=$(nvme write "$DEV" --start-block=$((262144 / lbs)) --block-count=$((4096 / lbs - 1)) \
    --data-size=4096 --data=/tmp/ref.bin 2>&1)
echo "$out"
echo "$out" | grep -qiE "0x4?182|RO_RANGE|read.only" && pass "nvme write: Attempted Write to Read Only Range" ||
    fail "nvme write on a read-only drive: $out"
dd if=/tmp/ref.bin of="$DEV" bs=4k count=1 seek=64 oflag=direct 2>/tmp/dd.err &&
    fail "a write to a read-only drive succeeded" || pass "dd write: $(grep -m 1 "dd:" /tmp/dd.err)"
dmesg | grep -iE "medium|nvme.*(error|status)" | tail -n 3

# Reads work, and return what was written.
run dd if="$DEV" of=/tmp/back.bin bs=256k count=1 iflag=direct 2>&1 &&
    cmp /tmp/ref.bin /tmp/back.bin && pass "the first 256 KiB read back as written" ||
    fail "reading the first 256 KiB back"
dd if="$DEV" of=/dev/null bs=1M iflag=direct 2>/dev/null && pass "the whole namespace reads" ||
    fail "reading the whole namespace"

vendor_log "$CTRL" "$NSID" || die "nvme get-log 0xca"
echo "vendor log CAh: version=$VL_VERSION retired=$VL_RETIRED spare=$VL_SPARE used_milli=$VL_USED_MILLI read_only=$VL_READ_ONLY waf_milli=$VL_WAF_MILLI"
[ "$VL_VERSION" -eq 3 ] && [ "$VL_READ_ONLY" -eq 1 ] && [ "$VL_RETIRED" -gt 0 ] &&
    pass "vendor log: read-only, $VL_RETIRED blocks retired" || fail "vendor log CAh wear fields"

disconnect_subsys && pass "disconnect" || fail "disconnect"
[ "$FAILS" -eq 0 ]
