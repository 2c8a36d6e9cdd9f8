"""One case per rule: hand-built connection rows (tlskit.schema) that should be decided by it.

Each case models what a real stack puts on the wire for that failure (who alerts, with which
alert, what the chain looks like), so a rule that fires for the wrong facts, or a rule shadowed
by an earlier one, shows up here. Cases are hand-built rows, not captures; the golden tests
check the same rules on real captures.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from builders import T0, alert_message, capture, certificate, connection, hello_flight, message

import tlskit
from tlskit.diagnose import RULES

TLS12, TLS13 = 0x0303, 0x0304
OK12 = {"version": TLS12, "cipher_suite": 0xC02F}
CA = "CN=Example Issuing CA,O=Example"
ROOT = "CN=Example Root CA,O=Example"


def refused(alert: int, *, conn_id: int = 0, **kw: Any) -> tuple[list, list]:
    """The server answers the ClientHello with a fatal alert and no ServerHello."""
    conn = connection(conn_id, alert=alert, alert_from="server", alert_frame=6 + 10 * conn_id, **kw)
    msgs = [*hello_flight(conn_id, server_hello=False, start=4 + 10 * conn_id),
            alert_message(conn_id, 1, 6 + 10 * conn_id, "s2c", alert)]
    return [conn], msgs


def rejected_by_client(alert: int, certs: list[dict[str, Any]], **kw: Any) -> Any:
    """TLS 1.2: the server sends its chain, the client answers with a fatal alert."""
    conn = connection(0, alert=alert, alert_from="client", alert_frame=8, tcp_end_by="client", **{**OK12, **kw})
    msgs = [*hello_flight(0), alert_message(0, 3, 8, "c2s", alert)]
    return capture([conn], msgs, certs)


def leaf(**kw: Any) -> dict[str, Any]:
    return certificate(0, 0, **kw)


def intermediate(**kw: Any) -> dict[str, Any]:
    base = {"subject": CA, "issuer": ROOT, "subject_cn": "Example Issuing CA", "san_dns": [], "is_ca": True}
    return certificate(0, 1, **{**base, **kw})


def config(**kw: Any) -> SimpleNamespace:
    """A loaded ServerConfig's attributes (tlskit.ciphers.ServerConfig)."""
    base = {"versions": frozenset({TLS12, TLS13}), "cipher_suites": [0xC02F, 0xC030], "tls13_suites": [0x1301],
            "sni_required": None, "server_names": [], "source": "nginx.conf"}
    return SimpleNamespace(**{**base, **kw})


def truststore(*subjects: str) -> pd.DataFrame:
    """Truststore entries as rows (what tlskit.certs.Truststore lists: subject, sha256)."""
    return pd.DataFrame({"subject": list(subjects), "sha256": [f"{i:064x}" for i in range(len(subjects))]})


def peers_then(conn: dict[str, Any], msgs: list, peer: dict[str, Any]) -> Any:
    """An established connection from another client to the same server, then ``conn``."""
    peer_msgs = hello_flight(peer["conn_id"], start=4 + 10 * peer["conn_id"])
    return capture([peer, conn], peer_msgs + msgs)


def case_ok() -> Any:
    return capture([connection(0, established=True, version=TLS13, cipher_suite=0x1301)], hello_flight(0))


def case_protocol_server_alert() -> Any:
    return capture(*refused(70))


def case_protocol_client_alert() -> Any:
    conn = connection(0, version=0x0301, cipher_suite=0xC02F, alert=70, alert_from="client", alert_frame=7)
    return capture([conn], [*hello_flight(0, certificate=False), alert_message(0, 2, 7, "c2s", 70)])


def case_protocol_config() -> Any:
    return capture(*refused(40))


def case_sni_alert_missing() -> Any:
    return capture(*refused(112, sni=None))


def case_sni_alert_unrecognized() -> Any:
    return capture(*refused(112))


def case_sni_warning_java() -> Any:
    # OpenSSL s_server warns unrecognized_name and goes on; a Java client treats it as fatal.
    conn = connection(0, **OK12, alert=40, alert_from="client", alert_frame=8, tcp_end_by="client")
    warning = message(0, 1, 5, "s2c", content_type=21, alert_level=1, alert_description=112)
    msgs = [hello_flight(0)[0], warning, *hello_flight(0)[1:], alert_message(0, 4, 8, "c2s", 40)]
    return capture([conn], msgs, [leaf(), intermediate()])


def case_sni_no_sni() -> Any:
    return capture(*refused(40, sni=None))


