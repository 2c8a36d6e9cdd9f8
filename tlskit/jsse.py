"""Read a Java `-Djavax.net.debug=ssl:handshake` log into tlskit's tables.

An Apigee message processor (or any JVM) writes this log when asked; an analyst without a
packet capture still gets `messages`, `connections` and `certificates` frames from it, and
therefore a diagnosis. What the log cannot tell is left <NA>: it names no IP addresses or
ports, and it prints certificates as text (no DER), so `der` and `sha256` stay empty.

The log is a sequence of entries ``javax.net.ssl|LEVEL|TID|THREAD|TIME|SOURCE|MESSAGE``, each
optionally followed by a body in a JSON-like layout. Handshake entries say "Produced X
handshake message" (this JVM sent X) or "Consuming X handshake message" (the peer sent X).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tlskit import registry, schema
from tlskit.errors import CaptureError

_HEADER = re.compile(
    r"^javax\.net\.ssl\|(?P<level>[A-Z]+)\|(?P<tid>[^|]*)\|(?P<thread>[^|]*)\|(?P<time>[^|]*)\|"
    r"(?P<source>[^|]*)\|(?P<message>.*)$"
)
_HANDSHAKE = re.compile(r"^(?P<verb>Produced|Consuming) (?:(?P<who>client|server) )?(?P<name>[A-Za-z]+) "
                        r"(?:handshake )?message")
_FATAL = re.compile(r"^Fatal \((?P<desc>[A-Z_]+)\): (?P<text>.*)")
_CODE = re.compile(r"\(0x([0-9A-Fa-f]{4})\)")
_VERSIONS = {"SSLv3": 0x0300, "TLSv1": 0x0301, "TLSv1.0": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303,
             "TLSv1.3": 0x0304}
# JSSE's message names -> TLS handshake type codes (RFC 8446 / 5246)
_TYPES = {"ClientHello": 1, "ServerHello": 2, "HelloRetryRequest": 2, "NewSessionTicket": 4,
          "EncryptedExtensions": 8, "Certificate": 11, "ServerKeyExchange": 12, "CertificateRequest": 13,
          "ServerHelloDone": 14, "CertificateVerify": 15, "ClientKeyExchange": 16, "Finished": 20,
          "CertificateStatus": 22, "KeyUpdate": 24}


@dataclass
class _Entry:
    level: str
    thread: str
    time: pd.Timestamp
    message: str
    body: list[str]
    line: int


@functools.cache
def _reverse(kind: str) -> dict[str, int]:
    # A name -> code index built from the registry's own names (so it follows its data).
    name_of: Callable[[int], str] = {"group": registry.group_name, "sigscheme": registry.signature_scheme_name,
                                     "alert": registry.alert_name}[kind]
    top = 256 if kind == "alert" else 65536
    out: dict[str, int] = {}
    for code in range(top):
        name = name_of(code)
        if not name.startswith("unknown(") and name != "GREASE":
            out.setdefault(name.lower(), code)
    return out


def _entries(lines: list[str]) -> Iterator[_Entry]:
    current: _Entry | None = None
    for number, line in enumerate(lines, 1):
        m = _HEADER.match(line)
        if m:
            if current:
                yield current
            stamp = pd.to_datetime(m["time"].replace(" UTC", ""), utc=True, errors="coerce")
            current = _Entry(m["level"], f'{m["tid"]}|{m["thread"]}', stamp, m["message"], [], number)
        elif current is not None:
            current.body.append(line)
    if current:
        yield current


def _field(body: list[str], key: str) -> str | None:
    pattern = re.compile(r'^\s*"' + re.escape(key) + r'"\s*:\s*"?(.*?)"?,?\s*$')
    for line in body:
        m = pattern.match(line)
        if m:
            return m[1]
    return None


def _list_after(body: list[str], extension: str, key: str) -> list[str]:
    inside = False
    for line in body:
        if f'"{extension}' in line:
            inside = True
        elif inside:
            m = re.match(r'^\s*"' + re.escape(key) + r'"\s*:\s*\[(.*)\]', line)
            if m:
                return [v.strip() for v in m[1].split(",") if v.strip()]
            if re.match(r'^\s*"[a-z_]+ \(\d+\)"', line):  # next extension
                return []
    return []


def _extension_codes(body: list[str]) -> list[int]:
    return [int(m[1]) for line in body for m in [re.match(r'^\s*"[a-z0-9_]+ \((\d+)\)"\s*:', line)] if m]


@dataclass
class _Conn:
    conn_id: int
    role: str  # this JVM's role: client or server
    thread: str
    first_line: int
    start: pd.Timestamp
    end: pd.Timestamp
    row: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    certs: list[dict[str, Any]] = field(default_factory=list)
    finished: set[str] = field(default_factory=set)


def _direction(conn: _Conn, produced: bool) -> str:
    client_sent = (conn.role == "client") == produced
    return "c2s" if client_sent else "s2c"


def _side(conn: _Conn, produced: bool) -> str:
    return "client" if _direction(conn, produced) == "c2s" else "server"


def _client_hello(conn: _Conn, body: list[str]) -> None:
    suites = [int(c, 16) for c in _CODE.findall(_field(body, "cipher suites") or "")]
    versions = [_VERSIONS[v] for v in _list_after(body, "supported_versions (43)", "versions") if v in _VERSIONS]
    legacy = _VERSIONS.get(_field(body, "client version") or "")
    sni = None
    for line in body:
        m = re.search(r"type=host_name \(0\), value=([^\s,}]+)", line)
        if m:
            sni = m[1]
    groups = [_reverse("group").get(g.lower()) for g in _list_after(body, "supported_groups (10)", "versions")]
    sigs = [_reverse("sigscheme").get(s.lower()) for s in
            _list_after(body, "signature_algorithms (13)", "signature schemes")]
    alpn = [a.strip('"') for a in _list_after(body, "application_layer_protocol_negotiation (16)", "")]
    conn.row.update(
        sni=sni, client_legacy_version=legacy, client_versions=versions,
        client_max_version=max(versions or [legacy or 0]) or None,
        offered_ciphers=[c for c in suites if not registry.is_grease(c)],
        offered_cipher_names=[registry.cipher_suite_name(c) for c in suites if not registry.is_grease(c)],
        offered_extensions=_extension_codes(body), offered_groups=[g for g in groups if g is not None],
        offered_sig_algs=[s for s in sigs if s is not None], alpn_offered=alpn,
    )


def _server_hello(conn: _Conn, body: list[str], hrr: bool) -> None:
    codes = _CODE.findall(_field(body, "cipher suite") or "")
    selected = _list_after(body, "supported_versions (43)", "selected version")
    version = _VERSIONS.get(selected[0]) if selected else _VERSIONS.get(_field(body, "server version") or "")
    if hrr:
        conn.row["hello_retry_request"] = True
    if codes:
        conn.row["cipher_suite"] = int(codes[0], 16)
        conn.row["cipher_suite_name"] = registry.cipher_suite_name(int(codes[0], 16))
    if version:
        conn.row["version"] = version
        conn.row["version_name"] = registry.version_name(version)
    conn.row["server_extensions"] = _extension_codes(body)


def _certificates(conn: _Conn, body: list[str], side: str, entry: _Entry) -> None:
    chain: list[dict[str, Any]] = []
    for line in body:
        m = re.match(r'^\s*"(serial number|signature algorithm|issuer|not before|not  after|subject|'
                     r'subject public key)"\s*:\s*"(.*)",?\s*$', line)
        if not m:
            continue
        key, value = m[1], m[2]
        if key == "version" or (key == "serial number"):
            chain.append({"serial": value.replace(":", "").lower().lstrip("0") or "0"})
        elif chain:
            target = chain[-1]
            if key == "signature algorithm":
                target["signature_algorithm"] = value
            elif key == "issuer":
                target["issuer"] = value
            elif key == "subject":
                target["subject"] = value
                cn = re.search(r"CN=([^,]+)", value)
                target["subject_cn"] = cn[1] if cn else None
            elif key == "not before":
                target["not_before"] = pd.to_datetime(value.replace(" UTC", ""), utc=True, errors="coerce")
            elif key == "not  after":
                target["not_after"] = pd.to_datetime(value.replace(" UTC", ""), utc=True, errors="coerce")
            elif key == "subject public key":
                target["key_type"] = value
    for position, cert in enumerate(chain):
        cert.update(conn_id=conn.conn_id, side=side, position=position, time=entry.time,
                    self_signed=bool(cert.get("subject")) and cert.get("subject") == cert.get("issuer"),
                    parse_error="from a JSSE debug log: no DER, fingerprint or extensions")
        conn.certs.append(cert)
    if side == "client":
        conn.row["client_certificate_sent"] = bool(chain)
    else:
        conn.row["server_certificate_visible"] = True


def _message_row(conn: _Conn, entry: _Entry, produced: bool, content_type: int, **kw: Any) -> None:
    conn.messages.append({
        "conn_id": conn.conn_id, "seq": len(conn.messages), "frame": None, "time": entry.time,
        "direction": _direction(conn, produced), "content_type": content_type,
        "content_type_name": registry.content_type_name(content_type), "encrypted": False, "decrypted": False,
        **kw,
    })


def _alert(conn: _Conn, entry: _Entry, produced: bool, level: int, desc: str) -> None:
    code = _reverse("alert").get(desc.lower())
    _message_row(conn, entry, produced, 21, alert_level=level, alert_level_name=registry.alert_level_name(level),
                 alert_description=code, alert_description_name=desc.lower())
    if code is not None:
        conn.row["last_alert"], conn.row["last_alert_name"] = code, desc.lower()
    if level == 2 and "alert" not in conn.row:
        conn.row.update(alert=code, alert_name=desc.lower(), alert_from=_side(conn, produced))


def read_jsse_lines(lines: list[str], *, source: str = "<log>") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Parse log lines into (messages, connections, certificates) frames (tlskit.schema)."""
    conns: list[_Conn] = []
    by_thread: dict[str, _Conn] = {}
    for entry in _entries(lines):
        msg = entry.message.strip()
        m = _HANDSHAKE.match(msg)
        conn = by_thread.get(entry.thread)
        if m and m["name"] == "ClientHello":
            produced = m["verb"] == "Produced"
            if conn is None or conn.messages:  # a new handshake on this thread
                conn = _Conn(len(conns), "client" if produced else "server", entry.thread, entry.line,
                             entry.time, entry.time)
                conns.append(conn)
                by_thread[entry.thread] = conn
        if conn is None:
            continue
        conn.end = entry.time if pd.notna(entry.time) else conn.end
        if m:
            produced = m["verb"] == "Produced"
            name = m["name"]
            if name == "ChangeCipherSpec":
                _message_row(conn, entry, produced, 20)
                continue
            htype = _TYPES.get(name)
            if htype is None:
                continue
            _message_row(conn, entry, produced, 22, handshake_type=htype,
                         handshake_type_name="hello_retry_request" if name == "HelloRetryRequest"
                         else registry.handshake_type_name(htype))
            if name == "ClientHello" and "client_max_version" not in conn.row:
                conn.row["client_hello_time"] = entry.time
                _client_hello(conn, entry.body)
            elif name in ("ServerHello", "HelloRetryRequest"):
                conn.row.setdefault("server_hello_time", entry.time)
                _server_hello(conn, entry.body, name == "HelloRetryRequest")
            elif name == "Certificate":
                _certificates(conn, entry.body, _side(conn, produced), entry)
            elif name == "CertificateRequest":
                conn.row["certificate_requested"] = True
            elif name == "Finished":
                conn.finished.add(_side(conn, produced))
                if len(conn.finished) == 2:
                    conn.row["handshake_end_time"] = entry.time
        elif msg.startswith("Received alert message"):
            level = {"warning": 1, "fatal": 2}.get(_field(entry.body, "level") or "", 2)
            _alert(conn, entry, False, level, _field(entry.body, "description") or "unknown")
        elif msg.startswith(("Produced alert message", "Generated alert message")):
            level = {"warning": 1, "fatal": 2}.get(_field(entry.body, "level") or "", 2)
            _alert(conn, entry, True, level, _field(entry.body, "description") or "unknown")
        else:
            f = _FATAL.match(msg)
            if f and not f["text"].startswith("Received fatal alert"):
                # This JVM detected the error and sends this fatal alert (JSSE logs no separate line).
                _alert(conn, entry, True, 2, f["desc"])
                conn.row.setdefault("notes", []).append(f"{conn.role} error: {f['text'][:200]}")
    return _frames(conns, source)


