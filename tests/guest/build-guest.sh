#!/usr/bin/env bash
# Build the nvemu reference guest: a Debian 12 kernel (ELF vmlinux, booted
# through PVH) and an initrd with busybox, nvme-cli, fio, blkzone and a few
# kernel modules.  The kernel is Debian 12's own (6.1, the default) or the one
# of Debian's bookworm-backports suite (6.12: in-band authentication, a newer
# NVMe/TCP host); the user space is Debian 12's either way.  Everything in the guest comes from Debian packages that this
# script downloads and unpacks (never from what the host happens to have
# installed): the packages named below and, for each binary's shared
# libraries, the packages they depend on.  Output goes to a cache directory and
# is rebuilt only when an input changes (package versions or this script).
# /init (init.sh) is not in it: run-guest.sh adds it to every boot, so that
# checkouts with different init.sh versions share one cache.
#
# Usage: build-guest.sh [--kernel 6.1|6.12]   (prints the cache directory on stdout)
# Env:   NVEMU_GUEST_KERNEL  the kernel when --kernel is not given (default 6.1)
#        NVEMU_GUEST_CACHE   output dir (default ${NVEMU_CACHE:-~/.cache/nvemu}/guest-KERNEL:
#                            one build per kernel); the downloaded packages go to its debs/,
#                            or without it to ${NVEMU_CACHE:-~/.cache/nvemu}/debs, which
#                            both kernels share (the same user space: fetched once)
#        NVEMU_GUEST_FORCE=1  rebuild even if the stamp matches
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KERNEL=${NVEMU_GUEST_KERNEL:-6.1}
if [ "${1:-}" = --kernel ]; then
    KERNEL=${2:?build-guest.sh: --kernel needs 6.1 or 6.12}
    shift 2
fi
[ $# -eq 0 ] || { echo "usage: build-guest.sh [--kernel 6.1|6.12]" >&2; exit 2; }
case $KERNEL in
    6.1) KERNEL_SUITE=bookworm ;;
    6.12) KERNEL_SUITE=bookworm-backports ;;
    *) echo "build-guest.sh: kernel '$KERNEL' is not 6.1 or 6.12" >&2; exit 2 ;;
esac
CACHE=${NVEMU_GUEST_CACHE:-${NVEMU_CACHE:-$HOME/.cache/nvemu}/guest-$KERNEL}
DEBS=${NVEMU_GUEST_CACHE:+$CACHE/debs}
DEBS=${DEBS:-${NVEMU_CACHE:-$HOME/.cache/nvemu}/debs}
ARCH_LIBDIR=usr/lib/x86_64-linux-gnu

# Guest packages unpacked with dpkg-deb (the kernel package is added below);
# the libraries their binaries need are fetched from their dependencies.
GUEST_PKGS=(nvme-cli libnvme1 fio busybox-static util-linux libgcc-s1)
# Guest binaries, as paths inside those packages.
GUEST_BINS=(usr/sbin/nvme usr/bin/fio sbin/blkzone sbin/blkdiscard)
# Host packages: only tools that build the guest and run it.
HOST_PKGS=(qemu-system-x86 cpio xz-utils zstd gcc libc6-dev binutils)
# fio is linked with BIND_NOW against these; the guest gets stand-ins whose
# functions abort (we only use fio's libaio/io_uring/sync engines), and the
# packages behind them are never fetched.
STUB_LIBS=(librados.so.2 librbd.so.1 libgfapi.so.0 libnbd.so.0 libpmemblk.so.1
           libpmem.so.1 libibverbs.so.1 librdmacm.so.1)
STUB_PKGS=(librados2 librbd1 libgfapi0 libnbd0 libpmemblk1 libpmem1 libibverbs1 librdmacm1)
# Kernel modules to ship (their dependencies are added automatically).
MODULES=(configfs crc32c_generic crc32c-intel crct10dif_generic crct10dif-pclmul
         crc64_rocksoft_generic virtio_pci virtio_net nvme-tcp nvmet nvmet-tcp
         null_blk zonefs loop 9p 9pnet_virtio)
