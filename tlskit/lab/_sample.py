"""The demo sample: several scenarios merged into one capture, as on a busy message processor."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tlskit.errors import LabError
from tlskit.lab._artifacts import write_json
from tlskit.lab._pcap import merge_pcaps, read_pcap

if TYPE_CHECKING:
    from tlskit.lab import LabResult

SAMPLE = (
    "ok_tls13",
    "expired_tls12",
    "sni_missing_tls12",
    "ok_tls12",
    "hostname_mismatch_tls13",
    "incomplete_chain_tls12",
    "protocol_old_server",
    "ok_resumption_tls13",
    "cipher_mismatch_tls12",
    "mtls_missing_tls12",
    "tcp_reset_after_client_hello",
    "unknown_ca_tls13",
    "java_hostname_mismatch_tls12",
    "java_sni_missing_tls12",
)
"""Scenarios in the sample capture, in the order their first connection starts."""


def build_sample(results: list[LabResult], outdir: str | Path) -> Path:
    """Merge built scenarios from :data:`SAMPLE` into ``outdir/capture.pcap``.

    Writes ``capture.pcap``, ``keys.log`` (all secrets), ``truststore.pem|.jks|.p12`` (the
    client's, shared by every scenario of one build) and ``answers.json``: one answer per
    scenario with its client address and port, to join on the connections table.
    Scenarios that were skipped (no JDK) are left out. Returns the capture's path.
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    chosen = [r for name in SAMPLE for r in results if r.name == name and r.capture]
    if not chosen:
        raise LabError("none of the sample's scenarios was built",
                       fix=f"build them first: {', '.join(SAMPLE)}")
    clients = [(r.answer["client"]["ip"], r.answer["client"]["port"]) for r in chosen]
    if len(set(clients)) != len(clients):
        raise LabError("two sample scenarios share a client address and port",
                       fix="change a scenario name or the endpoint seed in tlskit.lab")
    _, first = read_pcap(chosen[0].capture)  # type: ignore[arg-type]
    capture = merge_pcaps([r.capture for r in chosen if r.capture], out / "capture.pcap",
                          start=first[0][0], gap=0.8)
    keys = [r.keylog.read_text(encoding="utf-8") for r in chosen if r.keylog]
    (out / "keys.log").write_text("".join(keys), encoding="utf-8")
    for kind in ("truststore_pem", "truststore_jks", "truststore_p12"):
        src = chosen[0].artifacts.get(kind)
        if src:
            shutil.copyfile(src, out / src.name)
    answers: list[dict[str, Any]] = [r.answer for r in chosen]
    write_json(out / "answers.json", answers)
    return capture