def _frames(conns: list[_Conn], source: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows, messages, certs = [], [], []
    for conn in conns:
        established = len(conn.finished) == 2
        row = {
            "conn_id": conn.conn_id, "start_time": conn.start, "end_time": conn.end,
            "established": established, "decrypted": True, "partial": False,
            "hello_retry_request": conn.row.pop("hello_retry_request", False),
            "certificate_requested": conn.row.pop("certificate_requested", False),
            "notes": [f"from a JSSE debug log ({source}, line {conn.first_line}, thread {conn.thread}); "
                      f"this JVM was the {conn.role}; no addresses or ports in such logs",
                      *conn.row.pop("notes", [])],
            **conn.row,
        }
        if established and pd.notna(row.get("client_hello_time")):
            row["handshake_duration"] = row["handshake_end_time"] - row["client_hello_time"]
        rows.append(row)
        messages += conn.messages
        certs += conn.certs
    return (schema.conform(messages, schema.MESSAGES), schema.conform(rows, schema.CONNECTIONS),
            schema.conform(certs, schema.CERTIFICATES))


def load_jsse_log(path: str | Path) -> Any:
    """Load a Java ``-Djavax.net.debug=ssl:handshake`` (or ``=all``) log as a Capture.

    Returns
    -------
    tlskit.capture.Capture with ``engine == "jsse-log"``: ``messages`` (frame <NA>: logs have no
    frames), ``connections`` (addresses <NA>), ``certificates`` (no DER). Diagnose it like any
    capture.
    """
    p = Path(path)
    if not p.exists():
        raise CaptureError("no such file", path=p, fix="check the path of the Java debug log")
    if p.is_dir():
        raise CaptureError("is a directory, not a log file", path=p, fix="pass the log file itself")
    text = p.read_text(errors="replace")
    lines = text.splitlines()
    if not any(_HEADER.match(line) for line in lines[:5000]):
        raise CaptureError(
            "holds no javax.net.ssl debug entries", path=p,
            fix="run the JVM with -Djavax.net.debug=ssl:handshake (Java 11+ format) and pass its output")
    messages, connections, certificates = read_jsse_lines(lines, source=p.name)
    from tlskit.capture import Capture

    return Capture(path=p, messages=messages, connections=connections, certificates=certificates,
                   engine="jsse-log")
