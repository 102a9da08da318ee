#!/bin/sh
# Flexible Data Placement seen from a real host with nvme-cli 2.3's fdp plugin: the
# configuration, handle usage and status, writes placed with `nvme write --dir-type=2
# --dir-spec=PID` and `nvme io-passthru` landing on their handles (RUH status, nvemu's
# per-handle vendor log), `nvme fdp update` starting new reclaim units, statistics, events
# (reclaim unit not fully written, invalid placement identifier, set-events), a trim that
# unmaps its range and nothing else, and every byte written read back. Each check prints PASS/FAIL; the exit status is non-zero on any FAIL.
# Env (besides TARGET_ADDR, TARGET_PORT, SUBNQN, see lib.sh): EXPECT_NRUH (handles) and
# EXPECT_RU_BYTES (reclaim unit size) the daemon was started with.
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
: "${EXPECT_NRUH:=8}" "${EXPECT_RU_BYTES:=1048576}"
W=/tmp/fdp
mkdir -p "$W"

connect_subsys || die "connect to $SUBNQN at $TARGET_ADDR:$TARGET_PORT"
trap '[ -n "${DEV:-}" ] && nvme disconnect -n "$SUBNQN" >/dev/null 2>&1' EXIT
LBA=$(cat "/sys/block/$NS/queue/logical_block_size")
RU_BLOCKS=$((EXPECT_RU_BYTES / LBA))
EG=$NSID # nvemu: every namespace is its own endurance group

expect() {  # expect WHAT GOT WANTED
    if [ "$2" = "$3" ]; then pass "$1 = $2"; else fail "$1 = '$2', expected '$3'"; fi
}

say "controller attributes"
ctratt=$(nvme id-ctrl "$CTRL" | sed -n 's/^ctratt *: *//p')
echo "ctratt: $ctratt"
[ $((ctratt & 0x80000)) -ne 0 ] && pass "CTRATT FDPS (bit 19)" || fail "CTRATT $ctratt lacks FDPS"
[ $((ctratt & 0x10)) -ne 0 ] && pass "CTRATT endurance groups" || fail "CTRATT $ctratt lacks EGS"
run nvme get-feature "$CTRL" -f 0x1d -c "$EG" -H > "$W/feat" 2>&1; cat "$W/feat"
grep -q "(FDPE) *: Yes" "$W/feat" && pass "Get Features FDP: enabled" ||
    fail "Get Features FDP: $(cat "$W/feat")"
run nvme get-feature "$CTRL" -f 0x1e -n "$NSID" -c $((6 << 16)) -l 12 -H > "$W/feat" 2>&1
cat "$W/feat"
expect "Get Features FDP Events: event types enabled" "$(grep -c ': Enabled' "$W/feat")" 6
if nvme set-feature "$CTRL" -f 0x1d -v "$EG" -c 0 > "$W/out" 2>&1; then
    fail "disabling FDP with a namespace in the group succeeded"
else
    grep -qi "SEQ" "$W/out" && pass "disabling FDP refused: $(tr '\n' ' ' < "$W/out")" ||
        fail "disabling FDP: $(tr '\n' ' ' < "$W/out")"
fi

say "nvme fdp configs / usage"
run nvme fdp configs "$CTRL" -e "$EG" -H | tee "$W/configs"
expect "configs: reclaim unit handles" "$(field "$W/configs" "Number of Reclaim Unit Handles")" "$EXPECT_NRUH"
expect "configs: reclaim groups" "$(field "$W/configs" "Number of Reclaim Groups")" 1
expect "configs: reclaim unit nominal size" "$(field "$W/configs" "Reclaim Unit Nominal Size")" "$EXPECT_RU_BYTES"
[ "$(grep -c "Persistently Isolated" "$W/configs")" -eq "$EXPECT_NRUH" ] &&
    pass "configs: $EXPECT_NRUH persistently isolated handles" || fail "configs: handle types"
run nvme fdp usage "$CTRL" -e "$EG" | tee "$W/usage"
[ "$(grep -c "(Host Specified)" "$W/usage")" -eq "$EXPECT_NRUH" ] &&
    pass "usage: every handle host specified" || fail "usage: $(cat "$W/usage")"

# ruamw PID: Reclaim Unit Available Media Writes of placement identifier PID, from nvme fdp status.
ruamw() {
    nvme fdp status "$DEV" > "$W/status" 2>&1 || { cat "$W/status" >&2; return 1; }
    sed -n "/^Placement Identifier $1;/,/RUAMW/s/.*(RUAMW): *//p" "$W/status"
}

