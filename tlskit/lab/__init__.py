"""The lab: realistic TLS failure captures from real TLS stacks, with answer keys.

    >>> from tlskit import lab
    >>> results = lab.build("out", ["expired_tls12", "sni_missing_tls13"])
    >>> results[0].answer["cause"]
    'expired_certificate'

Each scenario in :data:`SCENARIOS` is played by real stacks: OpenSSL (Python's ``ssl``) in
memory, or a Java JSSE peer over a loopback relay. What they exchanged is framed as TCP and
written as ``OUTDIR/<name>/capture.pcap`` with the key log (``keys.log``), the answer key
(``answer.json``) and the artifacts an analyst would have (truststores, server chain, nginx
and Apigee configuration, certInfo listings). Private keys the peers need stay in
``OUTDIR/<name>/private/``.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import shutil
import ssl
import tempfile
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tlskit.errors import LabError
from tlskit.lab import _artifacts as art
from tlskit.lab import _java
from tlskit.lab._openssl import PeerFiles, client_context, exchange, server_context
from tlskit.lab._pcap import Endpoint, Packet, Timing, Transcript, tcp_packets, write_pcap
from tlskit.lab._pki import DAY, Issued, Pki, pem_bundle
from tlskit.lab._sample import SAMPLE, build_sample
from tlskit.lab.scenarios import SCENARIOS, ClientSpec, Scenario, ServerSpec
from tlskit.registry import alert_name

__all__ = ["SAMPLE", "SCENARIOS", "ClientSpec", "LabResult", "Scenario", "ServerSpec", "build",
           "build_sample"]

log = logging.getLogger(__name__)

SERVER_PORT = 443
KNOWN_NAMES = ("www.backend.example",)  # the only name an SNI-strict server serves
CLIENT_IDENTITY = "mp1.apigee.example"  # the message processor's client certificate name
_ALERT_CODES = {alert_name(code): code for code in range(256)}


@dataclass(frozen=True)
class LabResult:
    """One built scenario.

    Attributes
    ----------
    name : str
    capture, keylog : Path or None
        ``capture.pcap`` and ``keys.log`` (None when skipped; keylog None if no secrets).
    answer : dict
        The answer key, as written to ``answer.json``.
    artifacts : dict[str, Path]
        Analyst artifacts by kind: truststore_pem, truststore_jks, truststore_p12,
        server_chain, nginx, sslinfo, truststore_certinfo, keystore_certinfo, client_ca,
        jsse_debug, ...
    skipped : str or None
        Why the scenario was not built (a missing JDK), else None.
    """

    name: str
    capture: Path | None
    keylog: Path | None
    answer: dict[str, Any]
    artifacts: dict[str, Path] = field(default_factory=dict)
    skipped: str | None = None


class _Lab:
    """Certificates and tools shared by the scenarios of one build."""

    def __init__(self, at: dt.datetime, workdir: Path):
        self.at = at
        self.workdir = workdir
        self.pki = Pki(at)
        p = self.pki
        self.root = p.root("tlskit Lab Root CA", "tlskit lab")
        self.issuing = p.intermediate("tlskit Lab Issuing CA 1", self.root)
        self.other_root = p.root("Unknown Corp Root CA", "Unknown Corp")
        self.other_issuing = p.intermediate("Unknown Corp Issuing CA", self.other_root)
        self.client_root = p.root("tlskit Lab Client CA", "tlskit lab clients")
        self.rogue_root = p.root("Rogue Client CA", "Rogue Corp")
        self.keytool = art.Keytool(workdir / "keytool")
        self._leaves: dict[tuple[str, str], Issued] = {}

    def server_leaf(self, kind: str, name: str) -> Issued:
        key = (kind, name)
        if key not in self._leaves:
            self._leaves[key] = self._make_server_leaf(kind, name)
        return self._leaves[key]

    def _make_server_leaf(self, kind: str, name: str) -> Issued:
        p, ca = self.pki, self.issuing
        if kind == "good":
            return p.leaf(name, ca)
        if kind == "rsa":
            return p.leaf(name, ca, key="rsa")
        if kind == "wrong_name":
            return p.leaf("other.backend.example", ca)
        if kind == "wildcard":
            return p.leaf("*.example.com", ca)
        if kind == "cn_only":
            return p.leaf(name, ca, san=[])
        if kind == "expired":
            return p.leaf(name, ca, not_before=-400 * DAY, not_after=-35 * DAY)
        if kind == "not_yet_valid":
            return p.leaf(name, ca, not_before=7 * DAY, not_after=400 * DAY)
        if kind == "self_signed":
            return p.leaf(name, None)
        if kind == "other_ca":
            return p.leaf(name, self.other_issuing)
        raise LabError(f"unknown server certificate kind {kind!r}", fix="see ServerSpec.certificate")

    def client_leaf(self, kind: str) -> Issued:
        key = ("client:" + kind, CLIENT_IDENTITY)
        if key not in self._leaves:
            p = self.pki
            self._leaves[key] = {
                "good": lambda: p.leaf(CLIENT_IDENTITY, self.client_root, client=True),
                "untrusted": lambda: p.leaf(CLIENT_IDENTITY, self.rogue_root, client=True),
                "expired": lambda: p.leaf(CLIENT_IDENTITY, self.client_root, client=True,
                                          not_before=-400 * DAY, not_after=-20 * DAY),
            }[kind]()
        return self._leaves[key]


@dataclass
class _Prepared:
    """Files one scenario's peers load, and the chain the server sends."""

    dir: Path
    server_files: PeerFiles
    client_files: PeerFiles
    server_chain: list[x509.Certificate]
    client_chain: list[x509.Certificate]
    server_names: tuple[str, ...]
    trusted: list[x509.Certificate]
    artifacts: dict[str, Path]


