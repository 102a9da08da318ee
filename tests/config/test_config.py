#!/usr/bin/env python3
"""The config file: every key is accepted with a valid value, bad input gets the exact error
(file, line, key), and docs/config.md lists exactly the keys the binary knows.
Usage: test_config.py NVEMU SOURCE_DIR"""
import os
import re
import subprocess
import sys
import tempfile

NVEMU, SOURCE = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(f"{'PASS' if ok else 'FAIL'}: {name}{'' if ok else ': ' + detail}")
    passed, failed = passed + ok, failed + (not ok)


def run_config(text, *extra):
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write(text)
    try:
        r = subprocess.run([NVEMU, "-c", f.name, "--control", "none", "--check-config", *extra],
                           capture_output=True, text=True)
        return r.returncode, r.stderr.replace(f.name, "FILE").strip()
    finally:
        os.unlink(f.name)


def expect_error(name, text, message):
    rc, err = run_config(text)
    check(name, rc == 2 and err == f"nvemu: {message}", f"rc {rc}, stderr {err!r}")


# -- bad input, exact messages --
expect_error("unknown key", "[nvemu]\nportt = 1\n", "FILE:2: [nvemu] unknown key 'portt'")
expect_error("bad number", "[nvemu]\nport = fast\n", "FILE:2: [nvemu] port: 'fast' is not a non-negative integer")
expect_error("out of range", "[nvemu]\n\nport = 70000\n", "FILE:3: [nvemu] port: 70000 is out of range [1, 65535]")
expect_error("bad flag", "[nvemu]\npoll = maybe\n", "FILE:2: [nvemu] poll: 'maybe' is not yes or no")
expect_error("not a key", "[nvemu]\nlist-keys = yes\n", "FILE:2: [nvemu] unknown key 'list-keys'")
expect_error("bad kind option", "[nvemu]\nkind = floppy\n",
             "FILE:2: [nvemu] kind: 'floppy' is not ram, nossd, ssd or zoned")
expect_error("duplicate section", "[namespace a]\nkind = ram\n[namespace b]\nkind = ram\n[namespace a]\nsize = 1G\n",
             "FILE:6: duplicate section [namespace a]")
expect_error("unknown section", "[drive]\nkind = ram\n",
             "FILE:2: unknown section [drive] (expected [nvemu], [subsystem NAME], [namespace NAME] or "
             "[fault NAME])")
# An unknown section's later keys are not taken as a namespace's (they crashed the reader).
expect_error("unknown section, several keys", "[namespace]\nkind = ssd\nsize = 1G\n",
             "FILE:2: unknown section [namespace] (expected [nvemu], [subsystem NAME], [namespace NAME] or "
             "[fault NAME])")
expect_error("model key out of range", "[namespace a]\nkind = ssd\nchannels = 0\n",
             "FILE:3: [namespace a] channels: 0 is out of range [1, 1024]")
expect_error("model key not a number", "[namespace a]\nkind = ssd\nop_pcent = lots\n",
             "FILE:3: [namespace a] op_pcent: 'lots' is not a number")
expect_error("unknown model key", "[namespace a]\nkind = ssd\nflux = 3\n", "FILE:3: [namespace a] flux: unknown ssd key")
expect_error("bad kind", "[namespace a]\nkind = floppy\n",
             "FILE:2: [namespace a] kind 'floppy' is not ram, nossd, ssd or zoned")
expect_error("bad size", "[namespace a]\nkind = ram\nsize = 12Q\n",
             "FILE:3: [namespace a] size '12Q' is not a size (like 512M or 4G)")
expect_error("bad LBA size", "[namespace a]\nkind = ram\nlba_size = 1024\n",
             "FILE:3: [namespace a] lba_size '1024' is not 512 or 4096")
expect_error("fault type", "[fault f]\ntype = bitrot\n",
             "FILE:2: [fault f] type 'bitrot' is not a fault type (nvemu fault --list-types)")
expect_error("fault key of another type", "[fault f]\ntype = spare-low\nlba = 5\n",
             "FILE:3: [fault f] lba is not a key of spare-low faults")
