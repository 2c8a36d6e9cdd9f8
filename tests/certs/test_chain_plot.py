"""The chain picture: assertions on the artists it draws."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex

from tests.certs.pki import T0, der, make_pki
from tlskit.certs import Truststore
from tlskit.errors import TlskitError
from tlskit.plot.chain import chain

RED = "#d32f2f"
GREEN = "#2e7d32"


def _patches(ax: plt.Axes) -> dict[str, object]:
    return {p.get_gid(): p for p in ax.patches if p.get_gid()}


def _texts(ax: plt.Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


@pytest.fixture(autouse=True)
def _close() -> object:
    yield
    plt.close("all")


def test_trusted_chain_ends_in_a_green_truststore_box() -> None:
    pki = make_pki()
    rc_before = dict(matplotlib.rcParams)
    _fig, ax = plt.subplots()
    out = chain(pki.chain, truststore=Truststore.from_certificates([pki.root]), hostname="api.example.com", at=T0, ax=ax)
    assert out is ax
    p = _patches(ax)
    assert set(p) >= {"cert-0", "cert-1", "cert-trust"}
    assert to_hex(p["cert-trust"].get_edgecolor()) == GREEN  # type: ignore[attr-defined]
    assert to_hex(p["cert-0"].get_edgecolor()) != RED  # type: ignore[attr-defined]
    assert "in truststore: #0" in _texts(ax)
    assert "host api.example.com: matches" in _texts(ax)
    assert ax.get_title(loc="left").startswith("trusted — ok")
    assert "missing" not in p
    assert dict(matplotlib.rcParams) == rc_before  # no global style change


def test_incomplete_chain_marks_the_missing_issuer_in_red() -> None:
    pki = make_pki()
    ax = chain([der(pki.leaf)], truststore=Truststore.from_certificates([pki.root]), at=T0)
    p = _patches(ax)
    assert to_hex(p["missing"].get_edgecolor()) == RED  # type: ignore[attr-defined]
    assert p["missing"].get_linestyle() == "--"  # type: ignore[attr-defined]
    assert to_hex(p["cert-0"].get_edgecolor()) == RED  # type: ignore[attr-defined]  # the leaf is at fault
    assert any("Test Issuing CA" in t for t in _texts(ax))
    assert "unable to get local issuer certificate" in ax.get_title(loc="left")


def test_untrusted_sent_root_and_unused_certificate() -> None:
    pki, other = make_pki(), make_pki(root_cn="Other Root")
    ax = chain([*pki.chain, der(other.inter), der(pki.root)], truststore=Truststore.from_certificates([other.root]), at=T0)
    p = _patches(ax)
    assert {"cert-0", "cert-1", "cert-3", "unused-2"} <= set(p)
    assert to_hex(p["cert-3"].get_edgecolor()) == RED  # type: ignore[attr-defined]
    assert "✗ not in truststore" in _texts(ax)
    assert any(t.startswith("sent #2, not on the path") for t in _texts(ax))


def test_expired_leaf_text_is_red() -> None:
    from datetime import timedelta

    pki = make_pki(leaf_kwargs={"not_after": T0 - timedelta(days=1)})
    ax = chain(pki.chain, truststore=Truststore.from_certificates([pki.root]), at=T0)
    expired = [t for t in ax.texts if t.get_text().startswith("EXPIRED")]
    assert len(expired) == 1 and to_hex(expired[0].get_color()) == RED


def test_no_chain_for_connection_is_an_error() -> None:
    import pandas as pd

    from tlskit.schema import CERTIFICATES, conform

    with pytest.raises(TlskitError, match="no certificate chain"):
        chain(conform(pd.DataFrame(), CERTIFICATES), 4)