def _endpoints(sc: Scenario) -> tuple[Endpoint, Endpoint]:
    rng = random.Random(f"tlskit-lab:{sc.name}")
    if sc.ipv6:
        client_ip = f"fd00:20::{rng.randrange(2, 250):x}"
        server_ip = f"fd00:30::{rng.randrange(2, 250):x}"
    else:
        client_ip = f"10.20.0.{rng.randrange(2, 250)}"
        server_ip = f"10.30.0.{rng.randrange(2, 250)}"
    return Endpoint(client_ip, rng.randrange(32768, 60000)), Endpoint(server_ip, SERVER_PORT)


def _prepare(lab: _Lab, sc: Scenario, out: Path) -> _Prepared:
    private = out / "private"
    private.mkdir(parents=True, exist_ok=True)
    names = KNOWN_NAMES if sc.server.sni in ("known_only", "warn") else (sc.hostname,)
    leaf = lab.server_leaf(sc.server.certificate, names[0])
    sent = [leaf.cert] + (leaf.chain[:-1] if sc.server.send_intermediate else [])
    arts: dict[str, Path] = {}
    (private / "server-chain.pem").write_bytes(pem_bundle(sent))
    (private / "server.key").write_bytes(leaf.key_pem())
    arts["server_chain"] = out / "server-chain.pem"
    arts["server_chain"].write_bytes(pem_bundle(sent))
    trusted = [lab.root.cert]
    arts["truststore_pem"] = out / "truststore.pem"
    arts["truststore_pem"].write_bytes(pem_bundle(trusted))
    client_files = PeerFiles(cafile=arts["truststore_pem"])
    client_chain: list[x509.Certificate] = []
    server_cafile = None
    if sc.server.client_auth:
        arts["client_ca"] = out / "client-ca.pem"
        arts["client_ca"].write_bytes(pem_bundle([lab.client_root.cert]))
        server_cafile = arts["client_ca"]
    if sc.client.certificate:
        who = lab.client_leaf(sc.client.certificate)
        client_chain = [who.cert]
        (private / "client-chain.pem").write_bytes(pem_bundle(client_chain))
        (private / "client.key").write_bytes(who.key_pem())
        arts["client_chain"] = out / "client-chain.pem"
        arts["client_chain"].write_bytes(pem_bundle(client_chain))
        client_files = PeerFiles(private / "client-chain.pem", private / "client.key",
                                 arts["truststore_pem"])
    server_files = PeerFiles(private / "server-chain.pem", private / "server.key", server_cafile)
    return _Prepared(out, server_files, client_files, sent, client_chain, names, trusted, arts)


def _run_openssl(sc: Scenario, prep: _Prepared, keylog: Path) -> list[Transcript]:
    cctx = client_context(sc.client, prep.client_files, keylog)
    sctx = server_context(sc.server, prep.server_files, prep.server_names)
    transcripts = []
    session: ssl.SSLSession | None = None
    for _ in range(sc.client.connections):
        tr, session = exchange(cctx, sctx, sc, session=session)
        transcripts.append(tr)
    return transcripts


