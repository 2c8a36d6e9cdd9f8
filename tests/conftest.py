"""Shared fixtures: where the conformance captures are, and one lab run per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFORMANCE = SHARED / "conformance"
DATA = ROOT / "data"
IN_CI = bool(os.environ.get("CI"))


def _need(tool: str, marker: str) -> pytest.MarkDecorator:
    # In CI the Makefile installs every tool, so a missing one is a failure, not a skip.
    missing = shutil.which(tool) is None and not IN_CI
    return pytest.mark.skipif(missing, reason=f"{tool} not installed ({marker} tests)")


requires_tshark = _need("tshark", "tshark")
requires_java = _need("java", "java")
requires_chromium = _need("chromium", "browser")


@pytest.fixture(scope="session")
def conformance() -> Path:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"conformance captures not found at {CONFORMANCE}")
    return CONFORMANCE


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every lab scenario built once per test session (OpenSSL and, with a JDK, Java)."""
    from tlskit import lab

    out = tmp_path_factory.mktemp("lab")
    lab.build(out)
    return out
