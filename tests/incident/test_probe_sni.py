"""probe-sni against real OpenSSL servers (Python's ssl) on loopback with different SNI policies."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tlskit.sni import probe_sni


def _cert(tmp: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    crt, pem = tmp / f"{name}.crt", tmp / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def _ctx(cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


@contextmanager
def _server(ctx: ssl.SSLContext) -> Iterator[int]:
    """A loopback TLS server answering handshakes until the block ends."""
    lsock = socket.create_server(("127.0.0.1", 0))
    lsock.settimeout(0.2)
    port = lsock.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                continue
            conn.settimeout(5)
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(5)
        lsock.close()


def _sni_router(default: ssl.SSLContext, by_name: dict[str, ssl.SSLContext],
                unknown: int | None) -> Callable[..., int | None]:
    def callback(sslobj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> int | None:
        if name in by_name:
            sslobj.context = by_name[name]
            return None
        return unknown
    return callback


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    tmp = tmp_path_factory.mktemp("sni-certs")
    return {n: _cert(tmp, n) for n in ("api.example.test", "default.example.test")}


def test_server_that_requires_sni(certs: dict[str, tuple[Path, Path]]) -> None:
    # No default certificate: like an nginx whose default server has none; a no-SNI client fails.
    named = _ctx(certs["api.example.test"])
    front = _ctx(None)
    front.sni_callback = _sni_router(front, {"api.example.test": named}, ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME)
    with _server(front) as port:
        result = probe_sni("127.0.0.1", port, "api.example.test")
    bare, good, wrong = result.attempts
    assert not bare.ok and good.ok and not wrong.ok
    assert good.cert_names == ("api.example.test",)
    assert wrong.alert == "unrecognized_name"
    assert result.requires_sni
    assert result.verdicts == ("requires_sni", "rejects_unknown_names")


def test_server_that_selects_certificate_by_sni(certs: dict[str, tuple[Path, Path]]) -> None:
    front = _ctx(certs["default.example.test"])
    front.sni_callback = _sni_router(front, {"api.example.test": _ctx(certs["api.example.test"])}, None)
    with _server(front) as port:
        result = probe_sni("127.0.0.1", port, "api.example.test")
    bare, good, wrong = result.attempts
    assert bare.ok and good.ok and wrong.ok
    assert bare.cert_names == ("default.example.test",) and good.cert_names == ("api.example.test",)
    assert result.verdicts == ("selects_certificate_by_sni",)
    assert not result.requires_sni


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_server_that_warns_on_unknown_names(certs: dict[str, tuple[Path, Path]]) -> None:
    # openssl s_server answers a name other than -servername with a WARNING unrecognized_name
    # (fatal only with -servername_fatal): OpenSSL clients go on, Java clients abort.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    default, named = certs["default.example.test"], certs["api.example.test"]
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-tls1_2", "-naccept", "4", "-quiet",
         "-cert", str(default[0]), "-key", str(default[1]), "-servername", "api.example.test",
         "-cert2", str(named[0]), "-key2", str(named[1])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):  # until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        # that probe connection consumed one accept: allow for it
        result = probe_sni("127.0.0.1", port, "api.example.test", timeout=5)
    finally:
        server.kill()
        server.wait(5)
    _bare, good, wrong = result.attempts
    assert good.ok and good.cert_names == ("api.example.test",)
    assert wrong.ok and wrong.warning_alerts == ("unrecognized_name",)
    assert "warns_unknown_names" in result.verdicts


def test_server_that_ignores_sni(certs: dict[str, tuple[Path, Path]]) -> None:
    with _server(_ctx(certs["api.example.test"])) as port:
        result = probe_sni("127.0.0.1", port, "api.example.test")
    assert all(a.ok for a in result.attempts)
    assert len({a.cert_sha256 for a in result.attempts}) == 1
    assert result.verdicts == ("ignores_sni",)


def test_unreachable_server_is_reported_not_raised() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    result = probe_sni("127.0.0.1", port, "api.example.test", timeout=2)
    assert result.verdicts == ("unreachable",)
    assert all(not a.connected for a in result.attempts)


def test_cli_json(certs: dict[str, tuple[Path, Path]]) -> None:
    with _server(_ctx(certs["api.example.test"])) as port:
        out = subprocess.run([sys.executable, "-m", "tlskit", "probe-sni", f"127.0.0.1:{port}",
                              "--name", "api.example.test", "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["verdicts"] == ["ignores_sni"]
    assert [a["server_name"] for a in data["attempts"]] == [None, "api.example.test", "tlskit-sni-probe.invalid"]
