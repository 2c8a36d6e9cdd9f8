"""Write a large, realistic benchmark capture by replaying real lab handshakes.

The templates are the lab's captures in data/scenarios/*/capture.pcap: real OpenSSL and Java
(JSSE) handshakes, TLS 1.2 and 1.3, successful and failing (alerts, resets, resumption,
HelloRetryRequest, mutual TLS). Each template connection is turned back into what the two
stacks wrote (a :class:`tlskit.lab._pcap.Transcript`) and laid out again with the lab's TCP
model under a new 4-tuple and start time:

- client addresses 10.64.0.0/10 with rotating ephemeral ports, 40 servers on 443, 8443,
  9000 and 3000 (ports tshark does not all associate with TLS);
- every 10th connection with a 200-byte MSS, so ClientHellos and server flights span
  several segments;
- every 40th connection a successful one moving 192 KiB down and 24 KiB up in
  application-data records;
- connections overlapping in time (a new one every 2 ms).

Usage::

    python benchmarks/make_capture.py [OUT] [--connections 50000]

OUT defaults to benchmarks/out/bench.pcap (git-ignored). Nothing from outside the project
is read; the result is deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tlskit.lab._pcap import (  # noqa: E402 (after the path setup above)
    ACK,
    FIN,
    RST,
    SYN,
    Endpoint,
    Packet,
    Timing,
    Transcript,
    _frame,
    read_pcap,
    tcp_packets,
)

SERVER_PORTS = (443, 443, 443, 8443, 9000, 3000)
BULK_RECORD = 16384


@dataclass
class Template:
    name: str
    transcript: Transcript
    ok: bool  # the handshake completed: application data may follow


def _connections(path: Path) -> list[Transcript]:
    """The lab capture's TCP connections as transcripts (the lab writes clean, in-order pcaps)."""
    _, records = read_pcap(path)
    conns: dict[tuple[bytes, int, bytes, int], tuple[Transcript, tuple[bytes, int]]] = {}
    order: list[Transcript] = []
    for _, frame in records:
        if struct.unpack_from("!H", frame, 12)[0] != 0x0800:
            continue
        ip = 14
        ihl = (frame[ip] & 0x0F) * 4
        if frame[ip + 9] != 6:
            continue
        src, dst = frame[ip + 12:ip + 16], frame[ip + 16:ip + 20]
        tcp = ip + ihl
        sport, dport = struct.unpack_from("!HH", frame, tcp)
        flags = frame[tcp + 13]
        payload = frame[tcp + (frame[tcp + 12] >> 4) * 4:ip + struct.unpack_from("!H", frame, ip + 2)[0]]
        key = (src, sport, dst, dport)
        if key not in conns and (dst, dport, src, sport) not in conns:
            if not flags & SYN or flags & ACK:
                continue  # start only at a client SYN
            t = Transcript()
            conns[key] = (t, (src, sport))
            order.append(t)
        entry = conns.get(key) or conns[(dst, dport, src, sport)]
        transcript, client = entry
        direction = "c2s" if (src, sport) == client else "s2c"
        if payload:
            last = transcript.events[-1] if transcript.events else None
            if last is not None and getattr(last, "direction", None) == direction:
                transcript.events[-1] = type(last)(direction, last.data + payload)  # type: ignore[call-arg, union-attr]
            else:
                transcript.write(direction, payload)
        if flags & (FIN | RST):
            transcript.close("client" if direction == "c2s" else "server", "rst" if flags & RST else "fin")
    return order


def load_templates(scenarios: Path) -> list[Template]:
    templates = []
    for capture in sorted(scenarios.glob("*/capture.pcap")):
        name = capture.parent.name
        for t in _connections(capture):
            ok = name.startswith(("ok_", "java_ok_")) and any(getattr(e, "direction", "") == "s2c" for e in t.events)
            templates.append(Template(name, t, ok))
    if not templates:
        raise SystemExit(f"no lab captures under {scenarios}: run the lab first (tlskit.lab.build)")
    return templates


def _with_bulk(t: Transcript, rng: random.Random, size: int) -> Transcript:
    """The transcript with `size` bytes of application-data records each way before the close."""
    block = rng.randbytes(BULK_RECORD)
    records = b"".join(
        b"\x17\x03\x03" + struct.pack("!H", BULK_RECORD) + block for _ in range(max(1, size // BULK_RECORD))
    )
    events = list(t.events)
    at = next((i for i, e in enumerate(events) if not hasattr(e, "direction")), len(events))
    out = Transcript(events[:at])
    out.write("c2s", records[: len(records) // 8])  # an upload, then a larger download
    out.write("s2c", records)
    out.events.extend(events[at:])
    return out


def generate(out: Path, connections: int, seed: int, start: float = 1_767_225_600.0) -> dict[str, float]:
    templates = load_templates(ROOT / "data" / "scenarios")
    ok = [t for t in templates if t.ok]
    rng = random.Random(seed)
    timing = Timing(seed=seed)
    servers = [f"172.20.{i // 200}.{10 + i % 200}" for i in range(40)]
    heap: list[tuple[float, int, Packet]] = []
    n_packets = n_bytes = bulk = 0
    tie = 0
    span = 2.0  # no connection lasts longer than this (bulk ones take ~0.1 s at 100 Mbit/s)
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))

        def flush(until: float) -> None:
            nonlocal n_packets, n_bytes
            while heap and heap[0][0] < until:
                t, _, p = heapq.heappop(heap)
                frame = _frame(p)
                usec = round(t * 1_000_000)
                fh.write(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)))
                fh.write(frame)
                n_packets += 1
                n_bytes += 16 + len(frame)

        for i in range(connections):
            t0 = start + i * 0.002 + rng.uniform(0, 0.0015)
            template = templates[i % len(templates)]
            transcript = template.transcript
            if i % 40 == 7:  # every 40th: a successful connection moving bulk data
                transcript = _with_bulk(ok[(i // 40) % len(ok)].transcript, rng, 192 * 1024)
                bulk += 1
            client = Endpoint(f"10.{64 + (i >> 16) % 64}.{(i >> 8) & 0xFF}.{i & 0xFF}", 32768 + (i * 7) % 28000)
            server = Endpoint(servers[i % len(servers)], SERVER_PORTS[i % len(SERVER_PORTS)])
            mss = 200 if i % 10 == 3 else 1460
            for p in tcp_packets(transcript, client, server, t0, timing, mss=mss):
                tie += 1
                heapq.heappush(heap, (p.time, tie, p))
            flush(t0 - span)
        flush(float("inf"))
    return {
        "connections": connections, "bulk_connections": bulk, "packets": n_packets,
        "bytes": out.stat().st_size, "templates": len(templates), "seconds": time.perf_counter() - started,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", type=Path, default=ROOT / "benchmarks" / "out" / "bench.pcap")
    ap.add_argument("--connections", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    stats = generate(args.out, args.connections, args.seed)
    args.out.with_suffix(args.out.suffix + ".json").write_text(json.dumps(stats, indent=1))
    print(f"{args.out}: " + ", ".join(f"{k}={v:,.0f}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in stats.items()))


if __name__ == "__main__":
    main()