say "nvme fdp status before any write"
run nvme fdp status "$DEV" | tee "$W/status0"
expect "status: descriptors" "$(grep -c '^Placement Identifier' "$W/status0")" "$EXPECT_NRUH"
expect "status: PID 1 RUAMW, a whole reclaim unit" "$(ruamw 1)" "$RU_BLOCKS"

say "placed writes: nvme write --dir-type=2 on PIDs 0 and 1, io-passthru on PID 2"
BLOCKS=16 # 64 KiB with 4 KiB blocks
head -c $((BLOCKS * LBA)) /dev/urandom > "$W/d0"
head -c $((BLOCKS * LBA)) /dev/urandom > "$W/d1"
head -c $((BLOCKS * LBA)) /dev/urandom > "$W/d2"
run nvme write "$DEV" -s 0 -c $((BLOCKS - 1)) -z $((BLOCKS * LBA)) -d "$W/d0" --dir-type=2 --dir-spec=0 ||
    fail "nvme write PID 0"
run nvme write "$DEV" -s 1000 -c $((BLOCKS - 1)) -z $((BLOCKS * LBA)) -d "$W/d1" --dir-type=2 --dir-spec=1 ||
    fail "nvme write PID 1"
# Write (01h) by hand: SLBA 2000, NLB 0's based in CDW12 with DTYPE 2 in bits 23:20, DSPEC
# (the PID) in CDW13 bits 31:16.
run nvme io-passthru "$DEV" -o 1 -n "$NSID" -w -l $((BLOCKS * LBA)) -i "$W/d2" \
    --cdw10=2000 --cdw11=0 --cdw12=$(((BLOCKS - 1) | 2 << 20)) --cdw13=$((2 << 16)) ||
    fail "io-passthru write PID 2"
expect "status: PID 0 RUAMW" "$(ruamw 0)" $((RU_BLOCKS - BLOCKS))
expect "status: PID 1 RUAMW" "$(ruamw 1)" $((RU_BLOCKS - BLOCKS))
expect "status: PID 2 RUAMW" "$(ruamw 2)" $((RU_BLOCKS - BLOCKS))
expect "status: PID 3 RUAMW (untouched)" "$(ruamw 3)" "$RU_BLOCKS"
cp "$W/status" "$W/status-written"

say "per-handle counters: nvemu's vendor log CAh with its handle records"
nvme get-log "$CTRL" --log-id=0xca --log-len=$((512 + 64 * EXPECT_NRUH)) --namespace-id="$NSID" \
    --raw-binary > "$W/vendor.bin" || fail "nvme get-log 0xca"
expect "vendor log version" "$(le64 "$W/vendor.bin" 0)" 3
expect "vendor log handle records" "$(le64 "$W/vendor.bin" 8)" "$EXPECT_NRUH"
PAGES=$((BLOCKS * LBA / 4096))
for h in 0 1 2 3; do
    host=$(le64 "$W/vendor.bin" $((64 + 8 * h + 1)))
    want=$PAGES; [ "$h" -eq 3 ] && want=0
    echo "handle $h: host pages $host, nand pages $(le64 "$W/vendor.bin" $((64 + 8 * h + 2))), waf_milli $(le64 "$W/vendor.bin" $((64 + 8 * h + 7)))"
    expect "handle $h host pages" "$host" "$want"
done

say "nvme fdp update: PID 1 starts a new reclaim unit"
run nvme fdp update "$DEV" -n "$NSID" -p 1 | tee "$W/update"
grep -q "update: Success" "$W/update" && pass "fdp update" || fail "fdp update"
expect "status: PID 1 RUAMW after update" "$(ruamw 1)" "$RU_BLOCKS"
expect "status: PID 0 RUAMW (not updated)" "$(ruamw 0)" $((RU_BLOCKS - BLOCKS))
nvme fdp update "$DEV" -n "$NSID" -p 999 > "$W/out" 2>&1 && fail "update of PID 999 succeeded" ||
    pass "update of an invalid PID refused: $(tr '\n' ' ' < "$W/out")"

say "an invalid placement identifier, and nvme fdp events"
run nvme write "$DEV" -s 3000 -c 0 -z "$LBA" -d "$W/d0" --dir-type=2 --dir-spec=100 ||
    fail "write with an invalid PID (the drive takes it on handle 0)"
run nvme fdp events "$CTRL" -e "$EG" -E | tee "$W/events"
grep -q "Reclaim Unit Not Fully Written" "$W/events" && pass "event: reclaim unit not fully written" ||
    fail "no 'not fully written' event"
grep -A4 "Reclaim Unit Not Fully Written" "$W/events" | grep -q "(PID): 0x1" &&
    pass "event: for PID 1" || fail "'not fully written' event without PID 1"