def _write_capture(sc: Scenario, transcripts: list[Transcript], path: Path, start: float) -> Path:
    client, server = _endpoints(sc)
    timing = Timing(seed=zlib.crc32(sc.name.encode()))
    packets: list[Packet] = []
    t = start
    for n, tr in enumerate(transcripts):
        c = Endpoint(client.ip, client.port + n * 2)  # a new ephemeral port per connection
        pk = tcp_packets(tr, c, server, t, timing)
        packets += pk
        t = pk[-1].time + 0.35
    return write_pcap(path, packets)


def _answer(sc: Scenario, start: float, connections: int) -> dict[str, Any]:
    client, server = _endpoints(sc)
    alert = None
    if sc.alert:
        alert = {"name": sc.alert, "code": _ALERT_CODES.get(sc.alert), "level": "fatal",
                 "from": sc.alert_from, "encrypted": sc.alert_encrypted}
    warning = None
    if sc.warning:
        warning = {"name": sc.warning[0], "code": _ALERT_CODES.get(sc.warning[0]),
                   "level": "warning", "from": sc.warning[1]}
    return {
        "scenario": sc.name,
        "description": sc.description,
        "cause": sc.cause,
        "fault": sc.fault,
        "established": sc.established,
        "alert": alert,
        "warning_alert": warning,
        "tls_version": sc.tls_version,
        "hostname": sc.hostname,
        "sni_sent": sc.client.send_sni,
        "stack": {"client": sc.client.stack, "server": sc.server.stack},
        "client": {"ip": client.ip, "port": client.port},
        "client_ports": [client.port + 2 * n for n in range(connections)],
        "server": {"ip": server.ip, "port": server.port},
        "connections": connections,
        "resumed_connection": 1 if sc.client.connections > 1 else None,
        "hello_retry_request": sc.hello_retry_request,
        "middlebox_rst": sc.middlebox_rst,
        "capture_time": dt.datetime.fromtimestamp(start, dt.timezone.utc).isoformat(),
        "fix": sc.fix,
        "truststore_password": art.STOREPASS,
    }


def _write_artifacts(lab: _Lab, sc: Scenario, prep: _Prepared) -> None:
    out, arts = prep.dir, prep.artifacts
    # nginx can say what OpenSSL servers do, except send a warning-level alert.
    if sc.server.stack == "openssl" or (sc.server.stack == "s_server" and sc.server.sni != "warn"):
        arts["nginx"] = out / "nginx.conf"
        arts["nginx"].write_text(art.nginx_snippet(sc, prep.server_names), encoding="utf-8")
    keystore = "lab-keystore" if prep.client_chain else None
    arts["sslinfo"] = out / "sslinfo.xml"
    arts["sslinfo"].write_text(art.sslinfo_xml(sc, truststore="lab-truststore", keystore=keystore,
                                               key_alias="mp-client" if keystore else None),
                               encoding="utf-8")
    arts["truststore_certinfo"] = art.write_json(
        out / "truststore-certinfo.json",
        art.store_listing("lab-truststore", [(art.alias_for(c), [c], False) for c in prep.trusted],
                          lab.at))
    if prep.client_chain:
        arts["keystore_certinfo"] = art.write_json(
            out / "keystore-certinfo.json",
            art.store_listing("lab-keystore", [("mp-client", prep.client_chain, True)], lab.at))


def _has_secrets(keylog: Path) -> bool:
    text = keylog.read_text(encoding="utf-8", errors="replace")
    return any(line.strip() and not line.startswith("#") for line in text.splitlines())


