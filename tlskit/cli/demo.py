"""`tlskit demo DATA_DIR`: the main job on the bundled sample (what `make demo` runs).

Loads DATA_DIR/sample/capture.pcap with its key log, diagnoses every handshake against the
sample truststore, writes the diagnosis (CSV, JSON) and the shareable HTML report to --out,
and prints where they are.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tlskit.errors import CaptureError, TlskitError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="diagnose the bundled sample capture and write the report")
    p.add_argument("data", type=Path, nargs="?", default=Path("data"), help="the data/ directory")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="where to write the results")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import tlskit

    sample = args.data / "sample"
    capture_path = sample / "capture.pcap"
    if not capture_path.is_file():
        raise CaptureError("no sample capture here", path=capture_path,
                           fix="run from the tlskit checkout, or rebuild it: python scripts/rebuild_data.py")
    keylog = sample / "keys.log"
    truststore = sample / "truststore.pem"
    if args.out.exists() and not args.out.is_dir():
        raise TlskitError("--out is a file, not a folder", path=args.out, fix="give a folder to write the results into")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TlskitError(f"cannot create the output folder ({exc.strerror})", path=args.out,
                          fix="give a folder you can write to with --out") from exc

    print(f"Loading {capture_path} with key log {keylog.name} ...", flush=True)
    cap = tlskit.load(capture_path, keylog=keylog if keylog.exists() else None)
    print(f"  {len(cap.connections)} TLS connections, {len(cap.messages)} TLS messages, "
          f"{len(cap.certificates)} certificates", flush=True)
    from tlskit.diagnose import diagnose

    dx = diagnose(cap, truststore=truststore if truststore.exists() else None)

    csv_path, json_path = args.out / "diagnosis.csv", args.out / "diagnosis.json"
    dx.drop(columns=["evidence"]).to_csv(csv_path, index=False)
    records = json.loads(dx.to_json(orient="records", date_format="iso"))
    json_path.write_text(json.dumps(records, indent=2, ensure_ascii=False))

    from tlskit.cli.diagnose import to_text

    print()
    print(to_text(dx))
    print()
    print(f"Diagnosis: {csv_path.resolve()}")
    print(f"           {json_path.resolve()}")

    try:
        from tlskit.report import render_report
    except ImportError:  # the report module is optional until notebooks are installed
        print("(HTML report skipped: install the notebook extras: pip install -e '.[notebooks]')", file=sys.stderr)
        return 0
    report = args.out / "report.html"
    print("Writing the HTML report (runs the postmortem notebook) ...", flush=True)
    render_report(capture_path, out=report, keylog=keylog if keylog.exists() else None,
                  truststore=truststore if truststore.exists() else None)
    print(f"Report:    {report.resolve()}")
    return 0
