#!/bin/sh
# In-band authentication (DH-HMAC-CHAP) as a Linux host does it (needs a kernel with
# CONFIG_NVME_HOST_AUTH, the 6.12 guest): nvme connect with the right host secret runs fio
# with verify; a wrong host secret, a wrong controller secret and no secret are each refused;
# with both right secrets (bidirectional) fio runs with verify again.
# Env (besides TARGET_ADDR, TARGET_PORT, SUBNQN of lib.sh):
#   AUTH_HOSTNQN     the host NQN the target holds the secrets of
#   KEY, CTRL_KEY    the right host and controller secrets (DHHC-1:...)
#   WRONG_KEY, WRONG_CTRL_KEY   secrets the target does not hold
#   FIO_SIZE_MB      verified per connection (default 64)
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
: "${FIO_SIZE_MB:=64}"
for v in AUTH_HOSTNQN KEY CTRL_KEY WRONG_KEY WRONG_CTRL_KEY SUBNQN; do
    eval "[ -n \"\${$v:-}\" ]" || die "$v is not set"
done
echo "kernel $(uname -r)"
# The key options are added per attempt; the host NQN is the one the target knows.
BASE_OPTS="--hostnqn=$AUTH_HOSTNQN"

# attempt NAME SECRET [CTRL_SECRET]: nvme connect, quietly; 0 if it connected.
attempt() {
    name=$1 secret=$2 ctrl=${3:-}
    dmesg -c > /dev/null
    echo "== $name"
    # shellcheck disable=SC2086
    if [ -n "$secret" ]; then
        out=$(nvme connect -t tcp -a "$TARGET_ADDR" -s "$TARGET_PORT" -n "$SUBNQN" $BASE_OPTS \
            "--dhchap-secret=$secret" ${ctrl:+"--dhchap-ctrl-secret=$ctrl"} 2>&1)
    else
        out=$(nvme connect -t tcp -a "$TARGET_ADDR" -s "$TARGET_PORT" -n "$SUBNQN" $BASE_OPTS 2>&1)
    fi
    st=$?
    echo "nvme connect: status $st: $out"
    dmesg | grep -E 'nvme|auth' | sed 's/^/  dmesg: /'
    return $st
}

# verified_io: fio random writes with a crc32c verify on the connected namespace.
verified_io() {
    i=0
    while [ $i -lt 100 ] && ! DEV_SD=$(find_subsys "$SUBNQN"); do sleep 0.1; i=$((i + 1)); done
    NS=$(ls "$DEV_SD" 2>/dev/null | grep -E '^nvme[0-9]+n[0-9]+$' | head -n 1)
    i=0
    while [ $i -lt 100 ] && [ ! -b "/dev/$NS" ]; do sleep 0.1; i=$((i + 1)); done
    [ -b "/dev/$NS" ] || { echo "no namespace appeared"; return 1; }
    run fio --name=auth-verify --filename="/dev/$NS" --ioengine=libaio --direct=1 \
        --rw=randwrite --bsrange=4k-64k --iodepth=16 --size="${FIO_SIZE_MB}M" \
        --verify=crc32c --verify_fatal=1 > /tmp/fio.out 2>&1
    st=$?
    grep -E 'err=|WRITE:|READ:' /tmp/fio.out
    return $st
}

disconnect() { nvme disconnect -n "$SUBNQN" > /dev/null 2>&1; }

if attempt "host secret only (unidirectional)" "$KEY"; then
    pass "connected with the host secret"
    if verified_io; then pass "fio randwrite + crc32c verify, host authenticated"
    else fail "fio verify with the host authenticated"; fi
    disconnect
else
    fail "connect with the right host secret"
fi

if attempt "wrong host secret" "$WRONG_KEY"; then
    fail "connected with a wrong host secret"
    disconnect
else
    pass "a wrong host secret is refused"
fi

if attempt "right host secret, wrong controller secret" "$KEY" "$WRONG_CTRL_KEY"; then
    fail "connected although the controller does not know the controller secret"
    disconnect
else
    pass "a controller without the host's controller secret is refused"
fi

if attempt "no secret" ""; then
    fail "connected without a secret"
    disconnect
else
    pass "a host without a secret is refused"
fi

if attempt "both secrets (bidirectional)" "$KEY" "$CTRL_KEY"; then
    pass "connected with bidirectional authentication"
    if verified_io; then pass "fio randwrite + crc32c verify, both authenticated"
    else fail "fio verify with both authenticated"; fi
    disconnect
else
    fail "connect with both right secrets"
fi

echo "auth: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