def case_sni_peer() -> Any:
    conns, msgs = refused(40, conn_id=1, sni=None)
    peer = connection(0, established=True, client_ip="10.0.0.9", **OK12)
    return peers_then(conns[0], msgs, peer)


def case_cipher_peer() -> Any:
    conns, msgs = refused(40, conn_id=1)
    peer = connection(0, established=True, client_ip="10.0.0.9", version=TLS12, cipher_suite=0x009C,
                      offered_ciphers=[0x009C])
    return peers_then(conns[0], msgs, peer)


def case_cipher_weak() -> Any:
    return capture(*refused(40, sni=None, offered_ciphers=[0x0001, 0x0002, 0x003B, 0x00FF]))


def case_cipher_sni_sent() -> Any:
    return capture(*refused(40))


def case_old_client() -> Any:
    return capture(*refused(40, sni=None, client_versions=[], client_legacy_version=0x0301,
                            client_max_version=0x0301, offered_ciphers=[0x009C]))


def case_refused_no_sni_legacy_suites() -> Any:
    return capture(*refused(40, sni=None, offered_ciphers=[0x009C], client_versions=[], client_max_version=TLS12))


def case_cert_expired_java() -> Any:
    # Java sends certificate_unknown for every certificate failure: the dates decide.
    return rejected_by_client(46, [leaf(not_after=pd.Timestamp("2024-02-01", tz="UTC")), intermediate()])


def case_cert_not_yet_valid() -> Any:
    return rejected_by_client(42, [leaf(not_before=pd.Timestamp("2024-06-01", tz="UTC")), intermediate()])


def case_cert_name() -> Any:
    return rejected_by_client(46, [leaf(san_dns=["www.other.example"], subject_cn="www.other.example"), intermediate()])


def case_cert_name_valid_then_expired_now() -> Any:
    # Valid at the capture's time (2024-03), long expired today: judged at the capture's time.
    return rejected_by_client(46, [leaf(san_dns=["*.other.example"]), intermediate()])


def case_cert_self_signed() -> Any:
    return rejected_by_client(48, [leaf(issuer="CN=api.example.com", self_signed=True)])


def case_cert_private_root() -> Any:
    # A private CA's chain sent whole, root included: the client lacks that root.
    root = certificate(0, 2, subject=ROOT, issuer=ROOT, subject_cn="Example Root CA", san_dns=[], is_ca=True, self_signed=True)
    return rejected_by_client(48, [leaf(), intermediate(), root])


def case_cert_incomplete_java() -> Any:
    return rejected_by_client(46, [leaf()])


def case_cert_cn_only() -> Any:
    return rejected_by_client(42, [leaf(san_dns=[]), intermediate()])


def case_cert_root_unknown() -> Any:
    return rejected_by_client(48, [leaf(), intermediate()])


def case_cert_trusted_but_rejected() -> Any:
    return rejected_by_client(46, [leaf(), intermediate()])


def tls13_hidden(alert: int | None, side: str | None, *, client_flight: bool = False, **kw: Any) -> Any:
    conn = connection(0, version=TLS13, cipher_suite=0x1301, alert=alert, alert_from=side,
                      alert_frame=8 if alert is not None else None, **kw)
    msgs = [*hello_flight(0, certificate=False),
            message(0, 2, 6, "s2c", content_type=23, encrypted=True, length=1046),
            message(0, 3, 6, "s2c", content_type=23, encrypted=True, length=69)]
    if client_flight:  # CCS, then Certificate ... Finished in one encrypted record
        msgs += [message(0, 4, 7, "c2s", content_type=20), message(0, 5, 7, "c2s", content_type=23, encrypted=True, length=570)]
    if alert is not None:
        msgs.append(alert_message(0, 6, 8, "c2s" if side == "client" else "s2c", alert))
    return capture([conn], msgs)


def case_tls13_alert_expired() -> Any:
    return tls13_hidden(45, "client", tcp_end_by="client")


def case_tls13_alert_unknown_ca() -> Any:
    return tls13_hidden(48, "client", tcp_end_by="client")


def case_tls13_server_aborted() -> Any:
    return tls13_hidden(None, None, client_flight=True, encrypted_alert_from="server", tcp_end="rst",
                        tcp_end_by="server")


def case_tls13_client_aborted() -> Any:
    return tls13_hidden(None, None, encrypted_alert_from="client", tcp_end_by="client")


def case_tls13_hidden_no_alert() -> Any:
    return tls13_hidden(None, None, tcp_end_by="client")