# Where libraries live inside the unpacked packages.
LIB_DIRS=(lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu lib usr/lib)

log() { echo "build-guest: [$SECONDS s] $*" >&2; }
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

# bookworm-backports among apt's sources, for the 6.12 kernel: the same mirror as the
# machine's own Debian entry (the first one that is not the security archive), so that no
# repository address is written here.  Backports have apt's low priority: nothing else the
# machine installs comes from them.
ensure_backports() {
    if apt-cache policy | grep -q ' bookworm-backports/main '; then
        return 0
    fi
    local mirror list=/etc/apt/sources.list.d/nvemu-bookworm-backports.sources
    mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '/^deb / && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$mirror" ] || die "cannot find this machine's Debian mirror in its apt sources"
    log "adding bookworm-backports from $mirror to apt's sources ($list)"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" > "$list" || die "cannot write $list (run as root)"
    APT_UPDATED=0
    apt_update_once
}

# The version of linux-image-amd64 to follow: apt's candidate for 6.1 (Debian 12's own, with
# its security updates), the bookworm-backports one for 6.12.
kernel_meta_version() {
    if [ "$KERNEL" = 6.1 ]; then
        apt-cache policy linux-image-amd64 2>/dev/null | awk '/Candidate:/ && $2 ~ /^6[.]1[.]/ {print $2}'
    else
        apt-cache madison linux-image-amd64 2>/dev/null |
            awk -F' [|] ' '$3 ~ / bookworm-backports\/main / && $2 ~ /^6[.]12[.]/ {print $2; exit}'
    fi
}

