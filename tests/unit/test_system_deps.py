"""scripts/system-deps.sh: what `make demo` says on a machine without tshark."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "system-deps.sh"


def _path_without_tshark(tmp_path: Path) -> str:
    # A PATH with the basic tools the script uses but no tshark.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "id", "head", "env", "apt-get"):
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    return str(bindir)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to nobody")
def test_non_root_without_tshark_gets_one_sentence_and_the_command() -> None:
    # pytest's tmp_path sits under a root-only directory; nobody needs to traverse this one.
    tmp_path = Path(tempfile.mkdtemp(prefix="tlskit-sysdeps-"))
    tmp_path.chmod(0o755)
    path = _path_without_tshark(tmp_path)
    out = subprocess.run(
        [shutil.which("setpriv") or "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(SCRIPT), "tshark"],
        capture_output=True, text=True, env={"PATH": path}, cwd=tmp_path,
    )
    assert out.returncode == 1
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert "sudo apt-get install -y --no-install-recommends tshark" in lines[0]
    assert out.stdout == ""
    shutil.rmtree(tmp_path)


def test_present_tools_are_reported_not_installed() -> None:
    if not shutil.which("tshark"):
        pytest.skip("tshark absent: this run would install it")
    out = subprocess.run(["bash", str(SCRIPT), "tshark"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("system tools: present (TShark")