def mtls(alert: int, client_certs: list[dict[str, Any]], sent: bool) -> Any:
    conn = connection(0, **OK12, certificate_requested=True, client_certificate_sent=sent,
                      alert=alert, alert_from="server", alert_frame=9)
    msgs = [*hello_flight(0), message(0, 3, 6, "s2c", content_type=22, handshake_type=13),
            message(0, 4, 8, "c2s", content_type=22, handshake_type=11), alert_message(0, 5, 9, "s2c", alert)]
    return capture([conn], msgs, [leaf(), intermediate(), *client_certs])


def client_leaf(**kw: Any) -> dict[str, Any]:
    base = {"subject": "CN=client-app", "subject_cn": "client-app", "san_dns": [], "frame": 8}
    return certificate(0, 0, side="client", **{**base, **kw})


def case_client_cert_missing() -> Any:
    return mtls(40, [], sent=False)


def case_client_cert_required() -> Any:
    cap = tls13_hidden(116, "server", decrypted=True, server_certificate_visible=True, established=True)
    return cap


def case_client_cert_expired() -> Any:
    return mtls(45, [client_leaf(not_after=pd.Timestamp("2024-02-01", tz="UTC"))], sent=True)


def case_client_cert_rejected() -> Any:
    return mtls(48, [client_leaf()], sent=True)


def case_close_notify() -> Any:
    conn = connection(0, tcp_end="fin", tcp_end_by="server")
    return capture([conn], [*hello_flight(0, server_hello=False), alert_message(0, 1, 6, "s2c", 0)])


def case_closed_silently() -> Any:
    return capture([connection(0, tcp_end="fin", tcp_end_by="server")], hello_flight(0, server_hello=False))


def case_reset_unknown_side() -> Any:
    return capture([connection(0, tcp_end="rst", tcp_end_by=None)], hello_flight(0, server_hello=False))


def case_old_client_refused() -> Any:
    return capture(*refused(70, client_versions=[], client_legacy_version=0x0301, client_max_version=0x0301))


def case_reset() -> Any:
    return capture([connection(0, tcp_end="rst", tcp_end_by="server")], hello_flight(0, server_hello=False))


def case_partial_start() -> Any:
    conn = connection(0, partial=True, client_hello_time=None, sni=None, client_versions=[], offered_ciphers=[],
                      client_max_version=None, **OK12)
    return capture([conn], [message(0, 0, 2, "s2c", content_type=22, handshake_type=2)])


def case_partial_cut() -> Any:
    return capture([connection(0, partial=True, tcp_end="open")], hello_flight(0, server_hello=False))


def case_capture_ended() -> Any:
    return capture([connection(0, tcp_end="open", tcp_end_by=None)], hello_flight(0, server_hello=False))


def case_alert_other() -> Any:
    conn = connection(0, **OK12, alert=80, alert_from="server", alert_frame=7)
    return capture([conn], [*hello_flight(0), alert_message(0, 3, 7, "s2c", 80)])


def case_fallback() -> Any:
    return capture([connection(0, **OK12, tcp_end_by="client")], hello_flight(0, certificate=False))