expect_error("fault without a type", "[fault f]\nnsid = 1\n", "FILE: [fault f] has no type")
expect_error("fault keys together", "[fault f]\ntype = die-offline\nnsid = 1\n",
             "FILE: [fault f] die-offline needs die")
SMALL_SSD = "[namespace a]\nkind = ssd\npreset = small\n"
expect_error("a die the others cannot replace", SMALL_SSD + "[fault lost]\ntype = die-offline\nnsid = 1\ndie = 1\n",
             "--fault 'die-offline name=lost nsid=1 die=1': die 1 cannot go offline: op_pcent=12 leaves "
             "0 spare blocks per die on 3 dies; at least 4 are needed (GC reserve 1 + an open block per "
             "write stream + 1)")
rc, err = run_config(SMALL_SSD + "op_pcent = 50\n[fault lost]\ntype = die-offline\nnsid = 1\ndie = 1\n")
check("a die offline from the config file", rc == 0 and "die 1 offline" in err, f"rc {rc}, stderr {err!r}")
expect_error("bad NQN", "[subsystem s]\nnqn = disk\n",
             "FILE:2: [subsystem s] nqn 'disk' must start with 'nqn.' and be under 256 bytes")
expect_error("subsystem key", "[subsystem s]\nnqn = nqn.2026-11.x:s\nserial = 1\n",
             "FILE:3: [subsystem s] unknown key 'serial' (a subsystem has nqn, allow_host, dhchap_key "
             "and dhchap_ctrl_key)")
# Found by fuzz_config: a key above every section crashed the reader.
expect_error("key outside a section", "port = 4421\n",
             "FILE:1: key 'port' outside a section (expected [nvemu], [subsystem NAME] or "
             "[namespace NAME] above it)")
expect_error("key under an unreadable header", "[nvemu\nport = 4421\n",
             "FILE:1: key 'port' outside a section (expected [nvemu], [subsystem NAME] or "
             "[namespace NAME] above it)")
expect_error("keys of an unknown section", "[drive]\nkind = ram\nsize = 1G\n",
             "FILE:2: unknown section [drive] (expected [nvemu], [subsystem NAME], [namespace NAME] or "
             "[fault NAME])")
expect_error("namespace without kind", "[namespace a]\nsize = 1G\n", "FILE: [namespace a] has no kind")
# inih reports keys, not sections: a section without keys does not exist.
expect_error("empty subsystem section", "[subsystem s]\n[namespace a]\nsubsystem = s\nkind = ram\n",
             "FILE: [namespace a] names no [subsystem s]")
expect_error("unknown subsystem", "[namespace a]\nkind = ram\nsubsystem = nope\n",
             "FILE: [namespace a] names no [subsystem nope]")
expect_error("preset not found", "[namespace a]\nkind = ssd\npreset = nosuch\n",
             "FILE:3: [namespace a] preset 'nosuch' not found")
rc, err = subprocess.run([NVEMU, "-c", "/nonexistent.ini", "--check-config"], capture_output=True, text=True).returncode, None
check("missing file", rc == 2)

# -- the same messages on the command line, naming the option as written there --
for args, message in [
    (["--port", "70000"], "--port: 70000 is out of range [1, 65535]"),
    (["--size", "12Q"], "--size: '12Q' is not a non-negative integer"),
    (["--incapsule", "4100"], "--incapsule: 4100 is not a multiple of 16"),
    (["--lba-size", "1024"], "--lba-size: '1024' is not 512 or 4096"),
    (["--portt", "1"], "unknown option '--portt' (see nvemu --help)"),
    (["-p"], "-p needs a value"),
    (["--ns-o", "channels=2"], "--ns-o applies to the --ns before it, and there is none"),
]:
    r = subprocess.run([NVEMU, "--control", "none", "--check-config", *args], capture_output=True, text=True)
    check(f"command line {' '.join(args)}", r.returncode == 2 and r.stderr.strip() == f"nvemu: {message}",
          f"rc {r.returncode}, stderr {r.stderr.strip()!r}")
