"""Every notebook runs clean on the bundled data (papermill), and notebooks are stored
without outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


def _run(name: str, out: Path, **parameters: object) -> nbformat.NotebookNode:
    import papermill

    from tlskit.report import _same_tlskit_in_kernel

    with _same_tlskit_in_kernel():
        papermill.execute_notebook(str(NOTEBOOKS / name), str(out), parameters=parameters, cwd=str(NOTEBOOKS),
                                   kernel_name="python3", progress_bar=False)
    return nbformat.read(out, as_version=4)


def _text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            data = output.get("data", {})
            parts += [data.get("text/plain", ""), data.get("text/html", ""), data.get("text/markdown", "")]
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def _outputs_of(nb: nbformat.NotebookNode, snippet: str) -> str:
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and snippet in c.source]
    return json.dumps(cell["outputs"])


def _images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def test_the_seven_notebooks_are_there():
    assert [p.name for p in ALL] == ["01_triage.ipynb", "02_protocols_and_ciphers.ipynb", "03_certificates.ipynb",
                                     "04_sni.ipynb", "05_postmortem.ipynb", "06_training.ipynb",
                                     "07_instructor.ipynb"]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path.name}: strip outputs"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_thin_no_function_definitions(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        assert "\ndef " not in "\n" + src and "\nclass " not in "\n" + src, f"{path.name}: move helpers into tlskit"


@pytest.mark.slow
def test_triage(tmp_path):
    nb = _run("01_triage.ipynb", tmp_path / "out.ipynb")
    text = _text(nb)
    for cause in ("unknown_ca", "hostname_mismatch", "cipher_mismatch", "expired_certificate"):
        assert cause in text
    assert "application/vnd.jupyter.widget-view+json" in _outputs_of(nb, "TriageView(cap, diag)")
    assert _images(nb) >= 2 + 9  # timeline, latency, one ladder per failed connection


@pytest.mark.slow
def test_protocols_and_ciphers(tmp_path):
    nb = _run("02_protocols_and_ciphers.ipynb", tmp_path / "out.ipynb")
    assert "no_common_suite" in _text(nb)
    assert "application/vnd.jupyter.widget-view+json" in _outputs_of(nb, "CipherExplorer(cap")


@pytest.mark.slow
def test_certificates(tmp_path):
    nb = _run("03_certificates.ipynb", tmp_path / "out.ipynb")
    text = _text(nb)
    assert "incomplete_chain" in text and "unknown_ca" in text
    assert _images(nb) >= 3


@pytest.mark.slow
def test_sni(tmp_path):
    text = _text(_run("04_sni.ipynb", tmp_path / "out.ipynb"))
    assert "hostname_mismatch" in text


@pytest.mark.slow
def test_postmortem(tmp_path):
    nb = _run("05_postmortem.ipynb", tmp_path / "out.ipynb")
    text = _text(nb)
    assert re.search(r"\d+ TLS connection\(s\), \*\*[1-9]\d* not OK\*\*", text)
    assert "api.backend.example" in text  # not redacted by default
    assert "Prevention:" in text


@pytest.mark.slow
def test_training_and_instructor(tmp_path):
    out = tmp_path / "set"
    nb = _run("07_instructor.ipynb", tmp_path / "instructor.ipynb", outdir=str(out),
              scenarios=["cipher_mismatch_tls12", "unknown_ca_tls13"])
    assert "cipher_mismatch" in _text(nb)
    made = out / "training.ipynb"
    assert made.exists()
    trainee = _run("06_training.ipynb", tmp_path / "training.ipynb", lab_dir=str(out))
    assert "2 exercises" in _text(trainee)
    assert _text(trainee).count("application/vnd.jupyter.widget-view+json") == 0  # widgets are in data
    assert _outputs_of(trainee, "ExerciseView(").count("application/vnd.jupyter.widget-view+json") == 2