CASES: list[tuple[str, Any, dict[str, Any], str, str]] = [
    # (id, case, diagnose kwargs, expected rule, expected cause)
    ("ok", case_ok, {}, "ok", "ok"),
    ("protocol_alert", case_protocol_server_alert, {}, "protocol.server_alert", "protocol_mismatch"),
    ("protocol_old_client_alert", case_old_client_refused, {}, "protocol.old_client_alert", "protocol_mismatch"),
    ("protocol_client", case_protocol_client_alert, {}, "protocol.client_alert", "protocol_mismatch"),
    ("protocol_config", case_protocol_config, {"server_config": config(versions=frozenset({0x0301}))},
     "protocol.config", "protocol_mismatch"),
    ("sni_alert_missing", case_sni_alert_missing, {}, "sni.alert_missing", "sni_missing"),
    ("sni_alert_name", case_sni_alert_unrecognized, {}, "sni.alert_unrecognized", "sni_unrecognized"),
    ("sni_warning", case_sni_warning_java, {}, "sni.warning_unrecognized", "sni_unrecognized"),
    ("sni_config", case_sni_no_sni, {"server_config": config(sni_required=True)}, "sni.config_required", "sni_missing"),
    ("sni_unlisted", case_cipher_sni_sent, {"server_config": config(server_names=["www.example.com"])},
     "sni.config_unlisted", "sni_unrecognized"),
    ("sni_peer", case_sni_peer, {}, "sni.peer", "sni_missing"),
    ("cipher_config", case_cipher_sni_sent, {"server_config": config(cipher_suites=[0x0035], tls13_suites=[])},
     "cipher.config", "cipher_mismatch"),
    ("cipher_config_nosni", case_sni_no_sni, {"server_config": config(cipher_suites=[0x0035], tls13_suites=[])},
     "cipher.config", "cipher_mismatch"),
    ("cipher_weak", case_cipher_weak, {}, "cipher.weak_offer", "cipher_mismatch"),
    ("cipher_peer", case_cipher_peer, {}, "cipher.peer", "cipher_mismatch"),
    ("sni_config_ciphers", case_sni_no_sni, {"server_config": config()}, "sni.config_ciphers_fine", "sni_missing"),
    ("cipher_groups", case_cipher_sni_sent, {"server_config": config()}, "cipher.groups", "cipher_mismatch"),
    ("sni_modern", case_sni_no_sni, {}, "sni.modern_offer", "sni_missing"),
    ("old_client", case_old_client, {}, "protocol.old_client", "protocol_mismatch"),
    ("cipher_sni_sent", case_cipher_sni_sent, {}, "cipher.sni_sent", "cipher_mismatch"),
    ("refused_no_sni", case_refused_no_sni_legacy_suites, {}, "refused.no_sni", "undetermined"),
    ("cert_expired", case_cert_expired_java, {}, "cert.expired", "expired_certificate"),
    ("cert_not_yet_valid", case_cert_not_yet_valid, {}, "cert.expired", "expired_certificate"),
    ("cert_name", case_cert_name, {}, "cert.name", "hostname_mismatch"),
    ("cert_name_at_capture_time", case_cert_name_valid_then_expired_now, {}, "cert.name", "hostname_mismatch"),
    ("cert_self_signed_leaf", case_cert_self_signed, {}, "cert.self_signed_leaf", "unknown_ca"),
    ("cert_private_root", case_cert_private_root, {}, "cert.self_signed", "unknown_ca"),
    ("cert_incomplete", case_cert_incomplete_java, {}, "cert.incomplete", "incomplete_chain"),
    ("cert_untrusted_issuer", case_cert_root_unknown, {"truststore": truststore("CN=Other Root")},
     "cert.untrusted_issuer", "unknown_ca"),
    ("cert_cn_only", case_cert_cn_only, {}, "cert.cn_only", "hostname_mismatch"),
    ("cert_root_unknown", case_cert_root_unknown, {}, "cert.root_unknown", "unknown_ca"),
    ("cert_unexplained", case_cert_trusted_but_rejected, {"truststore": truststore(ROOT)},
     "cert.unexplained", "undetermined"),
    ("tls13_alert_expired", case_tls13_alert_expired, {}, "cert.alert_expired", "expired_certificate"),
    ("tls13_alert_unknown_ca", case_tls13_alert_unknown_ca, {}, "cert.hidden", "undetermined"),
    ("client_cert_missing", case_client_cert_missing, {}, "client_cert.missing", "client_certificate"),
    ("client_cert_required", case_client_cert_required, {}, "client_cert.required", "client_certificate"),
    ("client_cert_expired", case_client_cert_expired, {}, "client_cert.expired", "client_certificate"),
    ("client_cert_rejected", case_client_cert_rejected, {}, "client_cert.rejected", "client_certificate"),
    ("tls13_server_aborted", case_tls13_server_aborted, {}, "tls13.server_aborted", "client_certificate"),
    ("tls13_client_aborted", case_tls13_client_aborted, {}, "tls13.client_aborted", "undetermined"),
    ("close_notify", case_close_notify, {}, "protocol.close_notify", "protocol_mismatch"),
    ("closed_silently", case_closed_silently, {}, "closed.after_hello", "undetermined"),
    ("reset_by_server", case_reset, {}, "reset.by_server", "connection_reset"),
    ("reset", case_reset_unknown_side, {}, "reset.during_handshake", "connection_reset"),
    ("partial_start", case_partial_start, {}, "partial.start", "undetermined"),
    ("partial_cut", case_partial_cut, {}, "partial.cut", "undetermined"),
    ("capture_ended", case_capture_ended, {}, "capture_ended", "undetermined"),
    ("tls13_hidden", case_tls13_hidden_no_alert, {}, "tls13.hidden", "undetermined"),
    ("alert_other", case_alert_other, {}, "alert.other", "undetermined"),
    ("fallback", case_fallback, {}, "fallback", "undetermined"),
]


