"""ladder(): one connection as a sequence diagram; checked on the drawn artists."""

from __future__ import annotations

import frames as F
import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex

from tlskit.errors import TlskitError
from tlskit.plot import ladder
from tlskit.plot._common import ALERT_RED, CAUSE_COLORS
from tlskit.plot.ladder import HRR_ORANGE


def _labels(ax, kind=None):
    return [t for t in ax.texts if (t.get_gid() or "").startswith(f"label:{kind or ''}")]


def _arrows(ax, kind=None):
    return [p for p in ax.patches if (p.get_gid() or "").startswith(f"arrow:{kind or ''}")]


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_tls12_success_draws_every_message_and_tcp_packet():
    cap = F.capture(F.tls12_ok())
    ax = ladder(cap, 0)
    # SYN + SYN-ACK + 11 TLS messages + FIN, each one arrow
    assert len(_arrows(ax)) == 2 + len(cap.messages) + 1
    texts = _texts(ax)
    assert "ClientHello TLS1.3, SNI api.example.com, 17 suites" in texts
    assert "ServerHello TLS1.2 ECDHE-RSA-AES128-GCM" in texts
    assert texts.count("ChangeCipherSpec") == 2
    assert "TCP FIN from client" in texts
    assert any(t.startswith("handshake complete (TLS1.2") for t in texts)
    assert ax.get_title(loc="left") == "conn 0: handshake completed (TLS1.2)"
    assert "handshake 6.0 ms" in ax.get_xlabel()


def test_rows_follow_capture_time_and_ticks_show_offsets():
    ax = ladder(F.capture(F.tls12_ok()), 0)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks[:3] == ["+0 ms", "+400 µs", "+1.0 ms"]
    assert ticks[-1] == "+60.0 ms"  # the FIN, last
    ys = [p._posA_posB[0][1] for p in _arrows(ax)]
    assert ys == sorted(ys)


def test_arrows_point_from_the_sender():
    ax = ladder(F.capture(F.tls12_ok()), 0)
    by_label = {t.get_text(): t.get_position()[1] for t in _labels(ax)}
    arrows = {round(p._posA_posB[0][1] - 0.1, 3): p for p in _arrows(ax)}  # labels sit 0.1 above
    ch = arrows[round(by_label["ClientHello TLS1.3, SNI api.example.com, 17 suites"], 3)]
    sh = arrows[round(by_label["ServerHello TLS1.2 ECDHE-RSA-AES128-GCM"], 3)]
    assert ch._posA_posB[0][0] == 0.0 and ch._posA_posB[1][0] == 1.0  # client -> server
    assert sh._posA_posB[0][0] == 1.0 and sh._posA_posB[1][0] == 0.0  # server -> client


def test_fatal_alert_is_red_bold_and_names_sender_and_description():
    ax = ladder(F.capture(F.tls12_handshake_failure()), 1)
    (label,) = _labels(ax, "alert")
    assert label.get_text() == "FATAL ALERT from server: handshake_failure (40)"
    assert to_hex(label.get_color()) == ALERT_RED
    assert label.get_fontweight() == "bold"
    (arrow,) = _arrows(ax, "alert")
    assert to_hex(arrow.get_edgecolor()) == ALERT_RED
    assert arrow._posA_posB[0][0] == 1.0  # sent by the server
    assert "fatal alert handshake_failure from server" in ax.get_title(loc="left")


def test_diagnosed_cause_is_the_title_with_its_summary():
    cap = F.capture(F.tls12_handshake_failure())
    diag = F.diagnosis(cap, {1: "cipher_mismatch"})
    ax = ladder(cap, 1, diagnosis=diag)
    assert ax.get_title(loc="left") == "conn 1: no shared cipher suite"
    assert to_hex(ax._left_title.get_color()) == CAUSE_COLORS["cipher_mismatch"]
    (summary,) = [t for t in ax.texts if t.get_gid() == "summary"]
    assert summary.get_text() == "Synthetic summary for cipher_mismatch."


def test_encrypted_records_are_dashed_and_say_so():
    ax = ladder(F.capture(F.tls13_hrr_ok()), 2)
    enc = _arrows(ax, "encrypted")
    assert len(enc) == 2
    assert all(a.get_linestyle() == "--" for a in enc)
    assert [t.get_text() for t in _labels(ax, "encrypted")] == [
        "encrypted handshake record, 2,380 B", "encrypted handshake record, 53 B"]
    plain = _arrows(ax, "hello")
    assert plain and all(a.get_linestyle() == "-" for a in plain)


def test_tls12_encrypted_finished_is_named_by_position():
    ax = ladder(F.capture(F.tls12_ok()), 0)
    assert [t.get_text() for t in _labels(ax, "encrypted")] == ["Finished (encrypted), 40 B"] * 2


