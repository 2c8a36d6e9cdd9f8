"""load_jsse_log on real Java 17 debug logs, made here by a JSSE client against openssl s_server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import requires_java
from tlskit.errors import CaptureError
from tlskit.jsse import load_jsse_log

CLIENT = """
import javax.net.ssl.*;
import java.util.List;
public class Client {
  public static void main(String[] a) throws Exception {
    SSLSocketFactory f = (SSLSocketFactory) SSLSocketFactory.getDefault();
    try (SSLSocket s = (SSLSocket) f.createSocket("127.0.0.1", Integer.parseInt(a[0]))) {
      if (a.length > 1) {
        SSLParameters p = s.getSSLParameters();
        p.setServerNames(List.of(new SNIHostName(a[1])));
        s.setSSLParameters(p);
      }
      s.startHandshake();
      System.out.println("OK " + s.getSession().getProtocol());
    } catch (Exception e) { System.out.println("ERR " + e); }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("jsse")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(tmp / "k.pem"), "-out", str(tmp / "c.pem"), "-days", "30",
                    "-subj", "/CN=backend.example.test", "-addext", "subjectAltName=DNS:backend.example.test"],
                   check=True, capture_output=True)
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "backend", "-file", str(tmp / "c.pem"),
                    "-keystore", str(tmp / "trust.p12"), "-storetype", "PKCS12", "-storepass", "changeit"],
                   check=True, capture_output=True)
    (tmp / "Client.java").write_text(CLIENT)
    return tmp


def _java_log(pki: Path, name: str, server_args: list[str], *, trust: bool, sni: str | None = None) -> Path:
    port = _free_port()
    server = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-naccept", "2", "-quiet",
                               "-cert", str(pki / "c.pem"), "-key", str(pki / "k.pem"), *server_args],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        props = ["-Djavax.net.debug=ssl:handshake"]
        if trust:
            props += [f"-Djavax.net.ssl.trustStore={pki / 'trust.p12'}", "-Djavax.net.ssl.trustStorePassword=changeit"]
        out = subprocess.run(["java", *props, str(pki / "Client.java"), str(port), *([sni] if sni else [])],
                             capture_output=True, text=True, timeout=120)
    finally:
        server.kill()
        server.wait(5)
    log = pki / f"{name}.log"
    log.write_text(out.stdout + out.stderr)
    return log


@requires_java
def test_success_tls13(pki: Path) -> None:
    cap = load_jsse_log(_java_log(pki, "ok", [], trust=True, sni="backend.example.test"))
    conn = cap.connections.iloc[0]
    assert len(cap.connections) == 1 and bool(conn["established"])
    assert conn["version_name"] == "TLSv1.3" and conn["version"] == 0x0304
    assert conn["cipher_suite"] == 0x1302
    assert conn["sni"] == "backend.example.test"
    assert 0x1301 in conn["offered_ciphers"] and conn["client_versions"] == [0x0304, 0x0303]
    leaf = cap.certificates.iloc[0]
    assert leaf["subject"] == "CN=backend.example.test" and leaf["side"] == "server"
    assert leaf["not_after"] - leaf["not_before"] == pd.Timedelta(days=30)
    assert list(cap.messages["handshake_type_name"].dropna())[:2] == ["client_hello", "server_hello"]
    assert cap.messages["direction"].iloc[0] == "c2s"


@requires_java
def test_untrusted_server_certificate_is_certificate_unknown_from_java(pki: Path) -> None:
    cap = load_jsse_log(_java_log(pki, "untrusted", [], trust=False))
    conn = cap.connections.iloc[0]
    assert not conn["established"]
    assert conn["alert_name"] == "certificate_unknown" and conn["alert_from"] == "client"
    assert pd.isna(conn["sni"])  # connecting to an IP: JSSE sends no server_name
    assert any("PKIX path building failed" in n for n in conn["notes"])
    assert cap.certificates.iloc[0]["subject_cn"] == "backend.example.test"


@requires_java
def test_cipher_mismatch_is_received_handshake_failure(pki: Path) -> None:
    cap = load_jsse_log(_java_log(pki, "cipher", ["-tls1_2", "-cipher", "AES128-SHA"], trust=True))
    conn = cap.connections.iloc[0]
    assert conn["alert_name"] == "handshake_failure" and conn["alert_from"] == "server"
    assert pd.isna(conn["cipher_suite"])
    alerts = cap.messages[cap.messages["content_type"] == 21]
    assert list(alerts["direction"]) == ["s2c"] and list(alerts["alert_level_name"]) == ["fatal"]


def test_not_a_jsse_log(tmp_path: Path) -> None:
    bad = tmp_path / "app.log"
    bad.write_text("INFO starting\nERROR something else\n")
    with pytest.raises(CaptureError, match=r"no javax\.net\.ssl debug entries") as err:
        load_jsse_log(bad)
    assert "-Djavax.net.debug=ssl:handshake" in str(err.value)
    with pytest.raises(CaptureError, match="no such file"):
        load_jsse_log(tmp_path / "missing.log")


if shutil.which("openssl") is None:  # pragma: no cover
    pytestmark = pytest.mark.skip(reason="needs the openssl CLI")
