#!/bin/sh
# Media and health faults seen by a real host (target-test.sh faults-media): the daemon serves
# an ssd namespace (small preset, 50 % over-provisioning so that a die can go) and a ram namespace that starts detached; faults are set on
# the host through host_fault (lib.sh).  Each check prints PASS/FAIL; exit status is non-zero on
# any FAIL.
#   read-error   dd and fio fail exactly on the bad blocks, nvme error-log names them, SMART
#                media_errors counts them, a rewrite heals them
#   die-offline  reads of what the die held fail (error-log names the block), rewritten they
#                read, fio writes and verifies while it is offline; critical warning bit 2
#   write-error  only the faulty block's write fails
#   read-only    critical warning bit 3, writes refused with the specification's status,
#                reads served
#   spare-low    critical warning bit 0, Available Spare below its threshold
#   latency      fio's completion latencies show the spike; gc-storm the same for writes;
#                read-retry makes reads late and never fails them
#   thermal      SMART temperature rises with load and falls when idle, the warning with it;
#                a hot drive slows reads (fio)
#   namespaces   /dev/nvmeXn2 appears and disappears without a reconnect
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
W=/tmp/faults
mkdir -p "$W"

connect_subsys || die "connect to $SUBNQN at $TARGET_ADDR:$TARGET_PORT"
trap 'nvme disconnect -n "$SUBNQN" >/dev/null 2>&1' EXIT
BS=$(cat "/sys/block/${DEV#/dev/}/queue/logical_block_size")
[ "$BS" = 4096 ] || die "expected 4096-byte blocks, not $BS"

smart() { nvme smart-log "$CTRL" -o json > "$W/smart.json" 2>&1 && json_num "$W/smart.json" "$1"; }
read_block() { dd if="$DEV" of="$2" bs=4096 skip="$1" count=1 iflag=direct status=none 2> "$W/dd.err"; }
write_block() { dd if="$2" of="$DEV" bs=4096 seek="$1" count=1 oflag=direct conv=notrunc status=none 2> "$W/dd.err"; }
# fio_clat FILE SIDE: mean and max completion latency in us of fio's JSON output, read or write.
fio_clat() {
    awk -v side="\"$2\"" '
        $1 == side { in_side = 1 }
        in_side && /"clat_ns"/ { in_clat = 1 }
        in_clat && $1 == "\"max\"" { max = $3 }
        in_clat && $1 == "\"mean\"" { mean = $3; gsub(",", "", mean); gsub(",", "", max);
                                      print int(mean / 1000), int(max / 1000); exit }' "$1"
}
# randio RW SECONDS OUT: QD1 4 KiB fio on the first 16 MiB, JSON into OUT.
randio() {
    fio --name="$1" --filename="$DEV" --ioengine=psync --direct=1 --rw="$1" --bs=4k --size=16M \
        --time_based --runtime="$2" --output-format=json --output="$3" > /dev/null 2>&1
}

say "fill the first 16 MiB (the ssd model reads what was written)"
run fio --name=fill --filename="$DEV" --ioengine=libaio --direct=1 --rw=write --bs=128k \
    --iodepth=8 --size=16M > "$W/fill" 2>&1 || die "fio fill: $(tail -n 3 "$W/fill")"

head -c 4096 /dev/urandom > "$W/blk0"
say "read-error nsid=1 lba=2048 count=8"
me0=$(smart media_errors) ne0=$(json_num "$W/smart.json" num_err_log_entries)
ID=$(host_fault add read-error nsid=1 lba=2048 count=8) || die "host_fault: $ID"
bad=""
for b in $(seq 2040 2063); do
    read_block "$b" /dev/null || { bad="$bad $b"; msg=$(cat "$W/dd.err"); }
done
echo "dd reads that failed:$bad ($msg)"
if [ "$bad" = " 2048 2049 2050 2051 2052 2053 2054 2055" ]; then pass "dd fails on blocks 2048-2055 and nowhere else"
else fail "dd failed on:$bad"; fi
fio --name=scan --filename="$DEV" --ioengine=psync --direct=1 --rw=read --bs=4k \
    --offset=$((2040 * 4096)) --size=$((24 * 4096)) --continue_on_error=read \
    --ignore_error=5:61 --error_dump=1 > "$W/scan" 2>&1
