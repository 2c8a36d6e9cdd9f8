"""tlskit.load / Capture with the native engine: real conformance captures and bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import tlskit
from tests.conftest import CONFORMANCE
from tests.unit._native_pcap import Flow, tls12_handshake, tls_flow, write_pcap
from tlskit.capture import Capture, load, load_many
from tlskit.errors import CaptureError, CaptureWarning, KeylogError
from tlskit.schema import CERTIFICATES, CONNECTIONS, MESSAGES

ZEEK = CONFORMANCE / "zeek" / "traces"
WS = CONFORMANCE / "fingerprints" / "wireshark"
needs_conformance = pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="conformance captures not present")


@needs_conformance
def test_load_tls12_capture() -> None:
    cap = load(ZEEK / "tls1.2.pcap")
    assert isinstance(cap, Capture) and cap.engine == "native" and cap.warnings == []
    assert list(cap.connections.columns) == CONNECTIONS.names
    row = cap.connections.iloc[0]
    assert (row.client_ip, row.client_port, row.server_ip, row.server_port) == ("10.0.0.80", 56637, "68.233.76.12", 443)
    assert row.version_name == "TLSv1.2" and row.cipher_suite_name == "TLS_RSA_WITH_RC4_128_MD5"
    assert row.established and not row.resumed and pd.isna(row.last_alert)
    assert list(cap.certificates["position"]) == [0, 1, 2]
    # Zeek's x509.log lists this chain by SHA-256: the leaf first
    assert cap.certificates.iloc[0].sha256 == "95cb443934beda97627688546191ab1d3989a835592cebdd2434f9ad41324ce1"
    conn = cap.connection(0)
    assert conn.messages["handshake_type_name"].iloc[0] == "client_hello" and len(conn.certificates) == 3
    with pytest.raises(KeyError, match="no connection 7"):
        cap.connection(7)


@needs_conformance
def test_tls13_certificate_visible_only_with_the_key_log() -> None:
    pcap, keys = WS / "tls13-rfc8446.pcap", WS / "keys" / "tls13-rfc8446.keys"
    plain = load(pcap)
    assert not plain.connections["server_certificate_visible"].any()
    assert plain.certificates.empty and not plain.connections["decrypted"].any()
    assert plain.connections["certificate_requested"].isna().all()  # hidden, not guessed
    cap = load(pcap, keylog=keys)
    assert cap.keylog == keys
    row = cap.connections.iloc[0]
    assert row.decrypted and row.server_certificate_visible and row.established
    assert list(cap.certificates["side"]) == ["server"]
    decrypted = cap.messages[cap.messages["decrypted"]]
    assert {"encrypted_extensions", "certificate", "certificate_verify", "finished"} <= set(decrypted["handshake_type_name"])


@needs_conformance
def test_pcapng_decryption_secrets_block(tmp_path: Path) -> None:
    if shutil.which("editcap") is None:
        pytest.skip("editcap not installed")
    out = tmp_path / "dsb.pcapng"
    subprocess.run(["editcap", "--inject-secrets", f"tls,{WS / 'keys' / 'tls13-rfc8446.keys'}",
                    str(WS / "tls13-rfc8446.pcap"), str(out)], check=True, capture_output=True)
    cap = load(out)  # no keylog=: the secrets travel inside the capture
    assert cap.connections.iloc[0].server_certificate_visible
    assert cap.keylog is None


@needs_conformance
def test_ja4_and_sni_match_foxio_for_every_tcp_flow() -> None:
    expected = json.loads((CONFORMANCE / "fingerprints" / "expected.json").read_text())
    checked = 0
    for name, info in expected.items():
        flows = {k: v for k, v in (info["expected"].get("summary_by_flow") or {}).items() if v.get("transport") == "tcp"}
        if not flows:
            continue
        conns = load(CONFORMANCE / "fingerprints" / name).connections
        for flow, want in flows.items():
            sport, dport = (int(side.rsplit(":", 1)[1]) for side in flow.split("->"))
            row = conns[(conns.client_port == sport) & (conns.server_port == dport)]
            assert len(row) == 1, (name, flow)
            assert row.iloc[0].ja4 == (want.get("ja4_rust") or want["ja4_python"][0]), (name, flow)
            sni = want.get("sni_rust", want.get("sni_python"))
            assert (None if pd.isna(row.iloc[0].sni) else row.iloc[0].sni) == sni, (name, flow)
            checked += 1
    assert checked > 100


def test_no_tls_warns_with_the_file_name(tmp_path: Path) -> None:
    flow = Flow(server=("10.0.0.2", 80)).handshake()
    flow.send("c", b"GET / HTTP/1.0\r\n\r\n").close()
    path = write_pcap(tmp_path / "http.pcap", flow.packets)
    with pytest.warns(CaptureWarning, match="no TLS connection found"):
        cap = load(path)
    assert cap.connections.empty and str(path) in cap.warnings[0]
    assert list(cap.messages.columns) == MESSAGES.names and list(cap.certificates.columns) == CERTIFICATES.names


def test_truncated_capture_gives_partial_results(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "cut.pcap", tls_flow(tls12_handshake()).packets)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.warns(CaptureWarning, match="incomplete last packet"):
        cap = load(path)
    assert len(cap.connections) == 1 and cap.connections.iloc[0].established
    assert any("incomplete last packet" in w for w in cap.warnings)


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "text"])
def test_bad_capture_input(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x.pcap"
    if kind == "directory":
        path = tmp_path
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a capture\n")
    with pytest.raises(CaptureError) as err:
        tlskit.load(path)
    assert str(path) in str(err.value) and "Fix:" in str(err.value)


def test_bad_keylog(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "ok.pcap", tls_flow(tls12_handshake()).packets)
    with pytest.raises(KeylogError):
        load(path, keylog=tmp_path / "missing.keys")
    junk = tmp_path / "junk.keys"
    junk.write_text("hello\nCLIENT_RANDOM " + "11" * 32 + " " + "22" * 48 + "\n")
    with pytest.warns(CaptureWarning, match="junk.keys"):
        cap = load(path, keylog=junk)
    assert len(cap.connections) == 1


def test_unknown_engine(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "ok.pcap", tls_flow(tls12_handshake()).packets)
    with pytest.raises(ValueError, match="engine must be one of"):
        load(path, engine="wireshark")


def test_repr_html_parquet_and_progress(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "ok.pcap", tls_flow(tls12_handshake()).packets)
    cap = load(path, progress=True)
    html = cap._repr_html_()
    assert "ok.pcap" in html and "1 TLS connection(s), 1 established" in html
    assert "connections=1" in repr(cap)
    out = cap.to_parquet(tmp_path / "pq")
    back = pd.read_parquet(out / "connections.parquet")
    assert list(back["sni"]) == ["example.com"]
    assert len(pd.read_parquet(out / "messages.parquet")) == len(cap.messages)
    assert not list(out.glob(".*tmp"))


def test_load_many_concatenates_with_a_capture_column(tmp_path: Path) -> None:
    write_pcap(tmp_path / "a.pcap", tls_flow(tls12_handshake(sni="a.example")).packets)
    write_pcap(tmp_path / "b.pcap", tls_flow(tls12_handshake(sni="b.example")).packets)
    many = tlskit.load_many(str(tmp_path / "*.pcap"), workers=2, progress=False)
    assert list(many.connections["capture"].astype(str)) == ["a.pcap", "b.pcap"]
    assert list(many.connections["sni"]) == ["a.example", "b.example"]
    with pytest.raises(CaptureError, match="no file matches"):
        load_many(str(tmp_path / "*.pcapng"))


LAB_CASES = ["ok_tls13", "ok_hrr_tls13", "ok_resumption_tls12", "mtls_missing_tls13", "unknown_ca_tls13",
             "protocol_old_server", "tcp_reset_after_client_hello"]


@pytest.fixture(scope="module")
def lab_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few lab scenarios (real OpenSSL handshakes written by tlskit.lab)."""
    from tlskit import lab

    out = tmp_path_factory.mktemp("lab")
    lab.build(out, scenarios=LAB_CASES)
    return out


