"""Host names for tests that resolve through the real resolver, and nothing global changes.

Why: production resolves a webhook URL's host with `socket.getaddrinfo` (glibc: NSS,
/etc/hosts, DNS) behind the address check, then speaks TLS and HTTP to that *name*.
Tests that send to `127.0.0.1` never exercise that path (SNI, certificate checks against
the name, `Host` on reused connections), so a transport that only works with IP
literals passed them all. Monkeypatching `getaddrinfo` would test a fake resolver, not
the one production uses.

How: at pytest start (root conftest, `pytest_configure`, before any thread exists:
`unshare(CLONE_NEWNS)` refuses a multi-threaded process), the test process enters a
private mount namespace and bind-mounts a hosts file (the machine's /etc/hosts plus the
names below) over /etc/hosts. Only this process and its children (Celery workers,
receiver examples) see it; the mount is private, so nothing propagates back, and the
machine's /etc/hosts is never written. All names are under the reserved `.test` TLD
and point at loopback addresses: traffic never leaves the machine.

It needs root (CAP_SYS_ADMIN), which CI has. Without it, tests that need the names
skip saying why (`require()`), except under `CI=true`, where they fail.
"""

import atexit
import ctypes
import ipaddress
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

RECEIVER = "receiver.opsknight.test"  # 127.0.0.1
ALPHA = "alpha.opsknight.test"  # 127.0.0.2, one address, two names, two certificates
BETA = "beta.opsknight.test"  # 127.0.0.2
WRONG = "wrong.opsknight.test"  # 127.0.0.3, served with a certificate for another name
EXPIRED = "expired.opsknight.test"  # 127.0.0.3, served with an expired certificate
IPV6 = "v6.opsknight.test"  # ::1, when loopback IPv6 works

NAMES: dict[str, str] = {
    RECEIVER: "127.0.0.1",
    ALPHA: "127.0.0.2",
    BETA: "127.0.0.2",
    WRONG: "127.0.0.3",
    EXPIRED: "127.0.0.3",
    IPV6: "::1",
}

_CLONE_NEWNS = 0x00020000
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18

# Why the names are not there ("" once installed); set by install().
_unavailable: str = "testhosts.install() was not called (root conftest.py, pytest_configure)"
_ipv6: bool = False
# The machine's mount namespace, kept open from before unshare (see outside()).
_machine_namespace_fd: int | None = None


def _ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def _hosts_text(original: str, names: dict[str, str]) -> str:
    lines = [original.rstrip("\n"), "", "# Test names (tests/support/testhosts.py), this process and its children only"]
    lines += [f"{address}\t{name}" for name, address in names.items()]
    return "\n".join(lines) + "\n"


def install() -> None:
    """Make NAMES resolve for this process and its children. Never raises: on failure,
    `require()` says why."""
    global _unavailable, _ipv6, _machine_namespace_fd
    if not _unavailable.startswith("testhosts.install()"):
        return  # already done (or already failed) in this process
    _ipv6 = _ipv6_loopback_works()
    names = {name: address for name, address in NAMES.items() if _ipv6 or ":" not in address}
    original = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else ""
    if all(_resolves_to(name, address) for name, address in names.items()):
        _unavailable = ""  # a parent test process (or the machine) already has them
        return
    if os.geteuid() != 0:
        _unavailable = "test host names need root (a private mount namespace over /etc/hosts); not root"
        return
    libc = ctypes.CDLL(None, use_errno=True)
    machine_namespace = os.open("/proc/self/ns/mnt", os.O_RDONLY)
    if libc.unshare(_CLONE_NEWNS) != 0:
        _unavailable = f"unshare(CLONE_NEWNS) failed: {os.strerror(ctypes.get_errno())}"
        os.close(machine_namespace)
        return
    _machine_namespace_fd = machine_namespace
    # Private: no mount made here propagates to the machine's namespace.
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        _unavailable = f"making / a private mount failed: {os.strerror(ctypes.get_errno())}"
        return
    folder = tempfile.mkdtemp(prefix="opsknight-testhosts-")
    # The mount holds the file's inode; the folder can go when the session ends.
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    hosts = Path(folder) / "hosts"
    hosts.write_text(_hosts_text(original, names))
    if libc.mount(str(hosts).encode(), b"/etc/hosts", None, _MS_BIND, None) != 0:
        _unavailable = f"bind-mounting {hosts} over /etc/hosts failed: {os.strerror(ctypes.get_errno())}"
        return
    missing = [name for name, address in names.items() if not _resolves_to(name, address)]
    if missing:
        _unavailable = f"after the bind mount, the resolver does not return the test addresses for {missing}"
        return
    _unavailable = ""


def _resolves_to(name: str, address: str) -> bool:
    try:
        infos = socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    wanted = ipaddress.ip_address(address)
    return any(ipaddress.ip_address(info[4][0].split("%")[0]) == wanted for info in infos)


def outside(command: list[str]) -> list[str]:
    """`command`, made to run in the machine's mount namespace (nsenter): for daemons a
    test starts that must outlive the session as ordinary machine processes (the chaos
    suite restarting PostgreSQL and Redis), not inside the tests' namespace."""
    if _machine_namespace_fd is None:
        return command
    nsenter = shutil.which("nsenter")
    if nsenter is None:
        return command
    return [nsenter, f"--mount=/proc/{os.getpid()}/fd/{_machine_namespace_fd}", "--", *command]


def available() -> bool:
    return not _unavailable


def ipv6_available() -> bool:
    return available() and _ipv6


def require(ipv6: bool = False) -> None:
    """Skip the test (fail it under CI=true) unless the test names resolve."""
    reason = _unavailable or ("" if not ipv6 or _ipv6 else "loopback IPv6 (::1) does not work on this machine")
    if not reason:
        return
    message = f"test host names unavailable: {reason}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)