def test_hello_retry_request_stands_out_and_second_client_hello_is_numbered():
    ax = ladder(F.capture(F.tls13_hrr_ok()), 2)
    (hrr,) = _labels(ax, "hrr")
    assert hrr.get_text().startswith("HelloRetryRequest")
    assert to_hex(hrr.get_color()) == HRR_ORANGE
    assert hrr.get_fontweight() == "bold"
    hellos = [t.get_text() for t in _labels(ax, "hello")]
    assert hellos[0].startswith("ClientHello TLS1.3")
    assert hellos[1].startswith("ClientHello #2 TLS1.3")
    assert hellos[2] == "ServerHello TLS1.3 AES256-GCM"


def test_long_gap_breaks_the_axis_and_says_how_long():
    ax = ladder(F.capture(F.tls13_encrypted_alert_after_gap()), 3)
    (gap,) = [t for t in ax.texts if t.get_gid() == "gap"]
    assert gap.get_text() == "… 30.00 s later …"
    assert len([ln for ln in ax.lines if ln.get_gid() == "gap-mark"]) == 4  # zig-zag on both lanes
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks[-1] == "+30.00 s"
    # a shorter gap threshold breaks the axis more often
    ax2 = ladder(F.capture(F.tls13_encrypted_alert_after_gap()), 3, gap=0.001)
    # pauses of 2 ms (ClientHello -> ServerHello), 30 s, and 1 ms (-> RST)
    assert [t.get_text() for t in ax2.texts if t.get_gid() == "gap"] == [
        "… 2.0 ms later …", "… 30.00 s later …", "… 1.0 ms later …"]


def test_encrypted_alert_rst_and_retransmissions_are_shown():
    ax = ladder(F.capture(F.tls13_encrypted_alert_after_gap()), 3)
    (alert,) = _labels(ax, "alert")
    assert alert.get_text() == "encrypted record, 19 B: likely an alert from client (no key log)"
    assert to_hex(alert.get_color()) == ALERT_RED
    (rst,) = _labels(ax, "close")
    assert rst.get_text() == "TCP RST from client"
    assert to_hex(rst.get_color()) == ALERT_RED
    assert "3 TCP retransmissions" in ax.get_xlabel()


def test_certificate_label_uses_the_certificates_table():
    certs = [{"conn_id": 4, "side": "server", "position": 0, "frame": 406, "subject_cn": "legacy.example.net"},
             {"conn_id": 4, "side": "server", "position": 1, "frame": 406, "subject_cn": "Legacy CA"}]
    ax = ladder(F.capture(F.tls12_unknown_ca(), certificates=certs), 4)
    assert "Certificate: 2 certs, CN=legacy.example.net" in _texts(ax)
    assert "FATAL ALERT from client: unknown_ca (48)" in _texts(ax)


def test_draws_into_a_given_axes_and_leaves_inputs_alone():
    cap = F.capture(F.tls12_ok())
    before_m, before_c = cap.messages.copy(), cap.connections.copy()
    fig, ax = plt.subplots()
    assert ladder(cap, 0, ax=ax) is ax
    assert len(fig.axes) == 1
    assert cap.messages.equals(before_m) and cap.connections.equals(before_c)


def test_unknown_connection_and_wrong_input_are_typed_errors():
    cap = F.capture(F.tls12_ok(), F.tls12_handshake_failure())
    with pytest.raises(TlskitError, match=r"no connection with conn_id 7.*choose one of: 0, 1"):
        ladder(cap, 7)
    with pytest.raises(TlskitError, match=r"tlskit\.load"):
        ladder("capture.pcap", 0)


def test_records_after_completion_are_application_data():
    c = F.tls12_ok()
    c.msg(9, "c2s", 23, length=26, encrypted=True).msg(10, "s2c", 23, length=26, encrypted=True)
    ax = ladder(F.capture(c), 0)
    assert [t.get_text() for t in _labels(ax, "encrypted")][-2:] == ["encrypted application data, 26 B"] * 2


def test_long_runs_of_encrypted_records_collapse_into_one_row():
    c = F.tls12_ok()
    for i in range(6):
        c.msg(9 + i, "s2c", 23, length=100 + i, encrypted=True)
    cap = F.capture(c)
    ax = ladder(cap, 0)
    texts = [t.get_text() for t in _labels(ax, "encrypted")]
    assert texts[-2:] == ["encrypted application data, 100 B", "… 5 more encrypted records, 515 B"]
    assert len(_arrows(ax)) == 2 + len(cap.messages) + 1 - 4
    full = ladder(cap, 0, collapse=0)
    assert len(_arrows(full)) == 2 + len(cap.messages) + 1