# Every number form the options take (util/util.h), here through --size and --port.
for args in (["--size", "0x40000000"], ["--size", "1GiB"], ["--size", "1gb"], ["--port", "0x1144"]):
    r = subprocess.run([NVEMU, "--control", "none", "--check-config", *args], capture_output=True, text=True)
    check(f"command line {' '.join(args)}", r.returncode == 0, r.stderr)

# -- -o on the command line overrides a namespace's own key (here into a device that cannot work) --
rc, err = run_config("[namespace a]\nkind = ssd\npreset = small\nop_pcent = 20\n")
check("namespace key alone is valid", rc == 0, err)
rc, err = run_config("[namespace a]\nkind = ssd\npreset = small\nop_pcent = 20\n", "-o", "op_pcent=0.1")
check("-o overrides the namespace's key", rc == 2 and "op_pcent=0.1 leaves 0 spare blocks" in err, err)

# -- hosts and their DH-HMAC-CHAP secrets: per subsystem or for all, in order; never printed --
def secret(transform=1, raw=bytes(range(32))):
    import base64, struct, zlib
    return "DHHC-1:%02x:%s:" % (transform, base64.b64encode(raw + struct.pack("<I", zlib.crc32(raw))).decode())


HOST = "nqn.2014-08.org.nvmexpress:uuid:x"
good, other = secret(), secret(0, bytes(range(100, 148)))
bad_crc = good[:20] + ("A" if good[20] != "A" else "B") + good[21:]
rc, err = run_config(f"[nvemu]\nallow_host = {HOST}\ndhchap_key = {good}\ndhchap_ctrl_key = {other}\n"
                     f"[subsystem s]\nnqn = nqn.2026-11.x:s\nallow_host = {HOST}2\ndhchap_key = {other}\n")
check("hosts with secrets, for all and per subsystem", rc == 0, err)
expect_error("secret before its host", f"[subsystem s]\nnqn = nqn.2026-11.x:s\ndhchap_key = {good}\n",
             "FILE:3: [subsystem s] dhchap-key belongs to the allow_host before it, and there is none")
expect_error("controller secret alone", f"[nvemu]\nallow_host = {HOST}\ndhchap_ctrl_key = {good}\n",
             f"--dhchap-ctrl-key: host {HOST} needs its own --dhchap-key first")
for name, text in [("bad CRC", f"[nvemu]\nallow_host = {HOST}\ndhchap_key = {bad_crc}\n"),
                   ("bad CRC, per subsystem",
                    f"[subsystem s]\nnqn = nqn.2026-11.x:s\nallow_host = {HOST}\ndhchap_key = {bad_crc}\n")]:
    rc, err = run_config(text)
    check(f"secret with a {name} refused without showing it",
          rc == 2 and "CRC-32 does not match" in err and bad_crc[10:40] not in err, err)
r = subprocess.run([NVEMU, "--control", "none", "--check-config", "--allow-host", HOST, "--dhchap-key",
                    bad_crc], capture_output=True, text=True)
check("command line secret refused without showing it",
      r.returncode == 2 and "CRC-32" in r.stderr and bad_crc[10:40] not in r.stderr, r.stderr)
r = subprocess.run([NVEMU, "--control", "none", "--check-config", "--dhchap-key", good],
                   capture_output=True, text=True)
check("command line secret without a host", r.returncode == 2 and "--dhchap-key belongs to the "
      "--allow-host before it" in r.stderr and good not in r.stderr, r.stderr)