resolve_kernel_pkg() {
    local k v
    [ "$KERNEL" = 6.12 ] && ensure_backports
    v=$(kernel_meta_version)
    if [ -z "$v" ]; then
        apt_update_once
        v=$(kernel_meta_version)
    fi
    [ -n "$v" ] || die "no linux-image-amd64 $KERNEL in $KERNEL_SUITE"
    k=$(apt-cache depends "linux-image-amd64=$v" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$k" ] || die "cannot resolve the kernel package behind linux-image-amd64 $v"
    echo "$k"
}

declare -A VER  # candidate version of each guest package looked up so far
load_versions() {  # load_versions PKG...
    local p v
    while read -r p v; do VER[$p]=$v; done < <(apt-cache policy "$@" 2>/dev/null |
        awk '/^[^ ]/ {p = $1; sub(":$", "", p)} /Candidate:/ && $2 != "(none)" {print p, $2}')
}

# Text naming every input: the guest packages (those named above, and the
# dependencies the last build fetched for their libraries) with their
# candidate versions, the host's build tools, and this script's hash.  The
# build is redone when it changes.
compute_inputs() {
    local p pkgs=("$KPKG" "${GUEST_PKGS[@]}")
    [ -f "$CACHE/closure" ] && pkgs+=($(cat "$CACHE/closure"))
    load_versions "${pkgs[@]}"
    for p in $(printf '%s\n' "${pkgs[@]}" | sort -u); do
        [ -n "${VER[$p]:-}" ] || die "package $p not found in apt lists"
        echo "guest $p=${VER[$p]}"
    done
    dpkg-query -W -f='host ${Package}=${Version}\n' "${HOST_PKGS[@]}"
    (cd "$HERE" && sha256sum build-guest.sh)
}

deb_path() {  # deb_path DIR PKG: the cached .deb of PKG's candidate version, if any
    local v=${VER[$2]:-}
    [ -n "$v" ] || die "package $2 not found in apt lists"
    ls "$1/${2}_${v//:/%3a}_"*.deb 2>/dev/null | head -1 || true
}

declare -A FETCHED  # guest packages unpacked into $WORK/pkgs
declare -A OWNER    # file name (of a binary or library) -> the package it came from
# Downloads the packages (one apt-get call for those not cached yet) and unpacks
# them into $WORK/pkgs, remembering which files each one owns.
fetch_pkgs() {  # fetch_pkgs PKG...
    local dir=$DEBS p deb f get=()
    mkdir -p "$dir"
    load_versions "$@"
    # Shared by both kernels' builds: one downloads at a time.
    exec 8>"$dir/.lock"
    flock 8
    for p in "$@"; do
        [ -n "$(deb_path "$dir" "$p")" ] || get+=("$p=${VER[$p]}")
    done
    if [ ${#get[@]} -gt 0 ]; then
        (cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "${get[@]}" >&2) ||
            die "apt-get download ${get[*]} failed"
    fi
    flock -u 8
    for p in "$@"; do
        FETCHED[$p]=1
        deb=$(deb_path "$dir" "$p")
        [ -n "$deb" ] || die "no .deb of $p after downloading it"
        dpkg-deb -x "$deb" "$WORK/pkgs"
        while read -r f; do OWNER[${f##*/}]=$p; done < <(dpkg-deb -c "$deb" | awk '$6 !~ /\/$/ {print $6}')
    done
}

# The packages the given ones depend on (Depends and Pre-Depends; the first of
# each set of alternatives, a virtual package's first provider).
pkg_depends() {  # pkg_depends PKG...
    apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
        --no-enhances "$@" 2>/dev/null | awk '
        /^[^ ]/ { in_alt = 0; virtual = 0; next }
        /^ *\|?(Pre)?Depends:/ {
            name = $2; sub(":any$", "", name)
            if (!in_alt) { if (name ~ /^</) virtual = 1; else print name }
            in_alt = ($1 ~ /^\|/); next
        }
        virtual && /^    [^ ]/ { print $1; virtual = 0; next }
        { virtual = 0 }' | sort -u
}

# Cut the compressed kernel out of the bzImage (XZ in Debian's 6.1, zstd in 6.12) and
# decompress it to the ELF vmlinux.  The decompressors stop complaining at the bzImage's
# trailer, after the stream: their status says nothing, the ELF check after them does.
extract_vmlinux() {
    local bz=$1 out=$2 off magic tool
    for magic in '\xfd7zXZ\x00:xz' '\x28\xb5\x2f\xfd:zstd'; do
        off=$(LC_ALL=C grep -obUaP -m1 "${magic%:*}" "$bz" | head -n 1 | cut -d: -f1) || true
        tool=${magic##*:}
        [ -n "$off" ] && break
    done
    [ -n "$off" ] || die "no XZ or zstd stream in $bz"
    case $tool in
        xz) { tail -c +"$((off + 1))" "$bz" || true; } | xz -dc --single-stream > "$out" ;;
        zstd) { tail -c +"$((off + 1))" "$bz" || true; } | { zstd -dcq > "$out" 2>/dev/null || true; } ;;
    esac
    [ "$(head -c 4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ] || die "$out is not an ELF file"
    # Every loadable segment lies within what was decompressed.
    local size end=0 type offset _ filesz
    size=$(stat -c %s "$out")
    while read -r type offset _ _ filesz _; do
        [ "$type" = LOAD ] && [ $((offset + filesz)) -gt "$end" ] && end=$((offset + filesz))
    done < <(readelf -lW "$out")
    [ "$end" -gt 0 ] && [ "$end" -le "$size" ] || die "$out is cut short ($size bytes, segments end at $end)"
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
}

# PATH with its symbolic links followed inside the unpacked tree ROOT: an
# absolute link there points into ROOT, not into the host.
inside_path() {  # inside_path ROOT PATH
    local root=$1 p=$2 t n=0
    while [ -L "$p" ] && [ $n -lt 16 ]; do
        t=$(readlink "$p")
        case $t in /*) p=$root$t ;; *) p=$(dirname "$p")/$t ;; esac
        n=$((n + 1))
    done
    echo "$p"
}

# The file of library SONAME among the stubs and the unpacked packages, or nothing.
find_lib() {
    local d
    for d in "$WORK/stubs" "${LIB_DIRS[@]/#/$WORK/pkgs/}"; do
        [ -e "$d/$1" ] || [ -L "$d/$1" ] || continue
        inside_path "$WORK/pkgs" "$d/$1"
        return 0
    done
}

# Sets LIBS to the shared libraries the ELF files need (NEEDED entries,
# recursively), one "SONAME PATH" each, all from the stubs and the unpacked packages.  A library that
# none of them holds is looked for in the dependencies of the package owning the
# file that needs it: those are fetched, and the walk starts again.
resolve_libs() {
    local f so lib m owner dep
    local -a queue missing owners new
    local -A seen
    while :; do
        queue=("$@") LIBS=() missing=() seen=()
        while [ ${#queue[@]} -gt 0 ]; do
            f=${queue[0]}
            queue=("${queue[@]:1}")
            for so in $(readelf -d -W "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
                [ -z "${seen[$so]:-}" ] || continue
                seen[$so]=1
                lib=$(find_lib "$so")
                if [ -z "$lib" ]; then
                    missing+=("$so:$f")
                else
                    LIBS+=("$so $lib")
                    queue+=("$lib")
                fi
            done
        done
        [ ${#missing[@]} -eq 0 ] && break
        owners=()
        for m in "${missing[@]}"; do
            owner=${OWNER[$(basename "${m#*:}")]:-}
            [ -n "$owner" ] || die "${m#*:} needs ${m%%:*}, and no guest package owns it"
            owners+=("$owner")
        done
        new=()
        for dep in $(pkg_depends "${owners[@]}"); do
            [[ " ${STUB_PKGS[*]} " == *" $dep "* ]] || [ -n "${FETCHED[$dep]:-}" ] || new+=("$dep")
        done
        [ ${#new[@]} -gt 0 ] || die "libraries found in no guest package: ${missing[*]}"
        fetch_pkgs "${new[@]}"
    done
}

build() {
    local p kver r f lib bb ld
    log "fetching and unpacking $KPKG ${GUEST_PKGS[*]}"
    fetch_pkgs "$KPKG" "${GUEST_PKGS[@]}"
    kver=$(ls "$WORK/pkgs/lib/modules")
    [ "$(wc -w <<<"$kver")" = 1 ] || die "expected one kernel version, got: $kver"

    log "extracting vmlinux from vmlinuz-$kver"
    extract_vmlinux "$WORK/pkgs/boot/vmlinuz-$kver" "$WORK/vmlinux"

    log "building stub libraries for fio"
    make_stubs "$WORK/pkgs/usr/bin/fio" "$WORK/stubs"

    log "resolving shared libraries from the packages' dependencies"
    local bins=()
    for f in "${GUEST_BINS[@]}"; do
        [ -f "$WORK/pkgs/$f" ] || die "$f is not in the guest packages"
        bins+=("$WORK/pkgs/$f")
    done
    resolve_libs "${bins[@]}"
    ld=$(inside_path "$WORK/pkgs" "$WORK/pkgs/lib64/ld-linux-x86-64.so.2")
    [ -f "$ld" ] || die "no dynamic loader in the guest packages"
    # With BIND_NOW every symbol must resolve: prove it with the guest's own loader and libraries.
    LD_BIND_NOW=1 "$ld" --library-path "$WORK/stubs:$WORK/pkgs/lib/x86_64-linux-gnu:$WORK/pkgs/$ARCH_LIBDIR" \
        "$WORK/pkgs/usr/bin/fio" --version >/dev/null || die "fio does not run with the stub libraries"

    r=$WORK/root
    mkdir -p "$r"/{usr/bin,usr/sbin,$ARCH_LIBDIR,usr/lib64,dev,proc,sys,tmp,run,mnt,etc/nvme,nvemu}
    ln -s usr/bin "$r/bin"; ln -s usr/sbin "$r/sbin"; ln -s usr/lib "$r/lib"; ln -s usr/lib64 "$r/lib64"
    chmod 1777 "$r/tmp"

    cp "$WORK/pkgs/usr/bin/fio" "$r/usr/bin/"
    for f in "${GUEST_BINS[@]}"; do
        [ "$f" = usr/bin/fio ] || cp "$WORK/pkgs/$f" "$r/usr/sbin/"
    done
    local entry
    for entry in "${LIBS[@]}"; do
        # Each library under the name it is asked for (its soname), not its file name.
        cp "${entry#* }" "$r/$ARCH_LIBDIR/${entry%% *}"
    done
    cp "$ld" "$r/usr/lib64/ld-linux-x86-64.so.2"
    # glibc loads libgcc_s at run time for thread cancellation.
    cp "$(find_lib libgcc_s.so.1)" "$r/$ARCH_LIBDIR/libgcc_s.so.1"

    bb=$WORK/pkgs/bin/busybox
    cp "$bb" "$r/usr/bin/busybox"
    local applet name
    for applet in $("$bb" --list-full); do
        name=${applet##*/}
        [ -e "$r/usr/bin/$name" ] || [ -e "$r/usr/sbin/$name" ] && continue
        ln -s /usr/bin/busybox "$r/usr/${applet#usr/}"
    done

    log "selecting kernel modules"
    local kmod=lib/modules/$kver m deps rel
    # Newer kernels ship XZ-compressed modules, which busybox can neither read for depmod
    # nor load: decompress them.
    find "$WORK/pkgs/$kmod" -name '*.ko.xz' -print0 | xargs -0 -r -P2 -n 64 xz -d -T1
    "$bb" depmod -b "$WORK/pkgs" "$kver"
    mkdir -p "$r/usr/$kmod"
    cp "$WORK/pkgs/$kmod"/modules.{builtin,builtin.modinfo,order} "$r/usr/$kmod/"
    for m in "${MODULES[@]}"; do
        # modules.dep line "path/m.ko: deps...", matched with - and _ alike
        deps=$(awk -v m="${m//-/_}" '{b = $1; sub(".*/", "", b); sub("\\.ko.*", "", b); gsub("-", "_", b)}
                b == m {print; exit}' "$WORK/pkgs/$kmod/modules.dep")
        if [ -z "$deps" ]; then
            # Built into this kernel: nothing to ship (init.sh's modprobe of it is a no-op).
            grep -q "/${m//-/[-_]}\.ko\$" "$WORK/pkgs/$kmod/modules.builtin" && continue
            die "module not found in $kver: $m"
        fi
        for rel in $deps; do
            rel=${rel%:}
            mkdir -p "$r/usr/$kmod/$(dirname "$rel")"
            cp "$WORK/pkgs/$kmod/$rel" "$r/usr/$kmod/$rel"
        done
    done
    "$bb" depmod -b "$r" "$kver"
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
load_versions "$KPKG" "${GUEST_PKGS[@]}"
[ ${#VER[@]} -eq $((1 + ${#GUEST_PKGS[@]})) ] || { apt_update_once; load_versions "$KPKG" "${GUEST_PKGS[@]}"; }
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
rm -f "$CACHE/stamp" "$CACHE/closure"
build
# The dependencies fetched for libraries are inputs from now on.
for p in "${!FETCHED[@]}"; do
    [[ " $KPKG ${GUEST_PKGS[*]} " == *" $p "* ]] || echo "$p"
done | sort > "$CACHE/closure"
compute_inputs > "$CACHE/stamp"
log "done in $((SECONDS - START)) s: vmlinux $(du -h "$CACHE/vmlinux" | cut -f1), initrd $(du -h "$CACHE/initrd.img" | cut -f1)"
echo "$CACHE"
