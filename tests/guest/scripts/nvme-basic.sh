#!/bin/sh
# Functional checks of an NVMe/TCP target with nvme-cli and fio: discover,
# connect, list, id-ctrl, id-ns, smart-log, error-log, flush, dsm deallocate,
# write-zeroes, compare, fio random write + crc32c verify, disconnect.
# Each check prints PASS/FAIL/SKIP; exit status is non-zero on any FAIL.
#
# Env (besides TARGET_ADDR, TARGET_PORT, SUBNQN, DIGESTS, CONNECT_OPTS, see lib.sh):
#   EXPECT_LBA_SIZE   expected logical block size in bytes (default: not checked)
#   FIO_SIZE_MB       total fio region, split among the jobs (default 256)
#   FIO_JOBS          fio jobs (default 4)
#   FIO_IODEPTH       fio iodepth per job (default 16)
#   FIO_BS            fio block size range (default 4k-128k: ~4000 writes and
#                     ~4000 verify reads for 256 MiB, 1-2 min under TCG)
# Reference-target differences, allowed only when set explicitly:
#   ALLOW_NO_COMPARE=1  skip the Compare checks if ONCS bit 0 (Compare) is clear
#                       (Linux 6.1 nvmet does not implement Compare)
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
: "${EXPECT_LBA_SIZE:=}" "${FIO_SIZE_MB:=256}" "${FIO_JOBS:=4}" "${FIO_IODEPTH:=16}"
: "${FIO_BS:=4k-128k}" "${ALLOW_NO_COMPARE:=0}"
W=/tmp/nvme-basic
mkdir -p "$W"
T0=$(cut -d' ' -f1 /proc/uptime)

say "discover $TARGET_ADDR:$TARGET_PORT"
if run nvme discover -t tcp -a "$TARGET_ADDR" -s "$TARGET_PORT" > "$W/disc" 2>&1 &&
   grep -q "subnqn: *$SUBNQN\$" "$W/disc"; then
    cat "$W/disc"; pass "discover lists $SUBNQN"
else
    cat "$W/disc"; fail "discover does not list $SUBNQN"
fi

say "connect (digests $DIGESTS)"
connect_subsys || die "connect to $SUBNQN at $TARGET_ADDR:$TARGET_PORT"
pass "connect"
trap '[ -n "${DEV:-}" ] && nvme disconnect -n "$SUBNQN" >/dev/null 2>&1' EXIT

say "nvme list"
if run nvme list > "$W/list" 2>&1 && grep -q "^$DEV " "$W/list"; then
    cat "$W/list"; pass "nvme list shows $DEV"
else
    cat "$W/list"; fail "nvme list does not show $DEV"
fi

say "nvme id-ctrl $CTRL"
if run nvme id-ctrl "$CTRL" > "$W/idctrl" 2>&1; then
    cat "$W/idctrl"
    if [ "$(field "$W/idctrl" subnqn)" = "$SUBNQN" ]; then pass "id-ctrl subnqn"
    else fail "id-ctrl subnqn is '$(field "$W/idctrl" subnqn)'"; fi
else
    cat "$W/idctrl"; fail "id-ctrl"
fi
ONCS=$(($(field "$W/idctrl" oncs)))

say "nvme id-ns $DEV"
if run nvme id-ns "$DEV" > "$W/idns" 2>&1; then
    cat "$W/idns"; pass "id-ns"
else
    cat "$W/idns"; fail "id-ns"
fi
LBADS=$(sed -n 's/^lbaf *[0-9]* *: .*lbads:\([0-9]*\).*(in use).*/\1/p' "$W/idns")
LBA=$((1 << ${LBADS:-0}))
SYS_LBA=$(cat "/sys/block/${DEV#/dev/}/queue/logical_block_size")
NSZE=$(($(field "$W/idns" nsze)))
SYS_BYTES=$(($(cat "/sys/block/${DEV#/dev/}/size") * 512))
echo "LBA size: id-ns $LBA, kernel $SYS_LBA; nsze $NSZE = $((NSZE * LBA)) bytes, kernel $SYS_BYTES bytes"
if [ "$LBA" = "$SYS_LBA" ] && [ $((NSZE * LBA)) = "$SYS_BYTES" ]; then pass "id-ns LBA size and NSZE match the kernel's view"
else fail "id-ns LBA size/NSZE disagree with the kernel"; fi
if [ -n "$EXPECT_LBA_SIZE" ]; then
    if [ "$LBA" = "$EXPECT_LBA_SIZE" ]; then pass "LBA size is $EXPECT_LBA_SIZE"
    else fail "LBA size is $LBA, expected $EXPECT_LBA_SIZE"; fi
fi

say "nvme smart-log / error-log"
if run nvme smart-log "$CTRL" > "$W/smart0.txt" 2>&1 &&
   nvme smart-log "$CTRL" -o json > "$W/smart0" 2>&1; then
    cat "$W/smart0.txt"; pass "smart-log"
else
    cat "$W/smart0.txt"; fail "smart-log"
fi
if run nvme error-log "$CTRL" -e 2; then pass "error-log"; else fail "error-log"; fi

say "nvme flush"
if run nvme flush "$DEV" -n "$NSID"; then pass "flush"; else fail "flush"; fi

