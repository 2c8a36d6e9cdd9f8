"""B6: Capture.connection(unknown id) raises a TlskitError (Jupyter help box) that is still a KeyError."""

from __future__ import annotations

import warnings

import pytest

from tests.conftest import CONFORMANCE, DATA
from tlskit.capture import load
from tlskit.errors import CaptureWarning, NotFoundError, TlskitError


def test_unknown_conn_id_is_a_tlskit_error_and_a_key_error() -> None:
    cap = load(DATA / "sample" / "capture.pcap")
    assert cap.connection(14).conn_id == 14  # the last one exists
    with pytest.raises(KeyError) as caught:  # old callers' `except KeyError` still works
        cap.connection(999)
    err = caught.value
    assert isinstance(err, NotFoundError) and isinstance(err, TlskitError)
    # one plain line (no KeyError quotes), naming the capture, the valid range and the fix
    assert str(err) == "no connection 999 in capture.pcap (conn_id runs 0..14). Fix: pick a conn_id from capture.connections"
    assert "<b>NotFoundError</b>" in err._repr_html_() and "pick a conn_id" in err._repr_html_()


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="conformance captures not present")
def test_capture_without_connections_says_so() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        cap = load(CONFORMANCE / "zeek" / "traces" / "dtls1_2.pcap")
    with pytest.raises(NotFoundError, match=r"no connection 0 in dtls1_2.pcap \(it holds no TLS connection\)"):
        cap.connection(0)