grep -q "Invalid Placement Identifier" "$W/events" && pass "event: invalid placement identifier" ||
    fail "no invalid PID event"
grep -A4 "Invalid Placement Identifier" "$W/events" | grep -q "(PID): 0x64" &&
    pass "event: for PID 0x64" || fail "invalid PID event without PID 0x64"
n_before=$(grep -c "Invalid Placement Identifier" "$W/events")
run nvme fdp set-events "$DEV" -n "$NSID" -p 0 -t 3 || fail "set-events (disable)"
nvme write "$DEV" -s 3001 -c 0 -z "$LBA" -d "$W/d0" --dir-type=2 --dir-spec=100 >/dev/null
nvme fdp events "$CTRL" -e "$EG" -E > "$W/events2"
expect "invalid PID events while disabled" "$(grep -c "Invalid Placement Identifier" "$W/events2")" "$n_before"
run nvme fdp set-events "$DEV" -n "$NSID" -p 0 -t 3 -e || fail "set-events (enable)"
nvme write "$DEV" -s 3002 -c 0 -z "$LBA" -d "$W/d0" --dir-type=2 --dir-spec=100 >/dev/null
nvme fdp events "$CTRL" -e "$EG" -E > "$W/events3"
expect "invalid PID events once enabled again" "$(grep -c "Invalid Placement Identifier" "$W/events3")" $((n_before + 1))

say "nvme fdp stats"
run nvme fdp stats "$CTRL" -e "$EG" | tee "$W/stats"
hbmw=$(sed -n 's/.*(HBMW): *//p' "$W/stats")
mbmw=$(sed -n 's/.*(MBMW): *//p' "$W/stats")
expect "stats: host bytes written" "$hbmw" $((3 * BLOCKS * LBA + 3 * LBA))
[ "${mbmw:-0}" -ge "${hbmw:-1}" ] && pass "stats: media bytes ($mbmw) >= host bytes" ||
    fail "stats: media bytes $mbmw < host bytes $hbmw"

say "trim: nvme dsm deallocates PID 1's range and nothing else"
run nvme dsm "$DEV" -n "$NSID" --ad -s 1000 -b "$BLOCKS" || fail "nvme dsm deallocate"
nvme get-log "$CTRL" --log-id=0xca --log-len=$((512 + 64 * EXPECT_NRUH)) --namespace-id="$NSID" \
    --raw-binary > "$W/vendor2.bin" || fail "nvme get-log 0xca"
# Valid pages (record word 6): PID 0 also took the three invalid-PID writes.
expect "handle 0 valid pages after the trim" "$(le64 "$W/vendor2.bin" $((64 + 8 * 0 + 6)))" $((PAGES + 3))
expect "handle 1 valid pages after the trim" "$(le64 "$W/vendor2.bin" $((64 + 8 * 1 + 6)))" 0
expect "handle 2 valid pages after the trim" "$(le64 "$W/vendor2.bin" $((64 + 8 * 2 + 6)))" "$PAGES"
nvme read "$DEV" -s 1000 -c $((BLOCKS - 1)) -z $((BLOCKS * LBA)) -d "$W/r1trim" >/dev/null 2>&1 ||
    fail "nvme read of the trimmed range"
head -c $((BLOCKS * LBA)) /dev/zero > "$W/zeros"
cmp -s "$W/zeros" "$W/r1trim" && pass "the trimmed range reads zeroes" || fail "the trimmed range is not zeroes"
# PID 1's data again, for the read-back below.
run nvme write "$DEV" -s 1000 -c $((BLOCKS - 1)) -z $((BLOCKS * LBA)) -d "$W/d1" --dir-type=2 --dir-spec=1 ||
    fail "nvme write PID 1 again"

say "what was written with placement reads back"
for i in 0 1 2; do
    slba=$((i * 1000))
    nvme read "$DEV" -s "$slba" -c $((BLOCKS - 1)) -z $((BLOCKS * LBA)) -d "$W/r$i" >/dev/null 2>&1 ||
        fail "nvme read at $slba"
    cmp -s "$W/d$i" "$W/r$i" && pass "PID $i data read back (nvme read)" || fail "PID $i data differs"
done
dd if="$DEV" of="$W/r2dd" bs="$LBA" skip=2000 count="$BLOCKS" iflag=direct 2>/dev/null
cmp -s "$W/d2" "$W/r2dd" && pass "io-passthru data read back through the block layer" ||
    fail "io-passthru data differs through the block layer"

disconnect_subsys && pass "disconnect" || fail "disconnect"
trap - EXIT
[ "$FAILS" -eq 0 ]
