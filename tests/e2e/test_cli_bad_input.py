"""Every CLI command on bad input: exit code 2 and ONE line on stderr naming the file and the fix
(or exit 0, partial results and one warning line where partial results make sense), never a
traceback. The commands run as users run them: `python -m tlskit ...` in a subprocess whose
working directory is a scratch folder (so nothing depends on running from the checkout).

The Python API equivalents raise the typed errors from tlskit.errors.

Bad inputs are made here from the lab sample (data/sample, see data/README.md): a missing file,
a directory, an empty file, a text file, a truncated pcap, random bytes, a key log with junk
lines, a wrong truststore password, corrupt JKS / PKCS#12 stores.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.conftest import DATA, ROOT, requires_tshark
from tlskit.errors import (
    CaptureError,
    CaptureWarning,
    ConfigError,
    KeylogError,
    LabError,
    TruststoreError,
)

SAMPLE = DATA / "sample"
CAP = str(SAMPLE / "capture.pcap")
BUGS = "docs/dev/BUGS.md"


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch folder holding one file per kind of bad input (names are what the tests use)."""
    d = tmp_path_factory.mktemp("bad")
    rnd = random.Random(20261127)  # fixed seed: the same "random" bytes every run
    (d / "adir").mkdir()
    (d / "empty.pcap").write_bytes(b"")
    (d / "notes.pcap").write_text("this is a text file\nnot a capture\n")
    (d / "cut.pcap").write_bytes((SAMPLE / "capture.pcap").read_bytes()[:3000])  # mid-packet
    (d / "noise.pcap").write_bytes(bytes(rnd.getrandbits(8) for _ in range(4096)))
    (d / "noise.jks").write_bytes(bytes(rnd.getrandbits(8) for _ in range(4096)))
    keys = (SAMPLE / "keys.log").read_text().splitlines()
    (d / "junk.keys").write_text("\n".join(["garbage line", *keys[1:4], "CLIENT_RANDOM zz nothex", "CLIENT_RANDOM 00"]) + "\n")
    (d / "alljunk.keys").write_text("nothing useful here\nnor here\n")
    for src, name in (("truststore.jks", "flipped.jks"), ("truststore.p12", "flipped.p12")):
        data = bytearray((SAMPLE / src).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (d / name).write_bytes(bytes(data))
    (d / "empty.pem").write_bytes(b"")
    (d / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    jks = (SAMPLE / "truststore.jks").read_bytes()
    (d / "cut.jks").write_bytes(jks[: len(jks) // 2])
    return d


def _run(args: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="100")
    return subprocess.run([sys.executable, "-m", "tlskit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# (id, argv, token the one stderr line must contain). Expected: exit 2, "tlskit: ... Fix: ..."
ERRORS = [
    *[(f"{cmd}-{name}", [cmd, name], name)
      for cmd in ("diagnose", "certs") for name in ("missing.pcap", "adir", "empty.pcap", "notes.pcap", "noise.pcap")],
    ("diagnose-keylog-missing", ["diagnose", CAP, "--keylog", "missing.keys"], "missing.keys"),
    ("diagnose-keylog-dir", ["diagnose", CAP, "--keylog", "adir"], "adir"),
    ("diagnose-keylog-empty", ["diagnose", CAP, "--keylog", "empty.pcap"], "empty.pcap"),
    ("diagnose-keylog-alljunk", ["diagnose", CAP, "--keylog", "alljunk.keys"], "alljunk.keys"),
    ("diagnose-keylog-random", ["diagnose", CAP, "--keylog", "noise.pcap"], "noise.pcap"),
    ("diagnose-jks-wrong-password", ["diagnose", CAP, "--truststore", str(SAMPLE / "truststore.jks"),
                                     "--truststore-password", "wrong"], "truststore.jks"),
    ("diagnose-p12-wrong-password", ["diagnose", CAP, "--truststore", str(SAMPLE / "truststore.p12"),
                                     "--truststore-password", "wrong"], "truststore.p12"),
    ("diagnose-jks-corrupt", ["diagnose", CAP, "--truststore", "flipped.jks", "--truststore-password", "changeit"],
     "flipped.jks"),
    ("diagnose-p12-corrupt", ["diagnose", CAP, "--truststore", "flipped.p12", "--truststore-password", "changeit"],
     "flipped.p12"),
    ("diagnose-jks-truncated", ["diagnose", CAP, "--truststore", "cut.jks", "--truststore-password", "changeit"],
     "cut.jks"),
    ("diagnose-store-random", ["diagnose", CAP, "--truststore", "noise.jks"], "noise.jks"),
    ("diagnose-store-missing", ["diagnose", CAP, "--truststore", "missing.pem"], "missing.pem"),
    ("diagnose-store-empty", ["diagnose", CAP, "--truststore", "empty.pcap"], "empty.pcap"),
    ("diagnose-store-dir", ["diagnose", CAP, "--truststore", "adir"], "adir"),
    ("diagnose-config-missing", ["diagnose", CAP, "--server-config", "missing.conf"], "missing.conf"),
    ("diagnose-config-dir", ["diagnose", CAP, "--server-config", "adir"], "adir"),
    ("diagnose-config-binary", ["diagnose", CAP, "--server-config", "noise.jks"], "noise.jks"),
    ("diagnose-config-empty", ["diagnose", CAP, "--server-config", "empty.pcap"], "empty.pcap"),
    ("certs-jks-wrong-password", ["certs", CAP, "-t", str(SAMPLE / "truststore.jks"), "-p", "wrong"], "truststore.jks"),
    ("certs-p12-wrong-password", ["certs", CAP, "-t", str(SAMPLE / "truststore.p12"), "-p", "wrong"], "truststore.p12"),
    ("certs-jks-corrupt", ["certs", CAP, "-t", "flipped.jks", "-p", "changeit"], "flipped.jks"),
    ("certs-p12-corrupt", ["certs", CAP, "-t", "flipped.p12", "-p", "changeit"], "flipped.p12"),
    ("certs-store-random", ["certs", CAP, "-t", "noise.jks"], "noise.jks"),
    ("certs-keylog-missing", ["certs", CAP, "--keylog", "missing.keys"], "missing.keys"),
    ("certs-chain-without-time", ["certs", str(SAMPLE / "truststore.pem")], "truststore.pem"),
    ("certs-bad-time", ["certs", CAP, "--at", "yesterday"], "yesterday"),
    ("certs-empty-chain-file", ["certs", "empty.pem", "--at", "2026-01-01T00:00:00Z"], "empty.pem"),
    ("certs-key-not-chain", ["certs", "key.pem", "--at", "2026-01-01T00:00:00Z"], "key.pem"),
    ("report-missing", ["report", "missing.pcap", "-o", "r.html"], "missing.pcap"),
    ("report-keylog-missing", ["report", CAP, "-o", "r.html", "--keylog", "missing.keys"], "missing.keys"),
    ("demo-missing-data", ["demo", "nodata"], "nodata"),
    ("demo-out-is-file", ["demo", str(DATA), "--out", "empty.pcap"], "empty.pcap"),
    ("lab-outdir-is-file", ["lab", "empty.pcap", "-s", "ok_tls12"], "empty.pcap"),
    ("lab-outdir-not-creatable", ["lab", "/proc/tlskit-lab", "-s", "ok_tls12"], "/proc/tlskit-lab"),
    ("demo-out-not-creatable", ["demo", str(DATA), "--out", "/proc/tlskit-demo"], "/proc/tlskit-demo"),
    ("lab-unknown-scenario", ["lab", "labout", "-s", "no_such_scenario"], "no_such_scenario"),
    ("lab-no-outdir", ["lab"], "OUTDIR"),
    ("capture-plan-bad-port", ["capture-plan", "--host", "api.example.com", "--port", "99999"], "99999"),
    ("capture-plan-empty-host", ["capture-plan", "--host", " "], "--host"),
    ("probe-sni-bad-port", ["probe-sni", "127.0.0.1:99999"], "99999"),
    ("probe-sni-no-host", ["probe-sni", ":443"], ":443"),
    ("probe-sni-closed-port", ["probe-sni", "127.0.0.1:1", "--timeout", "2"], "127.0.0.1:1"),
    *[(f"export-{name}", ["export", name, "-o", "exported"], name)
      for name in ("missing.pcap", "adir", "empty.pcap", "notes.pcap", "noise.pcap")],
    ("export-keylog-missing", ["export", CAP, "-o", "exported", "--keylog", "missing.keys"], "missing.keys"),
    ("export-out-is-file", ["export", CAP, "-o", "empty.pcap/sub"], "empty.pcap/sub"),
    ("export-bad-workers", ["export", CAP, "-o", "exported", "--workers", "0"], "'0'"),
    ("diagnose-bad-workers", ["diagnose", CAP, "--workers", "many"], "'many'"),
]

# Report inputs are checked before a kernel starts (docs/dev/BUGS.md B1-B3, fixed).
REPORT_BUGS = [
    pytest.param(["report", "notes.pcap", "-o", "r.html"], 2, "notes.pcap",
                 id="report-text-file"),
    pytest.param(["report", CAP, "-o", "adir"], 2, "adir",
                 id="report-out-is-dir"),
    pytest.param(["report", CAP, "-o", "r.html", "--truststore", "noise.jks"], 2, "noise.jks",
                 id="report-unreadable-truststore"),
]


def _assert_one_error_line(proc: subprocess.CompletedProcess[str], token: str) -> None:
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both
    assert proc.returncode == 2, both
    lines = _lines(proc.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("tlskit: ") and token in lines[0] and "Fix:" in lines[0], lines[0]


@pytest.mark.parametrize(("case", "argv", "token"), ERRORS, ids=[c[0] for c in ERRORS])
def test_bad_input_exits_2_with_one_line(bad: Path, case: str, argv: list[str], token: str) -> None:
    _assert_one_error_line(_run(argv, bad), token)


@pytest.mark.parametrize(("argv", "code", "token"), REPORT_BUGS)
def test_report_bad_input(bad: Path, argv: list[str], code: int, token: str) -> None:
    _assert_one_error_line(_run(argv, bad), token)


@pytest.mark.parametrize("argv", [
    pytest.param(["diagnose", "cut.pcap"], id="diagnose-truncated"),
    pytest.param(["certs", "cut.pcap"], id="certs-truncated"),
    pytest.param(["diagnose", CAP, "--keylog", "junk.keys"], id="diagnose-junk-keylog"),
    pytest.param(["certs", CAP, "--keylog", "junk.keys"], id="certs-junk-keylog"),
])
def test_partial_input_exits_0_with_one_warning(bad: Path, argv: list[str]) -> None:
    proc = _run(argv, bad)
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both
    assert proc.returncode == 0, both
    lines = _lines(proc.stderr)
    name = "junk.keys" if "junk.keys" in argv else "cut.pcap"
    assert len(lines) == 1 and lines[0].startswith("tlskit: warning: ") and name in lines[0], lines
    assert _lines(proc.stdout), "partial results must still be printed"


@requires_tshark
@pytest.mark.tshark
@pytest.mark.parametrize("name", ["notes.pcap", "noise.pcap", "empty.pcap"])
def test_tshark_engine_bad_capture(bad: Path, name: str) -> None:
    _assert_one_error_line(_run(["diagnose", "--engine", "tshark", name], bad), name)


@requires_tshark
@pytest.mark.tshark
def test_tshark_engine_truncated_capture(bad: Path) -> None:
    proc = _run(["diagnose", "--engine", "tshark", "cut.pcap"], bad)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stderr
    lines = _lines(proc.stderr)
    assert len(lines) == 1 and "cut.pcap" in lines[0], lines


def test_output_into_a_closed_pipe_is_not_a_traceback(bad: Path) -> None:
    """`tlskit certs CAPTURE | head -1`: the reader leaves early; no BrokenPipeError traceback."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(f'"{sys.executable}" -m tlskit certs "{CAP}" | head -1', shell=True, cwd=bad, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith("truststore:")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_capture_from_a_pipe(bad: Path) -> None:
    """`tcpdump -w - | tlskit diagnose /dev/stdin`: read the stream, or refuse it in one line."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(f'cat "{CAP}" | "{sys.executable}" -m tlskit diagnose /dev/stdin', shell=True, cwd=bad,
                          env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:
        assert len(_lines(proc.stderr)) == 1 and "/dev/stdin" in proc.stderr
    else:
        assert proc.returncode == 0 and "incomplete_chain" in proc.stdout


def test_japanese_output_on_an_ascii_console(bad: Path) -> None:
    """--lang ja where the console cannot encode it (cp1252/ASCII): escaped text, not UnicodeEncodeError."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONIOENCODING="ascii")
    proc = subprocess.run([sys.executable, "-m", "tlskit", "diagnose", CAP, "--lang", "ja"], cwd=bad, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "expired_certificate" in proc.stdout and "\\u" in proc.stdout


def test_every_command_is_exercised() -> None:
    """A new subcommand must get bad-input cases here (doctor takes no input)."""
    from tlskit.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    commands = set(sub.choices)  # type: ignore[arg-type]
    covered = {argv[0] for _, argv, _ in ERRORS} | {"doctor"}
    assert commands <= covered, commands - covered


def test_doctor_never_tracebacks(bad: Path) -> None:
    proc = _run(["doctor"], bad)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode in (0, 1)  # doctor's own contract: 1 = something required is missing
    assert "tshark" in proc.stdout


# ---- the Python API raises the typed errors -------------------------------------------------


@pytest.mark.parametrize("name", ["missing.pcap", "adir", "empty.pcap", "notes.pcap", "noise.pcap"])
def test_api_load_raises_capture_error(bad: Path, name: str) -> None:
    import tlskit

    with pytest.raises(CaptureError) as exc:
        tlskit.load(bad / name)
    assert name in str(exc.value) and exc.value.fix


def test_api_truncated_capture_warns_and_keeps_partial_results(bad: Path) -> None:
    import tlskit

    with pytest.warns(CaptureWarning, match="cut.pcap"):
        cap = tlskit.load(bad / "cut.pcap")
    assert len(cap.connections) >= 1 and cap.warnings


def test_api_key_logs(bad: Path) -> None:
    from tlskit.tls.keylog import read_keylog

    for name in ("missing.keys", "adir", "empty.pcap", "alljunk.keys", "noise.pcap"):
        with pytest.raises(KeylogError) as exc:
            read_keylog(bad / name)
        assert name in str(exc.value), name
    with pytest.warns(CaptureWarning, match="junk.keys"):
        log = read_keylog(bad / "junk.keys")
    assert len(log) == 1  # the three good lines are one session's secrets


def test_api_truststores(bad: Path) -> None:
    import tlskit

    cases = [(SAMPLE / "truststore.jks", "wrong"), (SAMPLE / "truststore.p12", "wrong"),
             (bad / "flipped.jks", "changeit"), (bad / "flipped.p12", "changeit"), (bad / "cut.jks", "changeit"),
             (bad / "noise.jks", None), (bad / "missing.pem", None), (bad / "empty.pcap", None), (bad / "adir", None)]
    for path, password in cases:
        with pytest.raises(TruststoreError) as exc:
            tlskit.load_truststore(path, password=password)
        assert path.name in str(exc.value) and exc.value.fix, path
    with pytest.raises(TruststoreError, match=r"noise\.jks"):
        tlskit.diagnose(tlskit.load(CAP), truststore=bad / "noise.jks")


def test_api_server_config(bad: Path) -> None:
    from tlskit.ciphers import read_server_config

    for path in (bad / "adir", bad / "missing.conf", bad / "noise.jks", bad / "empty.pcap"):
        with pytest.raises(ConfigError) as exc:
            read_server_config(path)
        assert path.name in str(exc.value), path
    with pytest.raises(ConfigError, match="adir"):  # a str naming a folder is a path, not a cipher string
        read_server_config(str(bad / "adir"))
    # Damaged texts found by mutating the lab's configs: typed errors, not AttributeError/ValueError.
    for text, kind in (('{"sSLInfo": 5}', "apigee-json"), ("ECDHE+AES\x00GCM", "openssl"),
                       ('{"sSLInfo": {"enabled": "true", "protocols": 1, "ciphers": true}}', None)):
        with pytest.raises(ConfigError):
            read_server_config(text, kind=kind)


def test_api_topology(bad: Path) -> None:
    from tlskit.topology import read_roles

    (bad / "roles.json").write_text('{"client": ["999.1.1.1/33"]}')
    (bad / "list.json").write_text('["10.0.0.1"]')
    for spec, token in ((bad / "adir", "directory"), (bad / "noise.pcap", "noise.pcap"), (bad / "notes.pcap", "notes.pcap"),
                        (bad / "roles.json", "999.1.1.1/33"), (bad / "list.json", "list.json"),
                        ({"client": 5}, "list of addresses"), ({"gateway": ["10.0.0.1"]}, "gateway")):
        with pytest.raises(ConfigError) as exc:
            read_roles(spec)  # type: ignore[arg-type]
        assert token in str(exc.value), spec


def test_api_lab_output_is_a_file(bad: Path) -> None:
    from tlskit import lab

    with pytest.raises(LabError, match=r"empty\.pcap"):
        lab.build(bad / "empty.pcap", ["ok_tls12"])


def test_api_widgets_report_bad_input(bad: Path, conformance: Path) -> None:
    """Widgets show a bad store as their .error (a notebook cell must not die); an unusable
    capture is a typed error, not a TypeError from deep inside."""
    pytest.importorskip("ipywidgets")
    import tlskit
    from tlskit.errors import TlskitError
    from tlskit.widgets.ciphers import CipherExplorer
    from tlskit.widgets.truststore import TruststoreView

    cap = tlskit.load(CAP)
    view = TruststoreView(cap, truststore=SAMPLE / "truststore.jks", password="wrong", plot=False)
    assert view.error and "truststore.jks" in view.error and "password" in view.error
    explorer = CipherExplorer(cap, configs={"folder": str(bad / "adir")})
    assert explorer.value.error and "adir" in explorer.value.error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        no_tls = tlskit.load(conformance / "zeek" / "traces" / "dtls1_2.pcap")
    with pytest.raises(TlskitError, match="ClientHello"):
        CipherExplorer(no_tls, configs={"x": "HIGH"})


@requires_tshark
def test_api_tshark_engine_raises_capture_error(bad: Path) -> None:
    import tlskit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        for name in ("notes.pcap", "noise.pcap", "adir"):
            with pytest.raises(CaptureError, match=name):
                tlskit.load(bad / name, engine="tshark")


def test_api_unmatched_keylog_warns(conformance: Path) -> None:
    import tlskit

    ws = conformance / "fingerprints" / "wireshark"
    with pytest.warns(CaptureWarning, match="tls12-dsb-1"):
        tlskit.load(ws / "tls13-rfc8446.pcap", keylog=ws / "keys" / "tls12-dsb-1.keys")
