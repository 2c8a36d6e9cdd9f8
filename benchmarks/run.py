"""Time tlskit's loaders against bare tshark and a pyshark loop on one capture, in one run.

Each case runs in its own Python process so that its peak memory (getrusage ru_maxrss of
the process and of its largest child) is its own:

- ``tshark-fields``: ``tshark -n -T fields`` with the fields a TLS triage extracts
  (addresses, ports, flags, record and handshake types, SNI, suites), output discarded;
- ``pyshark``: a pyshark ``FileCapture`` loop reading the same fields, over the first
  ``--pyshark-packets`` packets only (it is far too slow for the whole file) and
  extrapolated by packets/s;
- ``load-tshark``: ``tlskit.load(path, engine="tshark")``;
- ``load-native``: ``tlskit.load(path, engine="native")``;
- ``load-native-workers``: the same with ``workers=`` the number of cores (each worker reads
  the file and keeps its share of the connections; their CPU time is in ``cpu_seconds``, the
  largest worker's peak in ``peak_mb_children``);
- ``read-floor`` (optional): the least a Python reader does per packet (records, one header
  unpack, one flow-table lookup), the floor under every native case;
- ``export-native``: ``tlskit.export_parquet(path, tmpdir)``, the bounded-memory path (rows
  written as connections finish);
- ``engine-native`` / ``events-tshark`` (optional): the engine alone (the native one feeding a
  sink that keeps nothing; tshark's event stream), without building tables, to show where a
  load's time goes.

Load cases report ``import_seconds`` (pandas, pyarrow, cryptography, tlskit: once per notebook
kernel) apart from ``seconds`` (the load itself) and ``cpu_seconds`` (less noisy than wall time
on a shared machine); ``peak_mb_self`` includes the imports.

Usage::

    python benchmarks/run.py [CAPTURE] [--pyshark-packets 20000] [--out benchmarks/out/results.json]

CAPTURE defaults to benchmarks/out/bench.pcap (make it with benchmarks/make_capture.py).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIELDS = (
    "frame.number", "frame.time_epoch", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport",
    "tcp.flags", "tcp.len", "tls.record.content_type", "tls.handshake.type",
    "tls.handshake.extensions_server_name", "tls.handshake.ciphersuite", "tls.alert_message.desc",
)


def _peak_mb() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return round(me, 1), round(kids, 1)


class _NullConnection:
    """Takes the engine's calls and keeps nothing: the engine's own cost, without the tables."""

    starttls = None

    def tcp(self, *args: object) -> None:
        pass

    def unit(self, *args: object) -> None:
        pass

    def close(self) -> None:
        pass


class _NullSink:
    def __init__(self) -> None:
        self.connections = 0

    def open(self, *args: object) -> _NullConnection:
        self.connections += 1
        return _NullConnection()


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (tshark): less noisy than wall time
    on a shared machine."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def case(name: str, path: Path, pyshark_packets: int) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    result: dict[str, object] = {"case": name}
    if name == "tshark-fields":
        argv = ["tshark", "-n", "-r", str(path), "-T", "fields"] + [a for f in FIELDS for a in ("-e", f)]
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    elif name == "pyshark":
        import pyshark

        cap = pyshark.FileCapture(str(path), keep_packets=False, custom_parameters=["-c", str(pyshark_packets)])
        n = 0
        try:
            for pkt in cap:
                n += 1
                if "TCP" in pkt:
                    _ = (pkt.tcp.srcport, pkt.tcp.dstport, pkt.tcp.flags)
                if "TLS" in pkt:
                    _ = (pkt.tls.get_field("record_content_type"), pkt.tls.get_field("handshake_type"))
        finally:
            cap.close()
        result["packets_read"] = n
    elif name == "engine-native":
        from tlskit.capture._native import NativeEngine

        sink = _NullSink()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            NativeEngine(path).run(sink)  # type: ignore[arg-type]
        result["tls_connections"] = sink.connections
    elif name == "read-floor":
        # The least any Python reader does per packet: pcap records, one unpack of the
        # Ethernet/IPv4/TCP headers, one flow-table lookup (classic little-endian pcap only).
        from tlskit.capture._native._engine import _ETH_IPV4_TCP, _PCAP_LE
        from tlskit.capture._native._reader import open_capture

        started = time.perf_counter()  # (after the imports)
        reader, flows, n = open_capture(path), {}, 0
        header, headers = _PCAP_LE.unpack_from, _ETH_IPV4_TCP.unpack_from
        for block in reader.blocks():
            if block[0] != "pcap" or block[4][0] != "<":
                raise SystemExit("read-floor reads little-endian classic pcap only")
            _kind, buf, pos, stop, _layout = block
            while pos < stop:
                _sec, _frac, incl = header(buf, pos)
                route = headers(buf, pos + 16)[5]
                pos += 16 + incl
                n += 1
                flows[route] = flows.get(route, 0) + 1
        reader.close()
        result["packets_read"] = n
    elif name == "export-native":
        import tempfile

        import tlskit
        import tlskit.capture._export
        import tlskit.x509

        result["import_seconds"] = round(time.perf_counter() - started, 2)
        started, cpu = time.perf_counter(), _cpu_seconds()
        with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tlskit.export_parquet(path, out, progress=False)
            result["cpu_seconds"] = round(_cpu_seconds() - cpu, 2)
            meta = json.loads((Path(out) / "capture.json").read_text())
            result["connections"] = meta["connections"]
            result["parquet_mb"] = round(sum(f.stat().st_size for f in Path(out).iterdir()) / 1e6, 1)
    elif name == "events-tshark":
        from tlskit.capture._tshark import TsharkEngine

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result["events"] = sum(1 for _ in TsharkEngine(path).events())
    else:
        # What load() imports (pandas, pyarrow, cryptography, tlskit) is timed apart: a notebook
        # pays it once per kernel, not per capture.
        import tlskit
        import tlskit.capture._builder
        import tlskit.x509

        result["import_seconds"] = round(time.perf_counter() - started, 2)
        started, cpu = time.perf_counter(), _cpu_seconds()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            engine, _, per_core = name.removeprefix("load-").partition("-")
            workers = len(os.sched_getaffinity(0)) if per_core else 1  # "load-native-workers": one per core
            cap = tlskit.load(path, engine=engine, progress=False, workers=workers)
        result["workers"] = workers
        result["cpu_seconds"] = round(_cpu_seconds() - cpu, 2)
        result["connections"] = len(cap.connections)
        result["messages"] = len(cap.messages)
        result["certificates"] = len(cap.certificates)
        result["established"] = int(cap.connections["established"].fillna(False).sum())
    result["seconds"] = round(time.perf_counter() - started, 2)
    if "cpu_seconds" not in result:
        result["cpu_seconds"] = round(_cpu_seconds(), 2)
    result["peak_mb_self"], result["peak_mb_children"] = _peak_mb()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("capture", nargs="?", type=Path, default=ROOT / "benchmarks" / "out" / "bench.pcap")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--pyshark-packets", type=int, default=20_000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "results.json")
    ap.add_argument("--cases", default="tshark-fields,pyshark,load-native,load-native-workers,export-native,engine-native,load-tshark")
    args = ap.parse_args()
    if args.case:  # child: one measurement, JSON on stdout
        print(json.dumps(case(args.case, args.capture, args.pyshark_packets)))
        return
    stats_file = args.capture.with_suffix(args.capture.suffix + ".json")
    stats = json.loads(stats_file.read_text()) if stats_file.is_file() else {}
    packets = int(stats.get("packets", 0))
    results = {"capture": str(args.capture), "bytes": args.capture.stat().st_size, "generator": stats,
               "cpus": os.cpu_count(), "load_average": os.getloadavg(), "cases": []}
    for name in args.cases.split(","):
        out = subprocess.run(
            [sys.executable, __file__, str(args.capture), "--case", name, "--pyshark-packets", str(args.pyshark_packets)],
            capture_output=True, text=True, check=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        counted = int(r.get("packets_read", packets))  # type: ignore[call-overload]
        r["packets_per_s"] = round(counted / float(r["seconds"])) if counted else None  # type: ignore[arg-type]
        r["load_average_after"] = os.getloadavg()
        results["cases"].append(r)
        print(json.dumps(r), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
