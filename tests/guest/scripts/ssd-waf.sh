#!/bin/sh
# The ssd namespace kind seen from a real host: fio random writes with crc32c
# verify over several times the namespace's capacity, so garbage collection
# must run; then nvemu's vendor log page (CAh) read with nvme-cli must show
# NAND pages written > host pages written (WAF > 1), and the data must be intact.
# Env: as in lib.sh; WRITE_PASSES (default 3): how many times the capacity is written.
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
: "${WRITE_PASSES:=3}"

connect_subsys || die "connect to $SUBNQN at $TARGET_ADDR:$TARGET_PORT"
bytes=$(( $(cat "/sys/block/$NS/size") * 512 ))
echo "namespace: $bytes bytes"

# One job overwrites the whole device in random order WRITE_PASSES times and
# verifies the last pass: every block holds its newest data or verify fails.
run fio --name=waf --filename="$DEV" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k \
    --iodepth=16 --size="$bytes" --loops="$WRITE_PASSES" --norandommap --randrepeat=0 \
    --verify=crc32c --verify_fatal=1 --do_verify=1 > /tmp/fio.out 2>&1
st=$?
grep -E "err=|IOPS|verify" /tmp/fio.out
[ $st -eq 0 ] && pass "fio randwrite x$WRITE_PASSES over the capacity, crc32c verify" ||
    { cat /tmp/fio.out; fail "fio randwrite + verify"; }

vendor_log "$CTRL" "$NSID" || die "nvme get-log 0xca"
[ "$VL_VERSION" -eq 3 ] || die "vendor log CAh: version $VL_VERSION, expected 3"
host=$VL_HOST nand=$VL_NAND gc=$VL_GC waf=$VL_WAF_MILLI
echo "vendor log CAh: host_pages=$host nand_pages=$nand gc_runs=$gc erase_min=$VL_EMIN erase_max=$VL_EMAX waf_milli=$waf"
[ "${host:-0}" -gt 0 ] && pass "host pages written counted ($host)" || fail "no host pages counted"
[ "${nand:-0}" -gt "${host:-0}" ] && [ "${waf:-0}" -gt 1000 ] &&
    pass "WAF $waf/1000 > 1 after GC ($gc runs)" || fail "WAF not above 1: host=$host nand=$nand"

disconnect_subsys && pass "disconnect" || fail "disconnect"
[ "$FAILS" -eq 0 ]
