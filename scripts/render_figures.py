"""Render docs/images/ from the lab captures in data/ (the figures the README and docs show).

    .venv/bin/python scripts/render_figures.py            # all figures
    .venv/bin/python scripts/render_figures.py --out /tmp/figs

Inputs: data/sample/ (capture.pcap, keys.log, truststore.pem) and data/scenarios/<name>/ (same
files, one scenario each), all made by tlskit.lab (see data/README.md). Each figure is written
as PNG and SVG. Every figure is diagnosed with the scenario's own truststore, so its title is
the cause tlskit finds; the scenario's answer.json cause is printed next to it for checking.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tlskit  # noqa: E402
from tlskit import plot  # noqa: E402
from tlskit.diagnose import diagnose  # noqa: E402

DATA = ROOT / "data"
# One ladder per kind of outcome: each cause at least once, plus HRR and resumption.
LADDERS = [
    "ok_tls13",
    "ok_tls12",
    "ok_hrr_tls13",
    "ok_resumption_tls13",
    "protocol_old_server",
    "cipher_mismatch_tls12",
    "hostname_mismatch_tls13",
    "incomplete_chain_tls12",
    "unknown_ca_tls13",
    "expired_tls12",
    "sni_missing_tls12",
    "sni_unrecognized_tls13",
    "mtls_missing_tls12",
    "tcp_reset_after_client_hello",
]


def load(capture: Path, keylog: Path | None) -> Any:
    return tlskit.load(capture, keylog=keylog if keylog is not None and keylog.exists() else None)


def render(out: Path) -> list[Path]:
    written: list[Path] = []
    sample = DATA / "sample"
    cap = load(sample / "capture.pcap", sample / "keys.log")
    diag = diagnose(cap, truststore=sample / "truststore.pem")
    with plot.style():
        written += plot.save(plot.timeline(cap, diagnosis=diag, align="start"), out / "timeline")
        written += plot.save(plot.timeline(cap, diagnosis=diag), out / "timeline-capture-clock")
        written += plot.save(plot.latency_plot(cap, diagnosis=diag), out / "latency")
        for name in LADDERS:
            folder = DATA / "scenarios" / name
            if not folder.is_dir():
                print(f"skip {name}: {folder} missing", file=sys.stderr)
                continue
            answer = json.loads((folder / "answer.json").read_text())
            scap = load(folder / "capture.pcap", folder / "keys.log")
            sdiag = diagnose(scap, truststore=folder / "truststore.pem")
            # The failing connection (the last one for resumption: the resumed handshake).
            conn_id = int(scap.connections["conn_id"].iloc[-1])
            found = sdiag.loc[sdiag["conn_id"] == conn_id, "cause"].astype(str).tolist()
            print(f"{name}: answer {answer.get('cause')}, diagnosed {found[0] if found else '-'}")
            written += plot.save(plot.ladder(scap, conn_id, diagnosis=sdiag), out / f"ladder-{name}")
            matplotlib.pyplot.close("all")
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    for path in render(args.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