# -- every key with a valid value --
daemon_keys = {
    "listen": "127.0.0.1", "port": "4500", "allow-host": "nqn.2014-08.org.nvmexpress:uuid:x",
    "allow-any-host": "yes", "nqn": "nqn.2026-11.dev.nvemu:k", "ns": "ram:64M:512", "kind": "ssd",
    "zoned": "yes", "size": "64M", "lba-size": "512", "namespaces": "2", "serial": "S1",
    "model": "M1", "preset": "small", "transport-floor": "1000", "mdts": "6", "io-queues": "4",
    "queue-depth": "64", "incapsule": "4096", "reactors": "1", "poll": "no", "timer-spin": "1000",
    "control": "none", "http": "18081", "record": "/dev/null", "record-interval": "500", "verbose": "no",
    "dhchap-hashes": "sha256", "dhchap-dhgroups": "null,ffdhe8192", "max-connections": "100",
    "max-unconnected-per-address": "10", "max-controllers-per-host": "2", "pdu-timeout": "1000",
    "setup-timeout": "5000",
}
for key, value in daemon_keys.items():
    rc, err = run_config(f"[nvemu]\n{key} = {value}\n")
    check(f"[nvemu] {key} = {value}", rc == 0, err)
listed = subprocess.run([NVEMU, "--list-keys"], capture_output=True, text=True, check=True).stdout
model_keys, zone_keys, section = [], [], None
for line in listed.splitlines():
    if not line.startswith("  "):
        section = zone_keys if line.startswith("Zone") else model_keys
        continue
    m = re.match(r"^  (\S+)\s+default (\S*)", line)
    section.append((m.group(1), m.group(2)))
for key, default in model_keys + zone_keys:
    kind = "zoned" if (key, default) in zone_keys else "ssd"
    if not default:
        continue  # a key without a default (a trace file) has no value every drive accepts
    rc, err = run_config(f"[namespace n]\nkind = {kind}\n{key} = {default}\n")
    check(f"[namespace] {key} = {default}", rc == 0, err)

# -- FDP in a [namespace] section: the drive is built, its FDP plan checked --
rc, err = run_config("[namespace a]\nkind = ssd\nfdp = on\nfdp_nruh = 4\nfdp_handles = 3,1\n")
check("[namespace] fdp = on with 4 handles and a handle list", rc == 0, err)
expect_error("fdp handle list past the handles",
             "[namespace a]\nkind = ssd\nfdp = on\nfdp_nruh = 4\nfdp_handles = 0,9\n",
             "fdp_handles: handle 9 is out of range [0, 3] (there are 4 handles)")
expect_error("fdp with an SLC cache", "[namespace a]\nkind = ssd\nfdp = on\nslc_static_bytes = 64M\n",
             "fdp=on does not model an SLC cache or in_place_writes: set slc_static_bytes=0, "
             "slc_dynamic_bytes=0 and in_place_writes=off")

# -- the documentation names every key the binary has --
doc = open(os.path.join(SOURCE, "docs", "config.md")).read()
help_text = subprocess.run([NVEMU, "--help"], capture_output=True, text=True).stdout
options = set(re.findall(r"--([a-z][a-z-]+)", help_text)) - {"help", "config", "check-config", "list-keys"}
missing = [o for o in sorted(options) if f"`{o}`" not in doc and f"`{o}," not in doc and f"--{o}`" not in doc]
check("docs/config.md documents every daemon option", not missing, f"missing {missing}")


def generated_part(path, marker, *mode):
    """The text between a document's markers, and what scripts/gen-config-keys makes of it now."""
    text = open(os.path.join(SOURCE, path)).read()
    in_doc = text.split(f"<!-- {marker}:begin -->")[1].split(f"<!-- {marker}:end -->")[0]
    generated = subprocess.run([os.path.join(SOURCE, "scripts", "gen-config-keys"), *mode, NVEMU],
                               capture_output=True, text=True, check=True).stdout
    return in_doc.strip(), generated.strip()


in_doc, generated = generated_part("docs/config.md", "keys")
check("docs/config.md key tables match nvemu --list-keys", in_doc == generated,
      "run scripts/gen-config-keys and update the tables")
in_doc, generated = generated_part("docs/config.md", "ini-keys", "--ini")
check("docs/config.md [nvemu] keys match nvemu --list-options", in_doc == generated,
      "run scripts/gen-config-keys --ini and update the table")
in_doc, generated = generated_part("README.md", "options", "--options")
check("README.md option table matches nvemu --list-options", in_doc == generated,
      "run scripts/gen-config-keys --options and update the table")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
