"""The test host names (tests/support/testhosts.py): resolved by the system resolver in
this process and its children, and nowhere else."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import testhosts


@pytest.fixture(autouse=True)
def names():
    testhosts.require()


def addresses(name: str) -> set[str]:
    return {info[4][0] for info in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)}


def test_the_names_resolve_through_getaddrinfo_and_localhost_still_does():
    for name, address in testhosts.NAMES.items():
        if ":" in address and not testhosts.ipv6_available():
            continue
        assert addresses(name) == {address}, name
    assert addresses(testhosts.ALPHA) == addresses(testhosts.BETA)  # two names, one address
    assert "127.0.0.1" in addresses("localhost")


def test_children_resolve_them_too():
    """Celery workers and receiver examples are children: same mount namespace."""
    script = "import socket; print(socket.getaddrinfo('alpha.opsknight.test', 80)[0][4][0])"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True)
    assert done.stdout.strip() == "127.0.0.2"


def test_the_machines_hosts_file_is_untouched():
    """The process that started pytest stays in the machine's mount namespace: its
    /etc/hosts has none of the names."""
    parent = Path(f"/proc/{os.getppid()}")
    try:
        if os.readlink(parent / "ns" / "mnt") == os.readlink("/proc/self/ns/mnt"):
            pytest.skip("pytest's parent shares this mount namespace (a nested test run?)")
        text = (parent / "root" / "etc" / "hosts").read_text()
    except OSError as error:
        pytest.skip(f"cannot read the parent's /etc/hosts through {parent}: {error}")
    assert ".opsknight.test" not in text
    assert ".opsknight.test" in Path("/etc/hosts").read_text()


def test_outside_runs_a_command_in_the_machines_mount_namespace():
    """What the chaos suite restarts (PostgreSQL, Redis) must not live on in ours."""
    command = testhosts.outside(["readlink", "/proc/self/ns/mnt"])
    if command[0] == "readlink":
        pytest.skip("no private namespace or no nsenter: nothing to leave")
    outside = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    assert outside != os.readlink("/proc/self/ns/mnt")
    hosts = subprocess.run(testhosts.outside(["cat", "/etc/hosts"]), capture_output=True, text=True, check=True)
    assert ".opsknight.test" not in hosts.stdout
