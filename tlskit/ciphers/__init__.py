"""Offered vs supported cipher suites and protocol versions.

Read what a server accepts from wherever that knowledge lives, as one :class:`ServerConfig`,
then compare it with what a client offered::

    >>> from tlskit import ciphers
    >>> server = ciphers.read_server_config("nginx.conf")            # or a cipher string, SSLInfo XML/JSON
    >>> row = cap.connections.loc[0]                                  # a ClientHello from a capture
    >>> ciphers.compare_ciphers(row, server).fix
    'Server: add ECDHE-RSA-AES128-GCM-SHA256 to nginx ssl_ciphers; the client already offers it ...'

Sources: :func:`read_openssl` (cipher string, expanded by the local OpenSSL),
:func:`read_nginx`, :func:`read_apigee_xml` / :func:`read_apigee_json` (TargetEndpoint,
TargetServer, virtual host), :func:`read_jsse` (Java 8/11/17 defaults with
``jdk.tls.disabledAlgorithms``), :func:`read_capture` (ServerHellos) and :func:`probe_server`
(a live server). :func:`read_server_config` detects the kind of a file or text.
"""

from __future__ import annotations

import re
from pathlib import Path

from tlskit.ciphers._config import ServerConfig
from tlskit.ciphers.apigee import read_apigee_json, read_apigee_xml
from tlskit.ciphers.capture import offered_by, read_capture
from tlskit.ciphers.compare import (
    VERDICTS,
    Comparison,
    compare_ciphers,
    compare_groups,
    compare_protocols,
)
from tlskit.ciphers.jsse import read_jsse
from tlskit.ciphers.nginx import read_nginx
from tlskit.ciphers.openssl import read_openssl
from tlskit.ciphers.probe import probe_server
from tlskit.errors import ConfigError

KINDS = ("openssl", "nginx", "apigee-xml", "apigee-json", "jsse", "names")


def detect_kind(text: str) -> str:
    """The kind of a configuration text (one of KINDS)."""
    t = text.lstrip("\ufeff \t\r\n")
    if t.startswith("<"):
        return "apigee-xml"
    if t.startswith(("{", "[")):
        return "apigee-json"
    if "jdk.tls." in t:
        return "jsse"
    if re.search(r"^\s*(ssl_\w+|server\s*\{|http\s*\{|listen\s)", t, re.M):
        return "nginx"
    from tlskit import registry

    parts = [p for p in re.split(r"[:,\s]+", t.strip()) if p]
    if parts and all(registry.cipher_suite_code(p) is not None for p in parts):
        return "names"
    return "openssl"


def _exists(text: str) -> bool:
    try:
        return Path(text).exists()
    except (OSError, ValueError):  # e.g. an over-long or NUL-containing cipher string
        return False


def read_server_config(path_or_text: str | Path, *, kind: str | None = None, server_name: str | None = None,
                       java: int = 17) -> ServerConfig:
    """Read a server's TLS settings from a file or a text, detecting what it is.

    Parameters
    ----------
    path_or_text : a path to nginx.conf, an Apigee TargetEndpoint/TargetServer/VirtualHost
        (XML or JSON), a java.security excerpt; or such text itself, or an OpenSSL cipher
        string (``ECDHE+AESGCM:!aNULL``), or a list of suite names separated by ``:``/``,``.
    kind : force one of KINDS instead of detecting.
    server_name : for nginx, the server block that serves this host.
    java : for jsse, the Java release (8, 11, 17).
    """
    origin = "text"
    text = str(path_or_text)
    looks_like_path = isinstance(path_or_text, Path) or ("\n" not in text and len(text) < 4096 and (
        "/" in text or text.endswith((".conf", ".xml", ".json", ".security", ".txt"))
        or _exists(text)))  # an existing file name is a path even without a known suffix
    if looks_like_path:
        p = Path(text)
        if p.is_dir():
            raise ConfigError("this is a directory, not a configuration file", path=p,
                              fix="give the nginx.conf / Apigee XML or JSON / java.security file itself")
        if p.is_file():
            try:
                text = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read the configuration ({exc})", path=p,
                                  fix="pass a readable UTF-8 text file") from exc
            origin = str(p)
        elif isinstance(path_or_text, Path) or text.endswith((".conf", ".xml", ".json", ".security")):
            raise ConfigError("file not found", path=p, fix="check the path")
    if not text.strip():
        raise ConfigError("empty configuration", path=None if origin == "text" else origin,
                          fix="pass nginx, Apigee SSLInfo, java.security text or an OpenSSL cipher string")
    kind = kind or detect_kind(text)
    if kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}", fix=f"use one of {', '.join(KINDS)}")
    if kind == "nginx":
        return read_nginx(text, origin=origin, server_name=server_name)
    if kind == "apigee-xml":
        return read_apigee_xml(text, origin=origin)
    if kind == "apigee-json":
        return read_apigee_json(text, origin=origin)
    if kind == "jsse":
        return _read_java_security(text, origin=origin, java=java)
    if kind == "names":
        from tlskit.ciphers._config import suites_from_names

        t12, t13, _ = suites_from_names(re.split(r"[:,\s]+", text))
        return ServerConfig(versions=frozenset({0x0303, 0x0304} if t13 else {0x0303}), cipher_suites=t12,
                            tls13_suites=t13, source="list", origin=origin,
                            caveats=["a plain list of suites: versions assumed from the suites listed"])
    return read_openssl(text.strip(), origin=origin)


def _read_java_security(text: str, *, origin: str, java: int) -> ServerConfig:
    """java.security / -D properties: disabledAlgorithms and server protocol/suite lists."""
    props: dict[str, str] = {}
    joined = re.sub(r"\\\s*\n\s*", " ", text)
    for line in joined.splitlines():
        m = re.match(r"\s*(?:-D)?(jdk\.tls\.[\w.]+|https\.protocols|java\.version)\s*[=:]\s*(.*)$", line)
        if m:
            props[m.group(1)] = m.group(2).strip()
    if "java.version" in props:
        major = re.match(r"(?:1\.)?(\d+)", props["java.version"])
        if major and int(major.group(1)) in (8, 11, 17):
            java = int(major.group(1))

    def listed(key: str) -> list[str] | None:
        v = props.get(key)
        return [x.strip() for x in v.split(",") if x.strip()] if v else None

    return read_jsse(java, disabled_algorithms=props.get("jdk.tls.disabledAlgorithms"),
                     protocols=listed("jdk.tls.server.protocols"),
                     cipher_suites=listed("jdk.tls.server.cipherSuites"),
                     named_groups=props.get("jdk.tls.namedGroups"), origin=origin)


__all__ = [
    "KINDS",
    "VERDICTS",
    "Comparison",
    "ServerConfig",
    "compare_ciphers",
    "compare_groups",
    "compare_protocols",
    "detect_kind",
    "offered_by",
    "probe_server",
    "read_apigee_json",
    "read_apigee_xml",
    "read_capture",
    "read_jsse",
    "read_nginx",
    "read_openssl",
    "read_server_config",
]