grep -E "io_u error|errors *:" "$W/scan" | head -n 3
offsets=$(sed -n 's/.*read offset=\([0-9]*\),.*/\1/p' "$W/scan" | while read -r o; do echo $((o / 4096)); done | sort -n | tr '\n' ' ')
echo "fio read errors at blocks: $offsets"
if [ "$offsets" = "2048 2049 2050 2051 2052 2053 2054 2055 " ]; then pass "fio sees errors on blocks 2048-2055 and nowhere else"
else tail -n 12 "$W/scan"; fail "fio errors at: $offsets"; fi
run nvme error-log "$CTRL" -e 2 | tee "$W/errlog" | grep -E "status_field|lba|nsid|parm"
if grep -qE "lba[[:space:]]*: (0x807|2055)\$" "$W/errlog"; then pass "nvme error-log names LBA 2055 (0x807), the newest failed read"
else fail "nvme error-log does not name the bad LBA"; fi
me1=$(smart media_errors) ne1=$(json_num "$W/smart.json" num_err_log_entries)
echo "media_errors: $me0 -> $me1, num_err_log_entries: $ne0 -> $ne1"
if [ $((me1 - me0)) -eq 16 ]; then pass "smart-log media_errors counts the 16 failed reads"
else fail "media_errors grew by $((me1 - me0)), not 16"; fi
[ $((ne1 - ne0)) -ge 16 ] && pass "smart-log counts their error log entries" ||
    fail "num_err_log_entries grew by $((ne1 - ne0))"
head -c 32768 /dev/urandom > "$W/new"
dd if="$W/new" of="$DEV" bs=4096 seek=2048 count=8 oflag=direct conv=notrunc status=none &&
    dd if="$DEV" of="$W/back" bs=4096 skip=2048 count=8 iflag=direct status=none &&
    cmp -s "$W/new" "$W/back" && pass "after rewriting them the blocks read back" ||
    fail "rewritten blocks do not read back: $(cat "$W/dd.err")"
host_fault clear "$ID" > /dev/null

say "die-offline nsid=1 die=1"
ID=$(host_fault add die-offline nsid=1 die=1) || die "host_fault: $ID"
cw=$(smart critical_warning)
echo "critical_warning: $cw"
[ "$cw" = 4 ] && pass "smart-log critical warning bit 2 (reliability degraded)" || fail "critical_warning is $cw, not 4"
lost=""
for b in $(seq 0 63); do read_block "$b" /dev/null || lost="$lost $b"; done
n=$(echo $lost | wc -w)
echo "dd reads that failed among blocks 0-63 ($n):$lost"
[ "$n" -ge 8 ] && [ "$n" -le 32 ] && pass "the blocks die 1 of 4 held fail to read, the others read" ||
    fail "$n of 64 blocks failed"
