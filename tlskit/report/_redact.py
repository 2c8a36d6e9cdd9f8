"""Consistent redaction of IP addresses and host names, for postmortems shared outside the team.

The same address or name always becomes the same stand-in, so a redacted report still shows
that two connections went to one server, and a wildcard still matches its host:
``api.backend.example`` -> ``host-1.domain-1.example`` and ``*.backend.example`` ->
``*.domain-1.example``. Addresses come from the documentation ranges (RFC 5737, RFC 3849).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from typing import Any

import pandas as pd

from tlskit._hosts import is_ip_literal

_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
_DOC_V4 = ["192.0.2.", "198.51.100.", "203.0.113."]
# Columns of the tables that carry addresses or names (lists are redacted item by item).
_TEXT_COLUMNS = {
    "connections": ["client_ip", "server_ip", "sni", "notes"],
    "certificates": ["subject", "issuer", "subject_cn", "san_dns", "san_ip"],
    "diagnosis": ["client", "server", "sni", "summary", "remediation", "evidence"],
}


class Redactor:
    """Maps addresses and host names to stand-ins; built from a capture (and its diagnosis).

    Parameters
    ----------
    ips
        Addresses to hide (IPv4 or IPv6 text).
    hosts
        Host names to hide (a leading ``*.`` is kept).

    Attributes
    ----------
    mapping : dict[str, str]
        Original -> stand-in, for every address and name seen (and their parent domains).
    """

    def __init__(self, ips: list[str] | tuple[str, ...] = (), hosts: list[str] | tuple[str, ...] = ()) -> None:
        self.mapping: dict[str, str] = {}
        self._v4 = 0
        self._v6 = 0
        self._domains: dict[str, str] = {}
        self._hosts = 0
        for ip in sorted(set(ips), key=_ip_key):
            self._ip(ip)
        for host in sorted({h.lower().rstrip(".") for h in hosts if h}):
            self._host(host)
        self._compile()

    @classmethod
    def from_capture(cls, capture: Any, diagnosis: pd.DataFrame | None = None) -> Redactor:
        """Collect every address and name of the capture's tables (and the diagnosis text)."""
        conns, certs = capture.connections, capture.certificates
        ips = [str(v) for v in pd.concat([conns["client_ip"], conns["server_ip"]]).dropna()]
        hosts = [str(v) for v in conns["sni"].dropna()]
        if not certs.empty:
            hosts += [h for names in certs["san_dns"] for h in names]
            ips += [str(v) for ips_ in certs["san_ip"] for v in ips_]
            hosts += [str(cn) for cn in certs["subject_cn"].dropna() if _looks_like_host(str(cn))]
            for dn in pd.concat([certs["subject"], certs["issuer"]]).dropna():
                hosts += [m for m in re.findall(r"CN=([^,+]+)", str(dn)) if _looks_like_host(m)]
        if diagnosis is not None and not diagnosis.empty:
            for col in ("summary", "remediation"):
                for text in diagnosis[col].dropna():
                    ips += _IPV4.findall(str(text))
        return cls(ips, hosts)

    def _ip(self, ip: str) -> str:
        if ip in self.mapping:
            return self.mapping[ip]
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return ip
        if addr.version == 4:
            block, n = divmod(self._v4, 254)
            self._v4 += 1
            stand_in = f"{_DOC_V4[block % len(_DOC_V4)]}{n + 1}"
        else:
            self._v6 += 1
            stand_in = f"2001:db8::{self._v6:x}"
        self.mapping[ip] = stand_in
        self.mapping[str(addr)] = stand_in  # the compressed IPv6 spelling too
        return stand_in

    def _host(self, host: str) -> str:
        if host in self.mapping:
            return self.mapping[host]
        if _looks_like_ip(host):
            return self._ip(host)
        wildcard = host.startswith("*.")
        name = host[2:] if wildcard else host
        labels = name.split(".")
        # The domain a host lives in: its parent for a.b.c, itself for a two-label name and for
        # what a wildcard covers, so "*.b.c" and "a.b.c" share domain-N.
        domain = name if wildcard or len(labels) <= 2 else ".".join(labels[1:])
        if domain not in self._domains:
            self._domains[domain] = f"domain-{len(self._domains) + 1}.example"
            self.mapping[domain] = self._domains[domain]
        if wildcard:
            stand_in = "*." + self._domains[domain]
        elif domain == name:
            stand_in = self._domains[domain]
        else:
            self._hosts += 1
            stand_in = f"host-{self._hosts}.{self._domains[domain]}"
        self.mapping[host] = stand_in
        return stand_in

    def _compile(self) -> None:
        # Longest first, so "api.backend.example" is replaced before "backend.example".
        keys = sorted(self.mapping, key=len, reverse=True)
        self._pattern = re.compile(
            r"(?<![\w-])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w-]|\.\w)", re.IGNORECASE
        ) if keys else None
        self._lower = {k.lower(): v for k, v in self.mapping.items()}

    def text(self, value: str) -> str:
        """Replace every known address and name in ``value``."""
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda m: self._lower[m.group(1).lower()], value)

    def frame(self, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """A copy of ``frame`` with ``columns`` redacted (strings, and lists of strings)."""
        out = frame.copy()
        for col in columns:
            if col not in out.columns:
                continue
            if out[col].dtype == object:
                out[col] = out[col].map(lambda v: [self.text(str(x)) for x in v] if isinstance(v, list)
                                        else (self.text(v) if isinstance(v, str) else v))
            else:
                out[col] = out[col].map(lambda v: self.text(str(v)) if pd.notna(v) else v).astype(out[col].dtype)
        return out

    def capture(self, capture: Any) -> Any:
        """A copy of the capture whose tables hold stand-ins; certificates lose their DER
        (it carries the real names) and the file name is reduced to its basename."""
        certs = self.frame(capture.certificates, _TEXT_COLUMNS["certificates"])
        if "der" in certs.columns:
            certs["der"] = pd.Series([None] * len(certs), index=certs.index, dtype=object)
        changes = {
            "connections": self.frame(capture.connections, _TEXT_COLUMNS["connections"]),
            "certificates": certs,
            "warnings": [self.text(w) for w in getattr(capture, "warnings", [])],
        }
        if dataclasses.is_dataclass(capture) and not isinstance(capture, type):
            path = getattr(capture, "path", None)
            if path is not None and hasattr(path, "stem"):
                changes["path"] = type(path)(self.text(path.stem) + path.suffix)
            return dataclasses.replace(capture, **changes)
        raise TypeError(f"cannot redact a {type(capture).__name__}: expected a tlskit Capture")

    def diagnosis(self, diagnosis: pd.DataFrame) -> pd.DataFrame:
        return self.frame(diagnosis, _TEXT_COLUMNS["diagnosis"])


_looks_like_ip = is_ip_literal


def _looks_like_host(text: str) -> bool:
    return "." in text and " " not in text and not _looks_like_ip(text)


def _ip_key(ip: str) -> tuple[int, int]:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return (9, 0)
    return (addr.version, int(addr))