@pytest.mark.parametrize(("case", "kwargs", "rule", "cause"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_decides_its_case(case: Any, kwargs: dict[str, Any], rule: str, cause: str) -> None:
    out = tlskit.diagnose(case(), **kwargs)
    row = out.iloc[0]  # failures first: the connection under test
    assert (row["rule"], row["cause"]) == (rule, cause)
    assert row["summary"] and "?" not in row["summary"].replace("?)", "")
    assert row["evidence"], "every decision quotes evidence"


def test_every_rule_has_a_case() -> None:
    covered = {c[3] for c in CASES}
    assert {r.id for r in RULES} - covered == set()


def test_evidence_names_frames_and_certificates() -> None:
    row = tlskit.diagnose(case_cert_incomplete_java()).iloc[0]
    text = " ".join(row["evidence"])
    assert "Frame 4: ClientHello" in text and "Frame 8: the client sent the fatal alert certificate_unknown" in text
    assert CA in row["summary"]  # the missing intermediate, by name


def test_expiry_evidence_quotes_dates_and_capture_time() -> None:
    row = tlskit.diagnose(case_cert_expired_java()).iloc[0]
    assert "2024-02-01 00:00:00 UTC" in " ".join(row["evidence"])
    assert "2024-03-01 12:00:00 UTC" in row["summary"]  # the capture's time, not today's
    assert row["fault"] == "server"


def test_hidden_tls13_says_what_would_settle_it() -> None:
    row = tlskit.diagnose(case_tls13_alert_unknown_ca()).iloc[0]
    assert "--keylog" in " ".join(row["evidence"])
    assert "SSLKEYLOGFILE" in row["remediation"]


def test_sni_remedy_uses_the_guide_terms() -> None:
    row = tlskit.diagnose(case_sni_peer()).iloc[0]
    assert "jsse.enableSNIExtension=true" in row["remediation"]
    assert "Connections 0 to the same server sent SNI (api.example.com)" in " ".join(row["evidence"])


def test_hostname_argument_is_used_without_sni() -> None:
    cap = rejected_by_client(46, [leaf(san_dns=["www.other.example"]), intermediate()], sni=None)
    row = tlskit.diagnose(cap, hostname="api.example.com").iloc[0]
    assert row["rule"] == "cert.name"
    assert "given as --hostname" in " ".join(row["evidence"])


def test_capture_time_is_the_certificate_frame_time() -> None:
    # The same certificate seen one year later is expired: the frame time is what counts.
    later = T0 + pd.Timedelta(days=400)
    certs = [leaf(time=later), intermediate(time=later)]
    row = tlskit.diagnose(rejected_by_client(46, certs)).iloc[0]
    assert row["cause"] == "expired_certificate"


def test_tls13_client_record_too_short_for_finished_is_not_established() -> None:
    # A Java client's encrypted alert is 35 bytes: a loader guessing "Finished" from its size
    # reports established; no Finished fits in fewer than 53 bytes and no data followed.
    conn = connection(0, version=TLS13, cipher_suite=0x1301, established=True, tcp_end_by="server")
    msgs = [*hello_flight(0, certificate=False),
            message(0, 2, 6, "s2c", content_type=23, encrypted=True, length=1046),
            message(0, 3, 7, "c2s", content_type=20), message(0, 4, 7, "c2s", content_type=23, encrypted=True, length=35)]
    row = tlskit.diagnose(capture([conn], msgs)).iloc[0]
    assert (row["rule"], row["established"]) == ("tls13.client_aborted", False)
    assert "at most 35 bytes" in " ".join(row["evidence"])


def test_tls13_hidden_chain_borrowed_from_another_connection_to_the_same_name() -> None:
    # conn 0 (TLS 1.2) shows the server's chain for api.example.com; conn 1 (TLS 1.3, no keys)
    # hides it, and its client rejects the certificate with an alert sent in clear.
    wrong_name = [leaf(san_dns=["www.other.example"]), intermediate()]
    conn0 = connection(0, **OK12, alert=46, alert_from="client", alert_frame=8, tcp_end_by="client")
    conn1 = connection(1, client_port=50001, version=TLS13, cipher_suite=0x1301, alert=42, alert_from="client",
                       alert_frame=18, tcp_end_by="client")
    msgs = [*hello_flight(0), alert_message(0, 3, 8, "c2s", 46),
            *hello_flight(1, certificate=False, start=14),
            message(1, 2, 16, "s2c", content_type=23, encrypted=True, length=1046),
            alert_message(1, 3, 18, "c2s", 42)]
    out = tlskit.diagnose(capture([conn0, conn1], msgs, wrong_name)).set_index("conn_id")
    assert (out.loc[1, "rule"], out.loc[0, "rule"]) == ("cert.name", "cert.name")
    assert out.loc[1, "confidence"] == pytest.approx(0.9 * 0.7) and out.loc[0, "confidence"] == 0.9
    assert "connection 0 to the same server and name showed the chain" in " ".join(out.loc[1, "evidence"])
