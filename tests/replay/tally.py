"""What the host-side Python tests share: a PASS/FAIL tally printed as it goes, and a free port."""
import socket
import sys

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(f"{'PASS' if ok else 'FAIL'}: {name}{'' if ok else ': ' + detail}", flush=True)
    passed, failed = passed + ok, failed + (not ok)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def finish():
    """Prints the tally and exits: 0 only if nothing failed."""
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
