#!/bin/sh
# The demo's tour of an emulated SSD (output on the terminal): connect to a
# subsystem with an ssd namespace (nsid 1, a small flash-modelled drive) and a
# zoned namespace (nsid 2); list and identify them; write the SSD past its
# over-provisioning so garbage collection runs and read its WAF from the vendor
# log; SMART counters; zones reported, appended to, finished and reset;
# disconnect.  Exits non-zero if a step fails.
# Env: as in lib.sh; TOUR_RANDOM_SECONDS (default 8): random overwrites after the fill.
. "${NVEMU_SCRIPTS:-$(dirname "$0")}/lib.sh"
: "${TOUR_RANDOM_SECONDS:=8}"

echo
echo ">>> Connecting to $SUBNQN at $TARGET_ADDR:$TARGET_PORT over NVMe/TCP"
connect_subsys || die "could not connect"
SSD=$DEV
ZNS=${DEV%n*}n2
# The kernel scans namespaces after the connect returns, the zoned one last (it reads every
# zone before its device appears): wait for it.
i=0
while [ ! -b "$ZNS" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -b "$ZNS" ] || die "no second namespace ($ZNS)"
ZNS_NAME=${ZNS#/dev/}

echo
echo ">>> nvme list: an emulated SSD (nsid 1) and a zoned namespace (nsid 2) of one subsystem"
nvme list

echo
echo ">>> nvme id-ctrl $CTRL (abridged)"
nvme id-ctrl "$CTRL" | grep -E '^(vid|sn|mn|fr|mdts|cntlid|ver|ctratt|oncs|vwc|maxcmd|nn|subnqn) '

BYTES=$(($(cat "/sys/block/${SSD#/dev/}/size") * 512))
echo
echo ">>> The SSD holds $((BYTES >> 20)) MiB behind a flash model (NAND timing, write buffer,"
echo "    page-mapping FTL with garbage collection). fio fills it once, sequentially,"
echo "    then overwrites it at random for ${TOUR_RANDOM_SECONDS} s: with the spare area used up,"
echo "    garbage collection must move valid pages, so NAND pages written > host pages written."
echo "    (The guest is software-emulated: this shows function, not performance.)"
fio --name=fill --filename="$SSD" --ioengine=libaio --direct=1 --rw=write --bs=128k \
    --iodepth=8 --size="$BYTES" --eta=never | grep -E '^ *write:|err=' || die "fio fill"
fio --name=overwrite --filename="$SSD" --ioengine=libaio --direct=1 --rw=randwrite --bs=16k \
    --iodepth=16 --size="$BYTES" --norandommap --randrepeat=0 --time_based \
    --runtime="$TOUR_RANDOM_SECONDS" --eta=never | grep -E '^ *write:|err=' || die "fio overwrite"

echo
echo ">>> nvemu's vendor log page CAh: what the flash did (nvme get-log $CTRL --log-id=0xca)"
vendor_log "$CTRL" 1 || die "nvme get-log 0xca"
echo "    host pages written  $VL_HOST"
echo "    NAND pages written  $VL_NAND   (host + garbage collection)"
echo "    GC runs             $VL_GC   (blocks collected)"
echo "    erases per block    min $VL_EMIN, max $VL_EMAX"
echo "    WAF                 $((VL_WAF_MILLI / 1000)).$(printf %03d $((VL_WAF_MILLI % 1000)))"
[ "$VL_NAND" -gt "$VL_HOST" ] && [ "$VL_GC" -gt 0 ] || die "garbage collection did not run"

echo
echo ">>> nvme smart-log $CTRL (I/O counters)"
nvme smart-log "$CTRL" | grep -E -i '^(critical_warning|temperature|data units|host_(read|write)_commands)'

ZSZE=$(($(cat "/sys/block/$ZNS_NAME/queue/chunk_sectors") * 512 / $(cat "/sys/block/$ZNS_NAME/queue/logical_block_size")))
LBA=$(cat "/sys/block/$ZNS_NAME/queue/logical_block_size")
echo
echo ">>> The zoned namespace: $(cat "/sys/block/$ZNS_NAME/queue/nr_zones") zones of $ZSZE blocks, host-managed"
echo ">>> nvme zns report-zones $ZNS -d 3"
nvme zns report-zones "$ZNS" -d 3 || die "report-zones"
# Zone 1's report line, with its state named (nvme-cli prints the state field as ZS << 4).
zone1() {
    nvme zns report-zones "$ZNS" -s "$ZSZE" -d 1 | sed -n 's/^SLBA:/    zone 1: SLBA:/p' |
        sed 's/State: 0x10/& (empty)/; s/State: 0x20/& (implicitly open)/;
             s/State: 0x30/& (explicitly open)/; s/State: 0x40/& (closed)/; s/State: 0xe0/& (full)/'
}
head -c $((4 * LBA)) /dev/urandom > /tmp/tour-data
echo
echo ">>> nvme zns zone-append: 4 blocks into zone 1; the drive says where they landed"
nvme zns zone-append "$ZNS" -s "$ZSZE" -z $((4 * LBA)) -d /tmp/tour-data || die "zone-append"
zone1
echo ">>> nvme zns finish-zone: zone 1 becomes full"
nvme zns finish-zone "$ZNS" -s "$ZSZE" > /dev/null || die "finish-zone"
zone1
echo ">>> nvme zns reset-zone: zone 1 is empty again (its blocks erased)"
nvme zns reset-zone "$ZNS" -s "$ZSZE" > /dev/null || die "reset-zone"
zone1

echo
echo ">>> Disconnecting"
disconnect_subsys || die "disconnect failed"
echo
echo "Tour done. Next: watch a drive live with 'nvemu stats', replay hours of I/O in seconds"
echo "with 'nvemu sim', get a shell in this guest with 'nvemu vm', and read docs/ (model.md, zns.md)."
