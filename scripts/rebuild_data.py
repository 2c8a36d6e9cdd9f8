"""Rebuild data/: every lab scenario, the merged demo sample, and data/README.md.

    .venv/bin/python scripts/rebuild_data.py            # writes data/
    .venv/bin/python scripts/rebuild_data.py --out /tmp/d

All files come from tlskit.lab (real OpenSSL and, with a JDK, Java JSSE peers); nothing is
hand-made. Private keys stay behind: only the analyst's artifacts are copied. A rebuild makes
new keys and new capture times, so the bytes change while the content stays the same.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tlskit import lab  # noqa: E402

COMMAND = ".venv/bin/python scripts/rebuild_data.py"


def _readme(results: list[lab.LabResult], out: Path) -> str:
    built = [r for r in results if not r.skipped]
    skipped = [r for r in results if r.skipped]
    lines = [
        "# data/: lab captures with answer keys",
        "",
        "Made by `tlskit.lab` with real TLS stacks (OpenSSL 3 through Python's `ssl` module, Java",
        "JSSE 17, `openssl s_server`): nothing here is hand-made or taken from a real network.",
        f"Rebuilt on {dt.date.today().isoformat()} with:",
        "",
        f"    {COMMAND}",
        "",
        "One scenario alone: `tlskit lab OUTDIR --scenario NAME` (same content, new keys and times).",
        "Certificate validity is relative to each capture's own timestamp, so judged at the",
        "capture's time the data never expires. No private keys are committed.",
        "",
        "## sample/: the demo capture (`make demo`, the notebooks)",
        "",
        "`sample/capture.pcap` merges these scenarios into one file, one TCP connection each",
        "(two for the resumption case), each from its own client address and port:",
        "",
    ]
    for name in lab.SAMPLE:
        r = next((x for x in built if x.name == name), None)
        if r:
            a = r.answer
            lines.append(f"- `{name}` ({a['client']['ip']}:{a['client']['port']}): `{a['cause']}`")
    lines += [
        "",
        "With it: `sample/keys.log` (all secrets), `sample/truststore.pem` (also `.jks`, `.p12`,",
        "password `changeit`) and `sample/answers.json` (each scenario's answer key, with its",
        "client address and port to join on the connections table).",
        "",
        "## scenarios/<name>/",
        "",
        "| file | what |",
        "|---|---|",
        "| `capture.pcap` | the connection(s), as captured next to the client |",
        "| `keys.log` | NSS key log from the OpenSSL side; absent when no secret was derived "
        "(a TLS 1.2 or pre-ServerHello failure) |",
        "| `answer.json` | cause, fault side, expected alert and sender, version, host name, "
        "stack, fix |",
        "| `truststore.pem`, `.jks`, `.p12` | the client's truststore (keytool, password "
        "`changeit`) |",
        "| `server-chain.pem` | the chain the server sends |",
        "| `nginx.conf` | the server's TLS settings (OpenSSL servers) |",
        "| `sslinfo.xml` | the client's Apigee TargetEndpoint `<SSLInfo>` |",
        "| `truststore-certinfo.json`, `keystore-certinfo.json` | Apigee management API "
        "certInfo listings |",
        "| `client-ca.pem`, `client-chain.pem` | two-way TLS: the CA the server trusts, the "
        "client's certificate |",
        "| `jsse-debug.log` | Java scenarios: the JSSE peer's `-Djavax.net.debug=ssl:handshake` |",
        "| `server-command.txt` | `openssl s_server` scenarios: the server's command line |",
        "",
        "| scenario | cause | fault | first fatal alert (sender) | version | stack |",
        "|---|---|---|---|---|---|",
    ]
    for r in built:
        a = r.answer
        alert = f"{a['alert']['name']} ({a['alert']['from']}, {a['alert']['level']})" if a["alert"] else "none"
        lines.append(f"| `{r.name}` | `{a['cause']}` | {a['fault'] or '-'} | {alert} | "
                     f"{a['tls_version']} | {a['stack']['client']} → {a['stack']['server']} |")
    if skipped:
        lines += ["", "Not built in this run:", ""]
        lines += [f"- `{r.name}`: {r.skipped}" for r in skipped]
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    lines += ["", f"Total size: {total // 1024} KB.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data")
    args = parser.parse_args()
    out: Path = args.out
    with tempfile.TemporaryDirectory(prefix="tlskit-data-") as tmp:
        results = lab.build(Path(tmp) / "build")
        scenarios = out / "scenarios"
        if scenarios.exists():
            shutil.rmtree(scenarios)
        for r in results:
            if r.skipped:
                continue
            shutil.copytree(Path(tmp) / "build" / r.name, scenarios / r.name,
                            ignore=shutil.ignore_patterns("private"))
        sample = out / "sample"
        if sample.exists():
            shutil.rmtree(sample)
        lab.build_sample(results, sample)
        (out / "README.md").write_text(_readme(results, out), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
