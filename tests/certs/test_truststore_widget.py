"""TruststoreView: driven by setting its controls' values, as an analyst would."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("ipywidgets")

from tests.certs.pki import T0, make_pki, pem
from tlskit.certs import Truststore
from tlskit.schema import CERTIFICATES, CONNECTIONS, conform
from tlskit.widgets import TruststoreView


class _Cap:
    def __init__(self, certificates: pd.DataFrame, connections: pd.DataFrame):
        self.certificates, self.connections = certificates, connections


def _capture() -> tuple[_Cap, object]:
    pki = make_pki()
    rows = [{"conn_id": 0, "side": "server", "position": i, "time": pd.Timestamp(T0), "der": d}
            for i, d in enumerate(pki.chain)]
    rows.append({"conn_id": 1, "side": "server", "position": 0, "time": pd.Timestamp(T0), "der": pki.chain[0]})
    conns = conform([{"conn_id": 0, "sni": "api.example.com"}, {"conn_id": 1, "sni": "api.example.com"}], CONNECTIONS)
    return _Cap(conform(rows, CERTIFICATES), conns), pki


def test_loading_a_truststore_and_changing_host_change_the_verdict(tmp_path: Path) -> None:
    cap, pki = _capture()
    seen: list[str] = []
    view = TruststoreView(cap, plot=False, on_change=lambda v: seen.append(v.verdict))
    assert view.value is not None and view.value.verdict == "unverified"
    (tmp_path / "roots.pem").write_bytes(pem(pki.root))  # type: ignore[attr-defined]
    view.path.value = str(tmp_path / "roots.pem")
    assert view.value.verdict == "trusted" and view.truststore is not None and len(view.truststore) == 1
    view.hostname.value = "www.example.com"
    assert view.value.verdict == "hostname_mismatch"
    assert "www.example.com" in view.status.value
    view.hostname.value = ""  # back to the SNI
    assert view.value.verdict == "trusted"
    view.chain.value = 1  # the connection that sent only its leaf
    assert view.value.verdict == "incomplete_chain"
    assert list(view.frame.position) == [0] and bool(view.frame.at_fault.iloc[0])
    assert seen == ["unverified", "trusted", "hostname_mismatch", "trusted", "incomplete_chain"]


def test_bad_truststore_shows_the_error_and_falls_back(tmp_path: Path) -> None:
    cap, pki = _capture()
    view = TruststoreView(cap, truststore=Truststore.from_certificates([pki.root]), plot=False)  # type: ignore[attr-defined]
    assert view.value is not None and view.value.verdict == "trusted"
    view.path.value = str(tmp_path / "missing.jks")
    assert view.error is not None and "not found" in view.error
    assert view.truststore is None and view.value.verdict == "unverified"
    assert "not found" in view.status.value


def test_cn_fallback_box_changes_a_cn_only_verdict() -> None:
    from tests.certs.pki import der, ec_key, make_cert, name

    leaf = make_cert(name("legacy.example.com"), ec_key())  # self-signed, no subjectAltName
    view = TruststoreView([der(leaf)], truststore=Truststore.from_certificates([leaf]), at=T0,
                          hostname="legacy.example.com", plot=False)
    assert view.value is not None and view.value.verdict == "hostname_mismatch"
    view.cn_fallback.value = True
    assert view.value.verdict == "trusted"


def test_plot_output_is_drawn() -> None:
    import matplotlib

    matplotlib.use("Agg")
    cap, _ = _capture()
    view = TruststoreView(cap, plot=True)
    assert view.value is not None
    assert len(view.figure.outputs) <= 1  # rendered into the Output (empty without a kernel)
