"""The package's front door: version, CLI entry points, doctor, environment files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import tlskit
from tlskit.cli import main
from tlskit.doctor import healthy, run_checks

ROOT = Path(__file__).resolve().parents[2]


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"tlskit {tlskit.__version__}"


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "tlskit", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip() == f"tlskit {tlskit.__version__}"


def test_import_does_not_pull_heavy_modules() -> None:
    code = "import sys, tlskit; print(sorted(m for m in ('matplotlib', 'ipywidgets', 'pyshark') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_doctor_reports_tshark_and_packages() -> None:
    checks = {c.name: c for c in run_checks()}
    assert {"tshark", "python", "pandas", "cryptography", "java"} <= set(checks)
    assert checks["pandas"].ok and checks["pandas"].detail[0].isdigit()


def test_doctor_without_tshark_says_how_to_fix(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "TLSKIT_TSHARK": ""}
    out = subprocess.run([sys.executable, "-m", "tlskit", "doctor", "--json"], capture_output=True,
                         text=True, env=env)
    assert out.returncode == 1, out.stderr
    checks = {c["name"]: c for c in json.loads(out.stdout)}
    assert checks["tshark"]["ok"] is False
    assert "apt-get install -y tshark" in checks["tshark"]["fix"]
    assert checks["java"]["ok"] is False and checks["java"]["required"] is False


def test_doctor_survives_a_broken_tshark(tmp_path: Path) -> None:
    fake = tmp_path / "tshark"
    fake.write_text("#!/bin/sh\necho 'segfault' >&2\nexit 139\n")
    fake.chmod(0o755)
    env = {**os.environ, "TLSKIT_TSHARK": str(fake)}
    out = subprocess.run([sys.executable, "-m", "tlskit", "doctor"], capture_output=True, text=True, env=env)
    assert out.returncode == 1
    assert "tshark did not report a version" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_healthy_ignores_optional_failures() -> None:
    checks = [c for c in run_checks() if c.required]
    assert healthy(checks) == all(c.ok for c in checks)


def test_environment_yml_matches_pyproject() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = (ROOT / "environment.yml").read_text()
    assert "-e .[notebooks]" in env and "wireshark" in env
    assert "<3.14" in env and "<3.14" in meta["requires-python"]
    assert "notebooks" in meta["optional-dependencies"]


def test_ci_calls_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