last=${lost##* }
run nvme error-log "$CTRL" -e 1 | tee "$W/errlog" | grep -E "status_field|lba|nsid"
grep -qE "lba[[:space:]]*: ($(printf '0x%x' "$last")|$last)\$" "$W/errlog" &&
    pass "nvme error-log names block $last, the last that failed" || fail "error-log does not name block $last"
for b in $lost; do write_block "$b" "$W/blk0" || fail "rewriting block $b: $(cat "$W/dd.err")"; done
relost=""
for b in $(seq 0 63); do read_block "$b" /dev/null || relost="$relost $b"; done
[ -z "$relost" ] && pass "rewritten, they read again (written to the other dies)" || fail "still failing:$relost"
run fio --name=offline --filename="$DEV" --ioengine=libaio --direct=1 --rw=randwrite --bs=16k \
    --iodepth=8 --offset=32M --size=8M --verify=crc32c --verify_fatal=1 > "$W/offline" 2>&1 &&
    pass "fio writes 8 MiB and verifies it while the die is offline" ||
    { tail -n 8 "$W/offline"; fail "fio write+verify failed with a die offline"; }
host_fault clear "$ID" > /dev/null
[ "$(smart critical_warning)" = 0 ] && pass "cleared: critical warning 0" || fail "warning stays after clearing"

say "write-error nsid=1 lba=4096 count=1"
ID=$(host_fault add write-error nsid=1 lba=4096 count=1) || die "host_fault: $ID"
head -c 4096 /dev/urandom > "$W/blk"
wbad=""
for b in 4095 4096 4097; do write_block "$b" "$W/blk" || { wbad="$wbad $b"; msg=$(cat "$W/dd.err"); }; done
echo "failed writes:$wbad ($msg)"
[ "$wbad" = " 4096" ] && pass "only the write to block 4096 fails" || fail "writes failed at:$wbad"
host_fault clear "$ID" > /dev/null

say "read-only"
ID=$(host_fault add read-only) || die "host_fault: $ID"
cw=$(smart critical_warning)
echo "critical_warning: $cw"
[ "$cw" = 8 ] && pass "smart-log critical warning bit 3 (read-only media)" || fail "critical_warning is $cw, not 8"
run nvme write "$DEV" -s 8 -c 0 -z 4096 -d "$W/blk" > "$W/ro" 2>&1
cat "$W/ro"
grep -qi "read only" "$W/ro" && pass "nvme write fails with Attempted Write to Read Only Range" ||
    fail "nvme write did not fail with the read-only status"
write_block 8 "$W/blk" && fail "dd write succeeded on read-only media" ||
    pass "dd write fails: $(cat "$W/dd.err")"
read_block 8 /dev/null && pass "reads are served" || fail "read failed: $(cat "$W/dd.err")"
host_fault clear "$ID" > /dev/null
write_block 8 "$W/blk" && [ "$(smart critical_warning)" = 0 ] && pass "cleared: writes work again" ||
    fail "writes still fail after clearing"

say "spare-low spare=4"
ID=$(host_fault add spare-low spare=4) || die "host_fault: $ID"
cw=$(smart critical_warning) spare=$(json_num "$W/smart.json" avail_spare)
thresh=$(json_num "$W/smart.json" spare_thresh)
echo "critical_warning $cw, avail_spare $spare%, spare_thresh $thresh%"
[ "$cw" = 1 ] && [ "$spare" = 4 ] && [ "$thresh" = 10 ] &&
    pass "smart-log: critical warning bit 0, spare 4% under its 10% threshold" || fail "spare-low not in smart-log"
write_block 9 "$W/blk" && pass "writes still work" || fail "write failed"
host_fault clear "$ID" > /dev/null

say "latency op=read probability=0.25 latency_us=50000"
randio randread 4 "$W/lat0"
set -- $(fio_clat "$W/lat0" read)
base_mean=$1 base_max=$2
ID=$(host_fault add latency op=read probability=0.25 latency_us=50000 seed=9) || die "host_fault: $ID"
randio randread 4 "$W/lat1"
set -- $(fio_clat "$W/lat1" read)
echo "fio randread QD1 clat: mean ${base_mean} us max ${base_max} us -> mean $1 us max $2 us"
[ "$2" -ge 50000 ] && [ "$1" -ge $((base_mean + 5000)) ] &&
    pass "fio's completion latencies show the 50 ms spikes" || fail "no spike in fio's latencies"
host_fault clear "$ID" > /dev/null

say "read-retry probability=0.5 latency_us=20000"
ID=$(host_fault add read-retry probability=0.5 latency_us=20000 seed=3) || die "host_fault: $ID"
rc=0
randio randread 4 "$W/retry" || rc=$?
set -- $(fio_clat "$W/retry" read)
errs=$(json_num "$W/retry" error)
echo "fio randread QD1 with retries: mean $1 us max $2 us (cool: ${base_mean} us), fio status $rc, errors ${errs:-?}"
[ "$rc" = 0 ] && [ "${errs:-1}" = 0 ] && [ "$2" -ge 20000 ] && [ "$1" -ge $((base_mean + 5000)) ] &&
    pass "reads that needed retries are late, not failed" || fail "read-retry: status $rc, errors $errs, mean $1 us"
host_fault clear "$ID" > /dev/null

say "gc-storm for_ms=6000 latency_us=30000"
ID=$(host_fault add gc-storm for_ms=6000 latency_us=30000) || die "host_fault: $ID"
randio randwrite 3 "$W/gc"
set -- $(fio_clat "$W/gc" write)
echo "fio randwrite QD1 clat during the storm: mean $1 us max $2 us"
[ "$1" -ge 30000 ] && pass "writes stall during the critical-GC window" || fail "writes did not stall"
host_fault clear "$ID" > /dev/null

say "thermal: heated by load, cooled when idle"
t0=$(smart temperature)
ID=$(host_fault add thermal heat=1500 tau_ms=3000 threshold_c=40 critical_c=60) || die "host_fault: $ID"
fio --name=heat --filename="$DEV" --ioengine=libaio --direct=1 --rw=write --bs=128k --iodepth=8 \
    --size=16M --time_based --runtime=6 > /dev/null 2>&1
t1=$(smart temperature) cw1=$(json_num "$W/smart.json" critical_warning)
# How hot 6 s of writes make it depends on how fast they went: wait for it to cool (tau 3 s:
# from 150 C to the 40 C threshold takes about 9 s), for 20 s at most.
idle=0
while :; do
    sleep 1
    idle=$((idle + 1))
    t2=$(smart temperature) cw2=$(json_num "$W/smart.json" critical_warning)
    [ "$cw2" = 0 ] || [ "$idle" -ge 20 ] && break
done
echo "temperature: idle $((t0 - 273)) C, after 6 s of writes $((t1 - 273)) C (warning $cw1), $idle s idle later $((t2 - 273)) C (warning $cw2)"
[ "$t1" -gt $((t0 + 5)) ] && [ "$cw1" = 2 ] && pass "load heats the drive past its threshold: critical warning bit 1" ||
    fail "load did not heat the drive past its threshold"
[ "$t2" -lt "$t1" ] && [ "$cw2" = 0 ] && pass "idle, it cools below the threshold" || fail "it did not cool"
host_fault clear "$ID" > /dev/null
ID=$(host_fault add thermal temp_c=80 factor=100) || die "host_fault: $ID"
randio randread 4 "$W/hot"
set -- $(fio_clat "$W/hot" read)
echo "fio randread QD1 clat at 80 C (factor 100): mean $1 us (cool: ${base_mean} us)"
[ "$1" -ge $((base_mean + 2000)) ] && pass "a hot drive slows reads" || fail "no slowdown at 80 C"
host_fault clear "$ID" > /dev/null

say "namespace 2: attached and detached at run time"
head=${NS%n*}n2
cntlid=$(cat "/sys/class/nvme/${CTRL#/dev/}/cntlid")
[ ! -e "/dev/$head" ] && pass "/dev/$head is not there at first" || fail "/dev/$head exists before ns-add"
host_fault add ns-add nsid=2 > /dev/null || die "ns-add"
i=0; while [ ! -b "/dev/$head" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
dmesg | grep -i "rescanning" | tail -n 1
[ -b "/dev/$head" ] && pass "/dev/$head appeared in $((i / 10)).$((i % 10)) s" || fail "/dev/$head did not appear"
dd if="/dev/$head" of=/dev/null bs=4096 count=16 iflag=direct status=none && pass "it reads" || fail "it does not read"
host_fault add ns-remove nsid=2 > /dev/null || die "ns-remove"
i=0; while [ -e "/dev/$head" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
[ ! -e "/dev/$head" ] && pass "/dev/$head disappeared in $((i / 10)).$((i % 10)) s" || fail "/dev/$head is still there"
[ "$(cat "/sys/class/nvme/${CTRL#/dev/}/cntlid")" = "$cntlid" ] && [ -b "$DEV" ] &&
    pass "without a reconnect (controller $cntlid all along)" || fail "the controller changed"

say "faults on the host"
host_fault list
echo "faults-media: $FAILS failure(s)"
if [ "$FAILS" -ne 0 ]; then dmesg | grep -i nvme | tail -n 30; fi
[ "$FAILS" -eq 0 ]