# Data checks on 64 KiB at 1 MiB, with O_DIRECT reads/writes through dd.
LEN=65536 OFF=1048576
SLBA=$((OFF / LBA)) NLB=$((LEN / LBA))
head -c $LEN /dev/urandom > "$W/pat"
head -c $LEN /dev/zero > "$W/zero"
put() { dd if="$1" of="$DEV" bs=$LEN count=1 seek=$((OFF / LEN)) oflag=direct conv=notrunc status=none; }
get() { dd if="$DEV" of="$W/got" bs=$LEN count=1 skip=$((OFF / LEN)) iflag=direct status=none; }
# zero_check NAME CMD...: write the pattern, run CMD, expect zeroes back.
zero_check() {
    name=$1; shift
    if ! put "$W/pat" || ! get || ! cmp -s "$W/got" "$W/pat"; then
        fail "$name: pattern write/read-back failed"; return
    fi
    if ! run "$@"; then fail "$name: command failed"; return; fi
    if get && cmp -s "$W/got" "$W/zero"; then pass "$name: blocks read back as zeroes"
    else fail "$name: blocks do not read back as zeroes"; fi
}
say "nvme dsm --ad (LBA $SLBA, $NLB blocks)"
zero_check "dsm deallocate" nvme dsm "$DEV" -n "$NSID" --ad -s "$SLBA" -b "$NLB"
say "nvme write-zeroes (LBA $SLBA, $NLB blocks)"
zero_check "write-zeroes" nvme write-zeroes "$DEV" -n "$NSID" -s "$SLBA" -c $((NLB - 1))

say "nvme compare (ONCS $(printf 0x%x "$ONCS"))"
if [ $((ONCS & 1)) = 0 ] && [ "$ALLOW_NO_COMPARE" = 1 ]; then
    skip "compare: ONCS bit 0 clear, allowed by ALLOW_NO_COMPARE=1"
else
    [ $((ONCS & 1)) = 1 ] || fail "ONCS bit 0 (Compare) is not set"
    cp "$W/pat" "$W/bad"
    b=$(od -An -tu1 -j $((LBA + 17)) -N 1 "$W/pat" | tr -d ' ')
    # shellcheck disable=SC2059
    printf "\\$(printf %03o $((255 - b)))" | dd of="$W/bad" bs=1 seek=$((LBA + 17)) conv=notrunc status=none
    if put "$W/pat" && run nvme compare "$DEV" -n "$NSID" -s "$SLBA" -c $((NLB - 1)) -z $LEN -d "$W/pat"; then
        pass "compare with matching data succeeds"
    else
        fail "compare with matching data"
    fi
    if run nvme compare "$DEV" -n "$NSID" -s "$SLBA" -c $((NLB - 1)) -z $LEN -d "$W/bad" > "$W/cmp" 2>&1; then
        cat "$W/cmp"; fail "compare with one differing byte succeeded"
    elif cat "$W/cmp"; grep -qi 'compare.*fail' "$W/cmp"; then
        pass "compare with one differing byte fails with Compare Failure"
    else
        fail "compare with one differing byte failed, but not with Compare Failure"
    fi
fi

say "fio: randwrite + crc32c verify, ${FIO_SIZE_MB} MiB, $FIO_JOBS jobs, iodepth $FIO_IODEPTH, bs $FIO_BS"
PER_JOB=$((FIO_SIZE_MB / FIO_JOBS))
if [ $((FIO_SIZE_MB * 1048576)) -gt "$SYS_BYTES" ]; then
    fail "namespace ($SYS_BYTES bytes) is smaller than FIO_SIZE_MB=$FIO_SIZE_MB"
else
    F0=$(cut -d' ' -f1 /proc/uptime)
    # One job section per region: disjoint regions, so verify sees only its own writes.
    set -- --ioengine=libaio --direct=1 --rw=randwrite --bsrange="$FIO_BS" \
        --iodepth="$FIO_IODEPTH" --size=${PER_JOB}M --verify=crc32c --verify_fatal=1 \
        --group_reporting --filename="$DEV"
    j=0
    while [ $j -lt "$FIO_JOBS" ]; do
        set -- "$@" --name=verify$j --offset=$((j * PER_JOB))M
        j=$((j + 1))
    done
    if run fio "$@"; then
        pass "fio randwrite + verify (crc32c) in $(awk "BEGIN {print $(cut -d' ' -f1 /proc/uptime) - $F0}") s"
    else
        fail "fio randwrite + verify"
    fi
fi

say "smart-log counters after I/O"
if nvme smart-log "$CTRL" -o json > "$W/smart1" 2>&1; then
    for k in data_units_written data_units_read host_write_commands host_read_commands; do
        a=$(json_num "$W/smart0" $k) b=$(json_num "$W/smart1" $k)
        echo "$k: ${a:-?} -> ${b:-?}"
        if [ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ]; then pass "smart-log $k increased"
        else fail "smart-log $k did not increase"; fi
    done
    a=$(json_num "$W/smart0" data_units_written) b=$(json_num "$W/smart1" data_units_written)
    # fio wrote FIO_SIZE_MB MiB = FIO_SIZE_MB * 2.048 units of 1000 x 512 bytes
    min=$((FIO_SIZE_MB * 2048 / 1000 - 1))
    if [ -n "$a" ] && [ -n "$b" ] && [ $((b - a)) -ge $min ]; then pass "data_units_written grew by $((b - a)) >= $min"
    else fail "data_units_written grew by less than $min"; fi
else
    fail "smart-log after I/O"
fi

say "nvme disconnect"
trap - EXIT
if disconnect_subsys; then pass "disconnect"; else fail "disconnect"; fi

echo "nvme-basic: $FAILS failure(s), $(awk "BEGIN {print $(cut -d' ' -f1 /proc/uptime) - $T0}") s"
if [ "$FAILS" -ne 0 ]; then
    echo "== kernel messages"
    dmesg | grep -i nvme | tail -n 30
fi
[ "$FAILS" -eq 0 ]
