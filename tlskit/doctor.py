"""Environment checks behind `tlskit doctor`: what is installed, what is missing, how to fix it.

Every check is isolated: a broken package or a binary that crashes becomes a failed check
with a fix, never an exception out of :func:`run_checks`.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from tlskit._version import __version__


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # version, path or what went wrong
    required: bool = True  # False: only some features need it (the lab's Java peers, the browser test)
    fix: str = ""


# distribution name -> what needs it (the notebook extras are optional for library use)
PACKAGES: dict[str, tuple[bool, str]] = {
    "pandas": (True, "tables"),
    "cryptography": (True, "certificates and TLS 1.3 decryption"),
    "matplotlib": (True, "figures"),
    "pyshark": (True, "per-packet drill-down"),
    "tqdm": (True, "progress bars"),
    "ipywidgets": (False, "interactive explorers (notebook extras)"),
    "jupyterlab": (False, "notebooks (notebook extras)"),
    "papermill": (False, "`tlskit report` and postmortems (notebook extras)"),
    "nbconvert": (False, "HTML reports (notebook extras)"),
}
PIP_FIX = "pip install -e '.[notebooks]' (from the tlskit checkout) or `make demo`"


def _run(cmd: list[str]) -> str:
    # Some tools print their version on stderr (java); keep both, first line only.
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    text = (out.stdout or "") + (out.stderr or "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "Running as user" not in ln]
    return lines[0] if lines else f"exit status {out.returncode}"


def _guarded(name: str, required: bool, fix: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except Exception as exc:  # doctor reports a broken environment instead of crashing on it
        return Check(name, False, f"check failed: {type(exc).__name__}: {exc}", required, fix)


def _tshark() -> Check:
    from tlskit.capture._tshark import INSTALL_HINT, MIN_VERSION, find_tshark, tshark_version
    from tlskit.errors import TsharkError

    try:
        path = find_tshark()
        version = tshark_version(path)
    except TsharkError as exc:
        return Check("tshark", False, exc.what, True, INSTALL_HINT)
    text = ".".join(map(str, version))
    if version < MIN_VERSION:
        need = ".".join(map(str, MIN_VERSION))
        return Check("tshark", False, f"{text} at {path} (need >= {need})", True, INSTALL_HINT)
    return Check("tshark", True, f"{text} at {path}")


def _package(dist: str, required: bool, why: str) -> Check:
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return Check(dist, False, f"not installed (needed for {why})", required, PIP_FIX)
    try:
        importlib.import_module({"pyshark": "pyshark", "ipywidgets": "ipywidgets"}.get(dist, dist))
    except Exception as exc:  # installed but broken (e.g. a failed build or ABI mismatch)
        return Check(dist, False, f"{version} installed but fails to import: {exc}", required, PIP_FIX)
    return Check(dist, True, version, required)


def _binary(name: str, cmd: list[str], why: str, fix: str) -> Check:
    path = shutil.which(cmd[0])
    if not path:
        return Check(name, False, f"not found (needed for {why})", False, fix)
    return Check(name, True, f"{_run(cmd)} at {path}", False)


def run_checks() -> list[Check]:
    """All checks, in display order."""
    checks = [
        Check("tlskit", True, __version__),
        Check("python", sys.version_info[:2] < (3, 14),
              f"{platform.python_version()} at {sys.executable}", True,
              "use Python 3.10-3.13 (pyshark 0.6 breaks on 3.14)"),
        _guarded("tshark", True, "", _tshark),
    ]
    for dist, (required, why) in PACKAGES.items():
        checks.append(_guarded(dist, required, PIP_FIX, partial(_package, dist, required, why)))
    jdk = "sudo apt-get install -y openjdk-17-jdk-headless (or any JDK >= 11 on PATH)"
    checks += [
        _guarded("java", False, jdk, lambda: _binary("java", ["java", "-version"], "the lab's Java JSSE peers", jdk)),
        _guarded("keytool", False, jdk, lambda: _binary("keytool", ["keytool", "-help"], "JKS/PKCS12 truststores in the lab", jdk)),
        _guarded("openssl", False, "sudo apt-get install -y openssl",
                 lambda: _binary("openssl", ["openssl", "version"], "cipher-string expansion", "sudo apt-get install -y openssl")),
        _guarded("chromium", False, "sudo apt-get install -y chromium chromium-driver",
                 lambda: _binary("chromium", ["chromium", "--version"], "the notebook browser test",
                                 "sudo apt-get install -y chromium chromium-driver")),
    ]
    return checks


def healthy(checks: list[Check]) -> bool:
    """True when every required check passed."""
    return all(c.ok for c in checks if c.required)
