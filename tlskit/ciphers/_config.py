"""ServerConfig: what one TLS endpoint accepts, whichever source it was read from."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tlskit import registry
from tlskit.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass(frozen=True)
class ServerConfig:
    """The versions and cipher suites a TLS endpoint accepts, and where that knowledge came from.

    Attributes
    ----------
    versions : frozenset[int]
        Protocol versions enabled (0x0303 TLSv1.2, 0x0304 TLSv1.3, ...).
    cipher_suites : list[int]
        TLS <= 1.2 cipher suites, in the endpoint's preference order.
    tls13_suites : list[int]
        TLS 1.3 cipher suites (configured separately in OpenSSL and nginx), in order.
    sni_required : bool or None
        True when the endpoint refuses a handshake without a (known) server_name; None: unknown.
    server_names : list[str]
        Host names the endpoint serves (nginx server_name, Apigee host aliases).
    source : str
        Kind of source: openssl, nginx, apigee-target, apigee-targetserver, apigee-virtualhost,
        jsse, capture, probe, list.
    origin : str
        Where it was read from (a path, "text", "host:port", "capture.pcap conn 3").
    caveats : list[str]
        What this knowledge depends on (OpenSSL build and security level, assumed defaults).
    """

    versions: frozenset[int]
    cipher_suites: list[int]
    tls13_suites: list[int] = field(default_factory=list)
    sni_required: bool | None = None
    server_names: list[str] = field(default_factory=list)
    source: str = "list"
    origin: str = ""
    caveats: list[str] = field(default_factory=list)
    #: which stack enables suites at this endpoint: "openssl" or "java" (decides fix syntax)
    stack: str = "openssl"
    #: the endpoint picks by its own suite order (nginx ssl_prefer_server_ciphers on, JSSE
    #: servers by default), not the client's
    server_order: bool = False
    #: supported groups (key exchange: x25519, secp256r1, ffdhe2048, ...) in preference order;
    #: empty when the source does not say
    groups: list[int] = field(default_factory=list)

    @property
    def all_suites(self) -> list[int]:
        """TLS 1.3 suites first, then TLS <= 1.2 suites (each in preference order)."""
        return [*self.tls13_suites, *self.cipher_suites]

    def replace(self, **changes: object) -> ServerConfig:
        """A copy with fields changed (what-if edits never modify this config)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def with_suites(self, *, add: Iterable[int | str] = (), remove: Iterable[int | str] = ()) -> ServerConfig:
        """A copy with suites enabled (appended) or disabled; TLS 1.3 suites go to tls13_suites."""
        drop = {_code(s) for s in remove}
        t13 = [c for c in self.tls13_suites if c not in drop]
        t12 = [c for c in self.cipher_suites if c not in drop]
        for s in add:
            c = _code(s)
            target = t13 if registry.cipher_suite(c).tls13 else t12
            if c not in target:
                target.append(c)
        return self.replace(cipher_suites=t12, tls13_suites=t13)

    def with_versions(self, versions: Iterable[int | str]) -> ServerConfig:
        """A copy with exactly these protocol versions enabled."""
        return self.replace(versions=frozenset(_version(v) for v in versions))

    def describe(self) -> pd.DataFrame:
        """One row per enabled suite.

        Returns
        -------
        DataFrame with columns: position (preference, 0 first), code (UInt16), name,
        openssl_name, java_name, tls13, strength.
        """
        import pandas as pd

        rows = []
        for i, c in enumerate(self.all_suites):
            s = registry.cipher_suite(c)
            rows.append({"position": i, "code": c, "name": registry.cipher_suite_name(c),
                         "openssl_name": s.openssl_name, "java_name": s.java_name, "tls13": s.tls13,
                         "strength": s.strength})
        df = pd.DataFrame(rows, columns=["position", "code", "name", "openssl_name", "java_name", "tls13",
                                         "strength"])
        return df.astype({"position": "UInt16", "code": "UInt16", "name": "string", "openssl_name": "string",
                          "java_name": "string", "tls13": "boolean", "strength": "string"})

    def summary(self) -> str:
        vs = ", ".join(registry.version_name(v) for v in sorted(self.versions)) or "none"
        return (f"{self.source} ({self.origin or 'inline'}): versions {vs}; "
                f"{len(self.cipher_suites)} TLS<=1.2 suites, {len(self.tls13_suites)} TLS 1.3 suites")

    def _repr_html_(self) -> str:
        import html

        caveats = "".join(f"<li>{html.escape(c)}</li>" for c in self.caveats)
        return (f"<div><b>ServerConfig</b>: {html.escape(self.summary())}"
                f"{'<ul>' + caveats + '</ul>' if caveats else ''}</div>"
                + self.describe().to_html(index=False))


def _code(s: int | str) -> int:
    c = registry.cipher_suite_code(s)
    if c is None:
        raise ConfigError(f"unknown cipher suite {s!r}",
                          fix="use an IANA (TLS_...), OpenSSL (ECDHE-RSA-...) or Java name, or a hex code")
    return c


def _version(v: int | str) -> int:
    c = registry.version_code(v)
    if c is None:
        raise ConfigError(f"unknown protocol version {v!r}", fix="use TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3")
    return c


def groups_from_names(names: Iterable[str], *, origin: str = "") -> list[int]:
    """Group codes for names as OpenSSL, nginx and Java spell them (X25519, prime256v1, P-384)."""
    out: list[int] = []
    for n in names:
        n = n.strip()
        if not n:
            continue
        c = registry.group_code(n)
        if c is None:
            raise ConfigError(f"unknown group {n!r}", path=origin or None,
                              fix="use names such as X25519, prime256v1 (secp256r1), secp384r1, ffdhe2048")
        if c not in out:
            out.append(c)
    return out


def suites_from_names(names: Iterable[str], *, origin: str = "") -> tuple[list[int], list[int], list[str]]:
    """Split names into (TLS<=1.2 codes, TLS 1.3 codes, unknown names), keeping order, no repeats."""
    t12: list[int] = []
    t13: list[int] = []
    unknown: list[str] = []
    for n in names:
        n = n.strip()
        if not n:
            continue
        c = registry.cipher_suite_code(n)
        if c is None:
            unknown.append(n)
            continue
        target = t13 if registry.cipher_suite(c).tls13 else t12
        if c not in target:
            target.append(c)
    return t12, t13, unknown


__all__ = ["ServerConfig", "suites_from_names"]
