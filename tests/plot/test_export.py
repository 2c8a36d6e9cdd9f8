"""save() writes PNG and SVG; style() is opt-in and leaves global settings as they were;
importing tlskit does not import matplotlib."""

from __future__ import annotations

import subprocess
import sys

import frames as F
import matplotlib
import pytest

from tlskit.errors import TlskitError
from tlskit.plot import ladder, save, style, timeline


def test_save_writes_png_and_svg(tmp_path):
    ax = ladder(F.capture(F.tls12_handshake_failure()), 1)
    written = save(ax, tmp_path / "figs" / "conn1.png")
    assert written == [tmp_path / "figs" / "conn1.png", tmp_path / "figs" / "conn1.svg"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = written[1].read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    # saved again, the PNG is byte-identical and the SVG carries no date: quiet docs/images diffs
    again = save(ax.figure, tmp_path / "again")
    assert again[0].read_bytes() == written[0].read_bytes()
    assert "<dc:date>" not in svg


def test_save_refuses_what_is_not_a_figure(tmp_path):
    with pytest.raises(TlskitError, match="cannot save a str"):
        save("figure", tmp_path / "x")


def test_plots_do_not_change_global_settings_and_style_restores_them():
    before = dict(matplotlib.rcParams)
    timeline(F.capture(F.tls12_ok()))
    assert dict(matplotlib.rcParams) == before
    with style():
        assert matplotlib.rcParams["font.size"] == 9
        ladder(F.capture(F.tls12_ok()), 0)
    assert dict(matplotlib.rcParams) == before


def test_import_tlskit_does_not_import_matplotlib():
    code = "import sys, tlskit; tlskit.CaptureError; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
