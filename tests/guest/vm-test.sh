#!/usr/bin/env bash
# `nvemu vm --run` end to end, as the README tells a user: a config file with two
# subsystems (a RAM namespace and a 4-channel zoned drive) that also records the
# run; nvemu vm starts the daemon with it, boots the reference guest, which
# connects both before vm-check.sh runs, and returns the script's exit status;
# then `nvemu plot` draws the recording.
#
# Usage: vm-test.sh NVEMU STATUS [KERNEL]
#   STATUS  the exit status vm-check.sh is told to end with when its checks
#           pass; nvemu vm must return exactly that
#   KERNEL  nvemu vm --kernel (default 6.1); the guest checks it runs that kernel
# Env: NVEMU_TEST_DIR (logs and the shared folder; default a new directory under /tmp).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NVEMU=${1:?usage: vm-test.sh NVEMU STATUS}
STATUS=${2:?usage: vm-test.sh NVEMU STATUS}
KERNEL=${3:-6.1}
DIR=${NVEMU_TEST_DIR:-$(mktemp -d /tmp/nvemu-test.XXXXXX)}
SHARE=$DIR/vm-$STATUS-share
mkdir -p "$SHARE"
NQN_RAM=nqn.2026-11.dev.nvemu:vm-ram
NQN_ZNS=nqn.2026-11.dev.nvemu:vm-zns
TOKEN=token-$$-$RANDOM
echo "$TOKEN" > "$SHARE/token"
rm -f "$SHARE/from-guest"

say() { echo "vm-test: $STATUS: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

cat > "$DIR/vm-$STATUS.ini" <<EOF
[nvemu]
record = $DIR/vm-$STATUS.jsonl
record-interval = 200

[subsystem ram]
nqn = $NQN_RAM

[namespace scratch]
kind = ram
size = 64M

[subsystem zns]
nqn = $NQN_ZNS

[namespace zns]
kind = zoned
channels = 4
luns_per_channel = 2
blocks_per_plane = 64
zone_size = 8M
EOF

START=$SECONDS
rc=0
NVEMU_GUEST_LOG=$DIR/guest-vm-$STATUS.log NVEMU_GUEST_QUIET=1 \
    "$NVEMU" vm --kernel "$KERNEL" --share "$SHARE" -e "EXPECT_NQNS=$NQN_RAM $NQN_ZNS" \
    -e "SHARE_TOKEN=$TOKEN" -e "EXPECT_KERNEL=$KERNEL" \
    --run "$HERE/vm-check.sh" "$STATUS" \
    -- -c "$DIR/vm-$STATUS.ini" -v 2> "$DIR/vm-$STATUS.err" || rc=$?
cat "$DIR/vm-$STATUS.err" >&2
grep -E "^(PASS|FAIL):" "$DIR/guest-vm-$STATUS.log" | tr -d '\r' >&2 || true
say "nvemu vm returned $rc after $((SECONDS - START)) s"

[ "$rc" = "$STATUS" ] || fail "nvemu vm returned $rc, expected $STATUS (guest log: $DIR/guest-vm-$STATUS.log)"
[ "$(cat "$SHARE/from-guest" 2>/dev/null)" = "$TOKEN" ] || fail "the guest's file is not in the shared folder"
DAEMON_LOG=$(sed -n 's/^nvemu vm: started nvemu .*(log: \(.*\)):.*/\1/p' "$DIR/vm-$STATUS.err")
[ -n "$DAEMON_LOG" ] || fail "nvemu vm did not start a daemon"
! grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$DAEMON_LOG" ||
    fail "sanitizer report in the daemon log $DAEMON_LOG"
grep -q "stopping" "$DAEMON_LOG" || fail "the daemon was not stopped with a signal ($DAEMON_LOG)"
"$NVEMU" plot "$DIR/vm-$STATUS.jsonl" --out "$DIR/vm-$STATUS-plots" >&2 || fail "nvemu plot failed"
for png in "$DIR/vm-$STATUS-plots"/*.png; do
    [ "$(head -c 8 "$png" | od -A n -t x1 | tr -d ' ')" = 89504e470d0a1a0a ] || fail "$png is not a PNG"
done
say "recorded and plotted: $(ls "$DIR/vm-$STATUS-plots" | tr '\n' ' ')"
say "PASS"
