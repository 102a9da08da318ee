#!/usr/bin/env bash
# Build the nvemu reference guest: a Debian 12 kernel (ELF vmlinux, booted
# through PVH) and an initrd with busybox, nvme-cli, fio and a few kernel
# modules, all from Debian packages.  Output goes to a cache directory and is
# rebuilt only when an input changes (package versions or this script).
# /init (init.sh) is not in it: run-guest.sh adds it to every boot, so that
# checkouts with different init.sh versions share one cache.
#
# Usage: build-guest.sh            (prints the cache directory on stdout)
# Env:   NVEMU_GUEST_CACHE  output dir (default ${NVEMU_CACHE:-~/.cache/nvemu}/guest)
#        NVEMU_GUEST_FORCE=1  rebuild even if the stamp matches
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${NVEMU_GUEST_CACHE:-${NVEMU_CACHE:-$HOME/.cache/nvemu}/guest}
ARCH_LIBDIR=usr/lib/x86_64-linux-gnu

# Guest packages unpacked with dpkg-deb (the kernel package is added below).
GUEST_PKGS=(nvme-cli libnvme1 libjson-c5 fio)
# Host packages: tools for building and running, and libraries copied into
# the guest through the ldd closure of the binaries.
HOST_PKGS=(qemu-system-x86 busybox-static cpio xz-utils gcc libc6-dev binutils
           util-linux libaio1 libnuma1 zlib1g libgcc-s1)
# fio is linked with BIND_NOW against these; the guest gets stand-ins whose
# functions abort (we only use fio's libaio/io_uring/sync engines).
STUB_LIBS=(librados.so.2 librbd.so.1 libgfapi.so.0 libnbd.so.0 libpmemblk.so.1
           libpmem.so.1 libibverbs.so.1 librdmacm.so.1)
# Kernel modules to ship (their dependencies are added automatically).
MODULES=(configfs crc32c_generic crc32c-intel crct10dif_generic crct10dif-pclmul
         crc64_rocksoft_generic virtio_pci virtio_net nvme-tcp nvmet nvmet-tcp
         null_blk zonefs loop 9p 9pnet_virtio)
# Host binaries copied as they are.
HOST_BINS=(/usr/sbin/blkzone /usr/sbin/blkdiscard)

log() { echo "build-guest: $*" >&2; }
die() { echo "build-guest: error: $*" >&2; exit 1; }

APT_UPDATED=0
apt_update_once() {
    [ "$APT_UPDATED" = 1 ] && return 0
    log "running apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
}

ensure_host_pkgs() {
    local installed missing=() p
    installed=$(dpkg-query -W -f='${Package} ${Status}\n' | awk '$NF == "installed" {print $1}')
    for p in "${HOST_PKGS[@]}"; do
        grep -qx "$p" <<<"$installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing host packages: ${missing[*]}"
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends)
    "${apt[@]}" "${missing[@]}" >&2 || { apt_update_once; "${apt[@]}" "${missing[@]}" >&2; } ||
        die "cannot install host packages: ${missing[*]}"
}

resolve_kernel_pkg() {
    local k
    k=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$k" ]; then
        apt_update_once
        k=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    fi
    [ -n "$k" ] || die "cannot resolve the kernel package behind linux-image-amd64"
    echo "$k"
}

declare -A VER  # candidate version of each guest package
load_versions() {
    local p v
    while read -r p v; do VER[$p]=$v; done < <(apt-cache policy "$KPKG" "${GUEST_PKGS[@]}" 2>/dev/null |
        awk '/^[^ ]/ {p = $1; sub(":$", "", p)} /Candidate:/ && $2 != "(none)" {print p, $2}')
}

# Text naming every input: guest and host package versions and hashes of the
# scripts that shape the output.  The build is redone when it changes.
compute_inputs() {
    local p
    for p in "$KPKG" "${GUEST_PKGS[@]}"; do
        [ -n "${VER[$p]:-}" ] || die "package $p not found in apt lists"
        echo "guest $p=${VER[$p]}"
    done
    dpkg-query -W -f='host ${Package}=${Version}\n' "${HOST_PKGS[@]}"
    (cd "$HERE" && sha256sum build-guest.sh)
}

