"""A test certificate authority (trustme) and server certificates for the test names.

One CA per test session. Its certificate is written to a PEM file, `ca_bundle()`, which
tests give the sender as WEBHOOK_CA_BUNDLE (the `settings` fixture in-process, the
environment for Celery workers) — the way an operator trusts a company CA. Nothing
else trusts it: with the default bundle, every certificate here is refused.
"""

import atexit
import datetime
import functools
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme

from tests.support import testhosts

# A name no test host has: a certificate for it, served on another name, is "wrong".
ELSEWHERE = "elsewhere.opsknight.test"


@dataclass(frozen=True)
class ServerCert:
    """A leaf certificate (and key) issued by the test CA for `identities`."""

    identities: tuple[str, ...]
    leaf: trustme.LeafCert

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.leaf.configure_cert(context)
        return context

    def write(self, folder: Path) -> tuple[Path, Path]:
        """(certificate chain, private key) as PEM files in `folder`, for servers that take paths."""
        folder.mkdir(parents=True, exist_ok=True)
        stem = "_".join(self.identities).replace(":", "-")
        cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
        cert_path.write_bytes(b"".join(blob.bytes() for blob in self.leaf.cert_chain_pems))
        self.leaf.private_key_pem.write_to_path(str(key_path))
        return cert_path, key_path


@functools.cache
def authority() -> trustme.CA:
    return trustme.CA(organization_name="OpsKnight tests", organization_unit_name="test CA, never trusted elsewhere")


@functools.cache
def ca_bundle() -> str:
    """Path to the test CA's certificate (PEM), for WEBHOOK_CA_BUNDLE."""
    folder = tempfile.mkdtemp(prefix="opsknight-test-ca-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / "ca.pem"
    authority().cert_pem.write_to_path(str(path))
    return str(path)


@functools.cache
def server_cert(*identities: str) -> ServerCert:
    """A valid certificate for these names or IP addresses (subjectAltName: DNS or IP)."""
    return ServerCert(identities, authority().issue_cert(*identities))


@functools.cache
def expired_cert(*identities: str) -> ServerCert:
    """Issued by the test CA for the right names, but valid only until yesterday."""
    now = datetime.datetime.now(datetime.UTC)
    leaf = authority().issue_cert(
        *identities, not_before=now - datetime.timedelta(days=30), not_after=now - datetime.timedelta(days=1)
    )
    return ServerCert(identities, leaf)


def wrong_name_cert() -> ServerCert:
    """Valid and issued by the test CA, but for ELSEWHERE: wrong for any test name."""
    return server_cert(ELSEWHERE)


def receiver_cert() -> ServerCert:
    return server_cert(testhosts.RECEIVER)
