"""The one place tlskit talks to tshark and pyshark.

Everything else takes the tables this module's engine helps fill, never tshark output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tlskit.errors import TsharkNotFound, TsharkTooOld

# Oldest tshark whose TLS dissector and field names this module is written against.
MIN_VERSION = (3, 6, 0)
INSTALL_HINT = (
    "install Wireshark's command-line tool: `sudo apt-get install -y tshark` (Debian/Ubuntu), "
    "`conda install -c conda-forge wireshark`, or `brew install wireshark`; or set TLSKIT_TSHARK "
    "to its path. `tlskit doctor` checks the result"
)


def find_tshark() -> Path:
    """Path of the tshark binary (``$TLSKIT_TSHARK`` first, then ``PATH``)."""
    override = os.environ.get("TLSKIT_TSHARK")
    if override:
        if Path(override).is_file() and os.access(override, os.X_OK):
            return Path(override)
        raise TsharkNotFound("TLSKIT_TSHARK points to no executable file", path=override, fix=INSTALL_HINT)
    found = shutil.which("tshark")
    if not found:
        raise TsharkNotFound("tshark was not found on PATH", fix=INSTALL_HINT)
    return Path(found)


def tshark_version(tshark: Path | None = None) -> tuple[int, int, int]:
    """Version of tshark as a tuple; raises TsharkNotFound if it cannot run."""
    binary = tshark or find_tshark()
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TsharkNotFound(f"tshark could not run ({exc})", path=binary, fix=INSTALL_HINT) from exc
    m = re.search(r"TShark \(Wireshark\) (\d+)\.(\d+)\.(\d+)", out)
    if not m:
        raise TsharkNotFound("tshark did not report a version", path=binary, fix=INSTALL_HINT)
    return int(m[1]), int(m[2]), int(m[3])


def check_tshark() -> tuple[Path, tuple[int, int, int]]:
    """The tshark to use and its version; raises if missing or older than MIN_VERSION."""
    binary = find_tshark()
    version = tshark_version(binary)
    if version < MIN_VERSION:
        have = ".".join(map(str, version))
        need = ".".join(map(str, MIN_VERSION))
        raise TsharkTooOld(f"tshark {have} is older than the {need} tlskit needs", path=binary, fix=INSTALL_HINT)
    return binary, version
