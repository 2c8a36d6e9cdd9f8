"""Whatever a capture holds, diagnose answers: one row per connection, a cause from the fixed
vocabulary, a confidence within 0..1, a summary with every field filled, and no exception."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from builders import T0, alert_message, capture, certificate, connection, hello_flight, message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tlskit
from tlskit.schema import CAUSES

ALERTS = [None, 0, 10, 40, 42, 45, 46, 48, 51, 70, 71, 80, 112, 116]
MISSING_FIELD = re.compile(r"(^|[\s(「:])\?([\s.,)」。、]|$)")


@st.composite
def connections(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    version = draw(st.sampled_from([None, 0x0301, 0x0303, 0x0304]))
    alert = draw(st.sampled_from(ALERTS))
    side = draw(st.sampled_from(["client", "server"])) if alert is not None else None
    kw: dict[str, Any] = {
        "version": version,
        "cipher_suite": draw(st.sampled_from([0x1301, 0xC02F, 0x009C])) if version else None,
        "sni": draw(st.sampled_from([None, "api.example.com", "10.0.0.2"])),
        "established": draw(st.sampled_from([True, False, None])),
        "alert": alert,
        "alert_from": side,
        "alert_frame": 8 if alert is not None else None,
        "tcp_end": draw(st.sampled_from(["fin", "rst", "open", None])),
        "tcp_end_by": draw(st.sampled_from(["client", "server", None])),
        "partial": draw(st.booleans()),
        "decrypted": draw(st.booleans()),
        "certificate_requested": draw(st.sampled_from([True, None])),
        "client_certificate_sent": draw(st.sampled_from([True, False, None])),
        "encrypted_alert_from": draw(st.sampled_from([None, "client", "server"])),
        "offered_ciphers": draw(st.sampled_from([[0x1301, 0xC02F], [0x0001, 0x0002], [0x009C], []])),
        "client_versions": draw(st.sampled_from([[0x0304, 0x0303], []])),
    }
    msgs = hello_flight(0, server_hello=version is not None, certificate=version == 0x0303)
    if version == 0x0304:
        msgs.append(message(0, 3, 7, "c2s", content_type=23, encrypted=True, length=draw(st.sampled_from([19, 35, 53, 600]))))
    if alert is not None:
        msgs.append(alert_message(0, 5, 8, "c2s" if side == "client" else "s2c", alert))
    certs = []
    if version == 0x0303 and draw(st.booleans()):
        days = draw(st.integers(min_value=-800, max_value=800))
        certs.append(certificate(0, 0, not_after=T0 + pd.Timedelta(days=days),
                                 san_dns=draw(st.sampled_from([[], ["api.example.com"], ["*.other.example"]])),
                                 self_signed=draw(st.booleans())))
    return connection(0, **kw), msgs, certs


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(connections(), st.sampled_from(["en", "ja"]))
def test_any_connection_gets_a_complete_answer(conn: Any, lang: str) -> None:
    row_in, msgs, certs = conn
    out = tlskit.diagnose(capture([row_in], msgs, certs), lang=lang)
    assert len(out) == 1
    row = out.iloc[0]
    assert row["cause"] in CAUSES
    assert 0.0 <= float(row["confidence"]) <= 1.0
    for sentence in [row["summary"], *row["evidence"]]:
        assert not MISSING_FIELD.search(sentence), (row["rule"], sentence)