@pytest.mark.parametrize("name", LAB_CASES)
@pytest.mark.parametrize("with_keys", [True, False])
def test_lab_answers(lab_small: Path, name: str, with_keys: bool) -> None:
    answer = json.loads((lab_small / name / "answer.json").read_text())
    keys = lab_small / name / "keys.log"
    cap = load(lab_small / name / "capture.pcap", keylog=keys if with_keys and keys.exists() else None)
    assert len(cap.connections) == answer["connections"]
    row = cap.connections.iloc[0]
    assert bool(row.established) == answer["established"]
    assert bool(row.hello_retry_request) == bool(answer["hello_retry_request"])
    if answer.get("resumed_connection") is not None:
        assert cap.connections.iloc[-1].resumed
    alert = answer["alert"]
    if alert and (with_keys or not alert.get("encrypted")):
        assert alert["name"] in (row.alert_name, row.last_alert_name)
        assert row.alert_from == alert["from"]
    elif alert and not answer["established"]:
        assert pd.isna(row.alert)  # encrypted: never guessed
        assert row.encrypted_alert_from == alert["from"]
    if answer["established"]:
        assert row.version_name == answer["tls_version"]


def test_junk_key_log_lines_are_reported_once(tmp_path: Path) -> None:
    # load() checks the key log and the native engine reads it again: one warning, not two.
    import warnings

    import tlskit
    from tests.conftest import DATA

    keys = tmp_path / "keys.log"
    keys.write_text("junk line\n" + (DATA / "sample" / "keys.log").read_text())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cap = tlskit.load(DATA / "sample" / "capture.pcap", keylog=keys)
    junk = [w for w in caught if "malformed key log line" in str(w.message)]
    assert len(junk) == 1
    assert cap.connections["decrypted"].fillna(False).any()