def _build_one(lab: _Lab, sc: Scenario, out: Path) -> LabResult:
    out.mkdir(parents=True, exist_ok=True)
    keylog = out / "keys.log"
    keylog.unlink(missing_ok=True)
    external = sc.needs_java or sc.server.stack == "s_server"
    if external:
        reason = _java.unavailable(sc)
        if reason:
            answer = _answer(sc, time.time(), sc.client.connections)
            return LabResult(sc.name, None, None, answer, {}, skipped=reason)
    prep = _prepare(lab, sc, out)
    for p in lab.keytool.truststores(prep.trusted, out):
        prep.artifacts["truststore_" + p.suffix.lstrip(".")] = p
    start = time.time()
    if external:
        try:
            transcripts = _run_external(lab, sc, prep, keylog)
        except LabError as err:  # one broken external peer must not sink the whole build
            return LabResult(sc.name, None, None, _answer(sc, start, 0), dict(prep.artifacts),
                             skipped=f"the {sc.stack} run failed: {err}")
    else:
        transcripts = _run_openssl(sc, prep, keylog)
    capture = _write_capture(sc, transcripts, out / "capture.pcap", start)
    if keylog.exists() and not _has_secrets(keylog):
        keylog.unlink()  # the handshake failed before any secret was derived (TLS 1.2 / early)
    answer = _answer(sc, start, len(transcripts))
    answer["keylog"] = keylog.name if keylog.exists() else None
    art.write_json(out / "answer.json", answer)
    _write_artifacts(lab, sc, prep)
    return LabResult(sc.name, capture, keylog if keylog.exists() else None, answer,
                     dict(prep.artifacts))


def _run_external(lab: _Lab, sc: Scenario, prep: _Prepared, keylog: Path) -> list[Transcript]:
    """Java or s_server scenarios: real processes over loopback, through the recording relay."""
    server_keystore = client_ca_store = client_keystore = None
    if sc.client.stack == "java" and sc.client.certificate:
        who = lab.client_leaf(sc.client.certificate)
        client_keystore = prep.dir / "private" / "client.p12"
        client_keystore.write_bytes(pkcs12.serialize_key_and_certificates(
            b"mp-client", who.key, who.cert, None,
            serialization.BestAvailableEncryption(art.STOREPASS.encode())))
    if sc.server.stack == "java":
        leaf = lab.server_leaf(sc.server.certificate, prep.server_names[0])
        server_keystore = prep.dir / "private" / "server.p12"
        server_keystore.write_bytes(pkcs12.serialize_key_and_certificates(
            b"server", leaf.key, leaf.cert, prep.server_chain[1:],
            serialization.BestAvailableEncryption(art.STOREPASS.encode())))
        if sc.server.client_auth:
            stores = lab.keytool.truststores([lab.client_root.cert], prep.dir, stem="client-ca")
            client_ca_store = next((p for p in stores if p.suffix == ".p12"), None)
            prep.artifacts.update({"client_ca_" + p.suffix.lstrip("."): p for p in stores})
    transcripts, extra = _java.run(
        sc, prep.server_files, prep.client_files, prep.server_names, keylog, prep.dir, lab.workdir,
        prep.artifacts.get("truststore_jks"), server_keystore, client_ca_store, client_keystore)
    prep.artifacts.update(extra)
    return transcripts


def build(outdir: str | Path, scenarios: Iterable[str] | None = None, *,
          progress: bool = False) -> list[LabResult]:
    """Build scenarios (all by default) into ``outdir/<name>/``.

    Parameters
    ----------
    outdir : path
        Created if missing; a scenario's folder is overwritten.
    scenarios : names from :data:`SCENARIOS`, optional
    progress : bool
        Show a progress bar (tqdm).

    Returns
    -------
    list[LabResult]
        One per scenario, in the order asked; Java scenarios without a JDK come back with
        ``skipped`` set and no capture.
    """
    names = list(scenarios) if scenarios is not None else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise LabError(f"unknown scenario(s): {', '.join(unknown)}",
                       fix="list them with `tlskit lab --list`")
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise LabError("the output folder is a file", path=out, fix="give a new or existing folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabError(f"cannot create the output folder ({exc.strerror})", path=out,
                       fix="give a folder you can write to") from exc
    at = dt.datetime.now(dt.timezone.utc)
    results: list[LabResult] = []
    with tempfile.TemporaryDirectory(prefix="tlskit-lab-") as tmp:
        lab = _Lab(at, Path(tmp))
        iterable: Iterable[str] = names
        if progress:
            from tqdm import tqdm

            iterable = tqdm(names, desc="lab", unit="scenario")
        for name in iterable:
            sc = SCENARIOS[name]
            target = out / name
            if target.exists():
                shutil.rmtree(target)
            result = _build_one(lab, sc, target)
            if result.skipped:
                log.warning("lab: %s skipped: %s", name, result.skipped)
            results.append(result)
    return results
