"""Key logs and private keys never leave tlskit: no output of any kind contains a secret.

Input: the lab sample (data/sample/capture.pcap with keys.log: TLS 1.2 CLIENT_RANDOM master
secrets and TLS 1.3 traffic secrets; see data/README.md). Every secret (the third field of
every key log line) is searched for, in lower and upper case, in: `tlskit diagnose` (table and
--json), `tlskit certs --json`, the HTML report with and without --redact, repr()/str()/
_repr_html_() of Capture, Connection and KeyLog objects, the tables, and the warning a key
log with malformed lines gives. With --redact, no IP address or host name of the capture may
remain in the HTML either.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.conftest import DATA, ROOT
from tlskit.errors import CaptureWarning

SAMPLE = DATA / "sample"
CAP = SAMPLE / "capture.pcap"
KEYS = SAMPLE / "keys.log"


def _secrets() -> list[str]:
    out = []
    for line in KEYS.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#"):
            out.append(parts[2].lower())
    return out


SECRETS = _secrets()


def _assert_no_secret(text: str, where: str) -> None:
    lowered = text.lower()
    leaked = [s[:16] for s in SECRETS if s in lowered]
    assert not leaked, f"{where} contains key log secrets starting {leaked}"
    assert "PRIVATE KEY" not in text, f"{where} contains a PEM private key"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "tlskit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_the_key_log_has_secrets_to_look_for() -> None:
    # 2 TLS 1.2 master secrets + 5 labels per TLS 1.3 handshake: an empty list would prove nothing.
    assert len(SECRETS) >= 15 and all(len(s) >= 64 and re.fullmatch("[0-9a-f]+", s) for s in SECRETS)


@pytest.mark.parametrize("args", [
    pytest.param(["diagnose", str(CAP), "--keylog", str(KEYS)], id="diagnose-table"),
    pytest.param(["diagnose", str(CAP), "--keylog", str(KEYS), "--json"], id="diagnose-json"),
    pytest.param(["diagnose", str(CAP), "--keylog", str(KEYS), "--lang", "ja"], id="diagnose-ja"),
    pytest.param(["certs", str(CAP), "--keylog", str(KEYS), "-t", str(SAMPLE / "truststore.pem"), "--json"],
                 id="certs-json"),
])
def test_cli_output_has_no_secret(tmp_path: Path, args: list[str]) -> None:
    proc = _run(args, tmp_path)
    assert len(proc.stdout) > 500  # the command did report something
    _assert_no_secret(proc.stdout + proc.stderr, " ".join(args[:1]))


def test_objects_and_tables_show_no_secret() -> None:
    import tlskit
    from tlskit.tls.keylog import read_keylog

    log = read_keylog(KEYS)
    assert len(log) == 7  # every session with secrets (7 of 15 handshakes got that far) was read
    cap = tlskit.load(CAP, keylog=KEYS)
    dx = tlskit.diagnose(cap)
    texts = {
        "repr(KeyLog)": repr(log), "str(KeyLog)": str(log),
        "repr(Capture)": repr(cap), "str(Capture)": str(cap), "Capture._repr_html_": cap._repr_html_(),
        "diagnosis": dx.to_json(orient="records") + dx.to_string(),
        "tables": cap.messages.to_csv() + cap.connections.to_csv() + cap.certificates.to_csv(),
    }
    for conn_id in cap.connections["conn_id"]:
        conn = cap.connection(int(conn_id))
        texts[f"Connection({conn_id})"] = conn._repr_html_() + repr(conn)
    for where, text in texts.items():
        _assert_no_secret(text, where)
    assert str(KEYS) in str(cap.keylog)  # only the key log's path is kept


def test_saved_tables_hold_no_secret(tmp_path: Path) -> None:
    """Capture.to_parquet (shared with colleagues, loaded by dask): neither hex nor raw secret bytes."""
    import tlskit

    cap = tlskit.load(CAP, keylog=KEYS)
    cap.to_parquet(tmp_path / "pq")
    files = [p for p in (tmp_path / "pq").rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    for path in files:
        blob = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in blob.lower() and bytes.fromhex(secret) not in blob, (path.name, secret[:16])


def test_malformed_key_log_lines_are_not_echoed(tmp_path: Path) -> None:
    """A damaged line still holds secret material: the warning names its line, never its text."""
    from tlskit.tls.keylog import read_keylog

    lines = [line for line in KEYS.read_text().splitlines() if line and not line.startswith("#")]
    damaged = [f"{line} trailing-junk" for line in lines[:3]] + [line.replace(" ", "  :", 1) for line in lines[3:6]]
    path = tmp_path / "damaged.keys"
    path.write_text("\n".join(damaged + lines[6:]) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = read_keylog(path)
    messages = [str(w.message) for w in caught if issubclass(w.category, CaptureWarning)]
    assert messages and "damaged.keys" in messages[0]
    for text in [*messages, repr(log), str(log)]:
        _assert_no_secret(text, "key log warning")


# ---- the HTML report -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    pytest.importorskip("papermill")
    try:
        import tlskit.report  # noqa: F401
    except ImportError:
        pytest.skip("no report module")
    out = tmp_path_factory.mktemp("reports")
    html = {}
    for name, extra in (("plain", []), ("redacted", ["--redact"])):
        target = out / f"{name}.html"
        _run(["report", str(CAP), "--keylog", str(KEYS), "--truststore", str(SAMPLE / "truststore.pem"),
              "-o", str(target), *extra], out)
        html[name] = target.read_text(encoding="utf-8")
    return html


@pytest.mark.parametrize("name", ["plain", "redacted"])
def test_report_has_no_secret(reports: dict[str, str], name: str) -> None:
    assert "incomplete_chain" in reports[name]  # the report was rendered with the diagnosis
    _assert_no_secret(reports[name], f"{name} report")


def _identifiers() -> tuple[set[str], set[str]]:
    """IP addresses and host names the capture reveals (connections, SNI, certificates)."""
    import tlskit

    cap = tlskit.load(CAP, keylog=KEYS)
    conns, certs = cap.connections, cap.certificates
    ips = {str(v) for v in [*conns["client_ip"].dropna(), *conns["server_ip"].dropna()]}
    ips |= {str(ip) for ips_ in certs["san_ip"].dropna() for ip in ips_}
    names = {str(v) for v in conns["sni"].dropna()}
    names |= {str(n) for dns in certs["san_dns"].dropna() for n in dns}
    names |= {str(v) for v in certs["subject_cn"].dropna() if re.fullmatch(r"[\w*.-]+\.[a-z]{2,}", str(v))}
    return ips, {n.lower().removeprefix("*.") for n in names}


def test_redacted_report_hides_addresses_and_names(reports: dict[str, str]) -> None:
    ips, names = _identifiers()
    assert len(ips) >= 15 and len(names) >= 2
    plain, redacted = reports["plain"], reports["redacted"].lower()
    # Names must be findable in the plain report, or their absence from the redacted one proves
    # nothing. (The report shows addresses only inside figures and counts today; any that appear
    # as text must be redacted too.)
    assert all(n in plain.lower() for n in names)
    leaked_ips = [ip for ip in ips if re.search(rf"(?<![\d.]){re.escape(ip)}(?!\.?\d)", redacted)]
    leaked_names = [n for n in names if re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w-])", redacted)]
    assert not leaked_ips and not leaked_names, (leaked_ips, leaked_names)


def test_redacted_figures_show_no_identifier() -> None:
    """The report's figures are PNGs drawn from the redacted tables: check what they draw, as text."""
    pytest.importorskip("papermill")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import tlskit
    from tlskit import plot
    from tlskit.report import Redactor

    cap = tlskit.load(CAP, keylog=KEYS)
    diag = tlskit.diagnose(cap, truststore=SAMPLE / "truststore.pem")
    redactor = Redactor.from_capture(cap)
    rcap, rdiag = redactor.capture(cap), redactor.diagnosis(diag)
    axes = [plot.timeline(rcap, diagnosis=rdiag), plot.latency_plot(rcap, diagnosis=rdiag)]
    axes += [plot.ladder(rcap, int(c), diagnosis=rdiag) for c in rdiag["conn_id"]]
    drawn = []
    for ax in axes:
        fig = ax.get_figure(root=True)
        drawn += [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        plt.close(fig)
    text = "\n".join(drawn).lower()
    ips, names = _identifiers()
    leaked = [ip for ip in ips if re.search(rf"(?<![\d.]){re.escape(ip)}(?!\.?\d)", text)]
    leaked += [n for n in names if re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w-])", text)]
    assert not leaked
    # ...while the unredacted figures do show them (so the check above can fail).
    ax = plot.ladder(cap, int(diag["conn_id"].iloc[0]), diagnosis=diag)
    original = "\n".join(t.get_text() for t in ax.get_figure(root=True).findobj(matplotlib.text.Text)).lower()
    plt.close("all")
    assert any(ip in original for ip in ips) or any(n in original for n in names)