download_debs() {  # download_debs DIR PKG...; prints the .deb paths
    local dir=$1 p v f; shift
    mkdir -p "$dir"
    for p in "$@"; do
        v=${VER[$p]}
        f=$(ls "$dir/${p}_${v//:/%3a}_"*.deb 2>/dev/null | head -1 || true)
        if [ -z "$f" ]; then
            (cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$p=$v" >&2) ||
                die "apt-get download $p=$v failed"
            f=$(ls "$dir/${p}_${v//:/%3a}_"*.deb | head -1)
        fi
        echo "$f"
    done
}

# Cut the XZ stream out of the bzImage and decompress it to the ELF vmlinux.
extract_vmlinux() {
    local bz=$1 out=$2 off
    off=$(LC_ALL=C grep -obUaP -m1 '\xfd7zXZ\x00' "$bz" | cut -d: -f1) || die "no XZ stream in $bz"
    off=${off%%$'\n'*}
    # xz stops after the stream: tail may die of SIGPIPE, which is fine.
    { tail -c +"$((off + 1))" "$bz" || true; } | xz -dc --single-stream > "$out"
    [ "$(head -c 4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ] || die "$out is not an ELF file"
}

# Build stand-in libraries for STUB_LIBS from the undefined symbols of BIN.
# Versioned symbols go to the library that owns their version (verneed);
# unversioned ones go by prefix: librados.so.2 gets rados_*, librbd.so.1 rbd_*.
make_stubs() {
    local bin=$1 out=$2 so base syms vers
    mkdir -p "$out"
    vers=$(readelf -V -W "$bin" | awk '/File:/ {for (i = 1; i < NF; i++) if ($i == "File:") f = $(i + 1)}
        /Name:/ && f {for (i = 1; i < NF; i++) if ($i == "Name:") print $(i + 1), f}')
    syms=$(readelf --dyn-syms -W "$bin" | awk '$7 == "UND" && $8 != "" {print $4, $8}')
    for so in "${STUB_LIBS[@]}"; do
        base=${so%%.so*}; base=${base#lib}
        awk -v so="$so" -v pfx="${base}_" -v vers="$vers" '
            BEGIN { n = split(vers, v, "\n"); for (i = 1; i <= n; i++) { split(v[i], a, " "); owner[a[1]] = a[2] } }
            { name = $2; ver = ""; at = index(name, "@")
              if (at) { ver = substr(name, at + 1); name = substr(name, 1, at - 1) }
              if ((ver != "" && owner[ver] == so) || (ver == "" && index(name, pfx) == 1)) print $1, name, ver }
        ' <<<"$syms" > "$out/$so.syms"
        [ -s "$out/$so.syms" ] || die "no symbols of $so found in $bin"
        awk '$1 != "FUNC" {exit 1}' "$out/$so.syms" || die "$so: non-function symbol needed by $bin"
        {
            echo '#include <stdio.h>'
            echo '#include <stdlib.h>'
            echo "static void stub(const char *f) { fprintf(stderr, \"nvemu guest: %s: stub $so\\n\", f); abort(); }"
            awk '{printf "void %s(void) { stub(\"%s\"); }\n", $2, $2}' "$out/$so.syms"
        } > "$out/$so.c"
        awk '$3 != "" {s[$3] = s[$3] " " $2 ";"} END {for (v in s) printf "%s {global:%s};\n", v, s[v]}' \
            "$out/$so.syms" > "$out/$so.map"
        local mapopt=()
        [ -s "$out/$so.map" ] && mapopt=(-Wl,--version-script="$out/$so.map")
        gcc -shared -fPIC -O1 -o "$out/$so" -Wl,-soname,"$so" "${mapopt[@]}" "$out/$so.c" ||
            die "cannot build stub $so"
    done
    # With BIND_NOW every symbol must resolve: prove it on the host.
    LD_BIND_NOW=1 LD_LIBRARY_PATH="$out" "$bin" --version >/dev/null ||
        die "$bin does not run with the stub libraries"
}

# Copy ELF files into ROOT with their ldd closure.  Libraries found in the
# unpacked packages or the stubs go to /usr/lib/x86_64-linux-gnu, host ones
# keep their host path.
copy_closure() {
    local root=$1 libpath=$2 f lib dest; shift 2
    for f in "$@"; do
        LD_LIBRARY_PATH="$libpath" ldd "$f" > "$WORK/ldd.out" || die "ldd $f failed"
        if grep -q 'not found' "$WORK/ldd.out"; then
            die "$f: missing libraries: $(grep 'not found' "$WORK/ldd.out" | tr -s ' \t\n' ' ')"
        fi
        for lib in $(awk '$2 == "=>" {print $3} $1 ~ /^\// {print $1}' "$WORK/ldd.out"); do
            case $lib in
                "$WORK"/*) dest=/$ARCH_LIBDIR/$(basename "$lib") ;;
                *) dest=$lib ;;
            esac
            [ -e "$root$dest" ] && continue
            mkdir -p "$root$(dirname "$dest")"
            cp -L "$lib" "$root$dest"
        done
    done
}

build() {
    local debs deb kver r
    debs=$(download_debs "$CACHE/debs" "$KPKG" "${GUEST_PKGS[@]}")
    log "unpacking $(wc -l <<<"$debs") packages"
    for deb in $debs; do dpkg-deb -x "$deb" "$WORK/pkgs"; done
    kver=$(ls "$WORK/pkgs/lib/modules")
    [ "$(wc -w <<<"$kver")" = 1 ] || die "expected one kernel version, got: $kver"

    log "extracting vmlinux from vmlinuz-$kver"
    extract_vmlinux "$WORK/pkgs/boot/vmlinuz-$kver" "$WORK/vmlinux"

    log "building stub libraries for fio"
    make_stubs "$WORK/pkgs/usr/bin/fio" "$WORK/stubs"

    r=$WORK/root
    mkdir -p "$r"/{usr/bin,usr/sbin,$ARCH_LIBDIR,usr/lib64,dev,proc,sys,tmp,run,mnt,etc/nvme,nvemu}
    ln -s usr/bin "$r/bin"; ln -s usr/sbin "$r/sbin"; ln -s usr/lib "$r/lib"; ln -s usr/lib64 "$r/lib64"
    chmod 1777 "$r/tmp"

    cp "$WORK/pkgs/usr/sbin/nvme" "$r/usr/sbin/"
    cp "$WORK/pkgs/usr/bin/fio" "$r/usr/bin/"
    cp "${HOST_BINS[@]}" "$r/usr/sbin/"
    copy_closure "$r" "$WORK/stubs:$WORK/pkgs/$ARCH_LIBDIR" \
        "$r/usr/sbin/nvme" "$r/usr/bin/fio" "${HOST_BINS[@]}"
    # glibc loads libgcc_s at run time for thread cancellation.
    cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$r/$ARCH_LIBDIR/"

    cp /bin/busybox "$r/usr/bin/busybox"
    local applet name
    for applet in $(/bin/busybox --list-full); do
        name=${applet##*/}
        [ -e "$r/usr/bin/$name" ] || [ -e "$r/usr/sbin/$name" ] && continue
        ln -s /usr/bin/busybox "$r/usr/${applet#usr/}"
    done

    log "selecting kernel modules"
    local kmod=lib/modules/$kver m deps rel
    busybox depmod -b "$WORK/pkgs" "$kver"
    mkdir -p "$r/usr/$kmod"
    cp "$WORK/pkgs/$kmod"/modules.{builtin,builtin.modinfo,order} "$r/usr/$kmod/"
    for m in "${MODULES[@]}"; do
        # modules.dep line "path/m.ko: deps...", matched with - and _ alike
        deps=$(awk -v m="${m//-/_}" '{b = $1; sub(".*/", "", b); sub("\\.ko.*", "", b); gsub("-", "_", b)}
                b == m {print; exit}' "$WORK/pkgs/$kmod/modules.dep")
        [ -n "$deps" ] || die "module not found in $kver: $m"
        for rel in $deps; do
            rel=${rel%:}
            mkdir -p "$r/usr/$kmod/$(dirname "$rel")"
            cp "$WORK/pkgs/$kmod/$rel" "$r/usr/$kmod/$rel"
        done
    done
    busybox depmod -b "$r" "$kver"
    echo "$kver" > "$r/etc/nvemu-kernel"

    log "packing initrd"
    (cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$WORK/initrd.img"
    mv -f "$WORK/vmlinux" "$CACHE/vmlinux"
    mv -f "$WORK/initrd.img" "$CACHE/initrd.img"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
ensure_host_pkgs
KPKG=$(resolve_kernel_pkg)
load_versions
[ ${#VER[@]} -eq $((1 + ${#GUEST_PKGS[@]})) ] || { apt_update_once; load_versions; }
INPUTS=$(compute_inputs)
if [ "${NVEMU_GUEST_FORCE:-0}" != 1 ] && [ -f "$CACHE/vmlinux" ] && [ -f "$CACHE/initrd.img" ] &&
   [ "$(cat "$CACHE/stamp" 2>/dev/null)" = "$INPUTS" ]; then
    echo "$CACHE"
    exit 0
fi
log "building guest in $CACHE ($KPKG)"
START=$SECONDS
WORK=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
rm -f "$CACHE/stamp"
build
echo "$INPUTS" > "$CACHE/stamp"
log "done in $((SECONDS - START)) s: vmlinux $(du -h "$CACHE/vmlinux" | cut -f1), initrd $(du -h "$CACHE/initrd.img" | cut -f1)"
echo "$CACHE"
