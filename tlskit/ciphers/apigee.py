"""Apigee TLS settings: TargetEndpoint / TargetServer ``<SSLInfo>`` and virtual hosts.

Two different TLS stacks sit behind these files, and their names differ:

- **Target side** (``TargetEndpoint`` ``<HTTPTargetConnection><SSLInfo>``, ``TargetServer``
  XML or management-API JSON ``sSLInfo``): the message processor is the TLS *client* of the
  backend, a JVM, so ``<Protocol>`` and ``<Cipher>`` use Java (JSSE) names. Empty lists mean
  the JVM's defaults (modelled with :func:`tlskit.ciphers.jsse.read_jsse`).
- **Router side** (virtual host ``sSLInfo`` / ``properties`` ``ssl_ciphers`` and
  ``ssl_protocols``): the router is nginx with OpenSSL, so cipher settings are OpenSSL
  strings, expanded by the local OpenSSL.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from tlskit import registry
from tlskit.ciphers._config import ServerConfig, suites_from_names
from tlskit.ciphers.jsse import read_jsse
from tlskit.ciphers.openssl import read_openssl
from tlskit.errors import ConfigError

#: Java release assumed for a message processor whose SSLInfo leaves lists empty
MP_JAVA = 11


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(el: ET.Element, name: str) -> ET.Element | None:
    for child in el.iter():
        if _local(child.tag).lower() == name.lower():
            return child
    return None


def _texts(el: ET.Element | None, name: str) -> list[str]:
    if el is None:
        return []
    return [(c.text or "").strip() for c in el.iter() if _local(c.tag).lower() == name.lower() and (c.text or "").strip()]


def _text(el: ET.Element | None, name: str) -> str:
    vals = _texts(el, name)
    return vals[0] if vals else ""


def _target(protocols: list[str], ciphers: list[str], *, enabled: str, origin: str, source: str,
            names: list[str]) -> ServerConfig:
    caveats = ["Apigee target side: the message processor is the TLS client; these are the "
               "versions and suites it offers to the backend (Java names)"]
    if enabled.lower() == "false":
        caveats.append("SSLInfo Enabled is false: the target connection does not use TLS")
    t12, t13, unknown = suites_from_names(ciphers)
    if unknown:
        raise ConfigError(f"unknown cipher names in SSLInfo: {', '.join(unknown)}", path=origin,
                          fix="use JSSE standard names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    base = read_jsse(MP_JAVA, protocols=protocols or None, origin=origin)
    if ciphers:
        # explicit <Ciphers> still pass through the JVM's jdk.tls.disabledAlgorithms
        java_names = [registry.java_name(c) for c in [*t13, *t12]]
        base = read_jsse(MP_JAVA, protocols=protocols or None, cipher_suites=java_names, origin=origin)
        dropped = set(t12 + t13) - set(base.all_suites)
        if dropped:
            caveats.append("listed but disabled by the JVM's jdk.tls.disabledAlgorithms: "
                           + ", ".join(registry.cipher_suite_name(c) for c in sorted(dropped)))
    if not protocols:
        caveats.append(f"<Protocols> empty: the JVM's defaults apply (Java {MP_JAVA} assumed)")
    if not ciphers:
        caveats.append(f"<Ciphers> empty: the JVM's default suites apply (Java {MP_JAVA} assumed)")
    return base.replace(source=source, origin=origin, server_names=names, caveats=caveats + base.caveats)


def _virtualhost(protocols: list[str], ciphers: list[str], props: dict[str, str], *, names: list[str],
                 origin: str) -> ServerConfig:
    cipher_string = props.get("ssl_ciphers") or ":".join(ciphers) or "HIGH:!aNULL:!MD5"
    proto = props.get("ssl_protocols", "")
    proto_list = re.split(r"[\s,]+", proto.strip()) if proto.strip() else protocols
    cfg = read_openssl(cipher_string, protocols=proto_list or ["TLSv1.2", "TLSv1.3"], origin=origin,
                       source="apigee-virtualhost")
    caveats = ["Apigee router side (nginx + OpenSSL): cipher settings are OpenSSL strings", *cfg.caveats]
    if not props.get("ssl_ciphers") and not ciphers:
        caveats.append("no ssl_ciphers set: the router's default (HIGH:!aNULL:!MD5) assumed")
    return cfg.replace(server_names=names, caveats=caveats)


def read_apigee_xml(text: str, *, origin: str = "text") -> ServerConfig:
    """TargetEndpoint, TargetServer or VirtualHost XML."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ConfigError(f"not well-formed XML ({exc})", path=origin,
                          fix="export the proxy bundle's TargetEndpoint XML unchanged") from exc
    kind = _local(root.tag)
    ssl = _find(root, "SSLInfo")
    protocols = _texts(ssl, "Protocol")
    ciphers = _texts(ssl, "Cipher")
    if kind == "VirtualHost":
        props = {p.get("name", ""): (p.text or "").strip() for p in root.iter() if _local(p.tag) == "Property"}
        return _virtualhost(protocols, ciphers, props, names=_texts(root, "HostAlias"), origin=origin)
    if ssl is None:
        raise ConfigError(f"no <SSLInfo> in <{kind}>", path=origin,
                          fix="the TLS settings are in <HTTPTargetConnection><SSLInfo> (or <TargetServer><SSLInfo>)")
    host = _text(root, "Host")
    url = _text(root, "URL")
    m = re.match(r"https?://([^/:]+)", url)
    names = [host] if host else ([m.group(1)] if m else [])
    source = "apigee-targetserver" if kind == "TargetServer" else "apigee-target"
    return _target(protocols, ciphers, enabled=_text(ssl, "Enabled"), origin=origin, source=source, names=names)


def _get(d: dict[str, Any], *keys: str) -> Any:
    lower = {k.lower(): v for k, v in d.items()}
    for k in keys:
        if k.lower() in lower:
            return lower[k.lower()]
    return None


def _list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [x for x in re.split(r"[\s,]+", v) if x]
    if isinstance(v, dict):  # {"protocol": [...]} / {"cipher": [...]}
        return _list(next(iter(v.values()), None))
    if isinstance(v, list | tuple):
        return [str(x) for x in v]
    return [str(v)]  # a number or boolean where a list belongs: keep it visible, never crash


def read_apigee_json(text: str, *, origin: str = "text") -> ServerConfig:
    """A TargetServer or virtual host as the management API returns it (``sSLInfo``)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON ({exc.msg} at line {exc.lineno})", path=origin,
                          fix="save the management API response body unchanged") from exc
    if not isinstance(data, dict):
        raise ConfigError("expected a JSON object", path=origin, fix="pass one TargetServer or virtual host")
    ssl = _get(data, "sSLInfo", "sslInfo", "SSLInfo") or {}
    if not isinstance(ssl, dict):
        raise ConfigError(f"sSLInfo is a {type(ssl).__name__}, not an object", path=origin,
                          fix="save the management API response body unchanged")
    protocols = _list(_get(ssl, "protocols"))
    ciphers = _list(_get(ssl, "ciphers"))
    if _get(data, "hostAliases") is not None or _get(data, "properties") is not None:
        props: dict[str, str] = {}
        raw = _get(data, "properties") or {}
        for p in _list_of_dicts(raw):
            props[str(p.get("name", ""))] = str(p.get("value", ""))
        return _virtualhost(protocols, ciphers, props, names=_list(_get(data, "hostAliases")), origin=origin)
    if not ssl:
        raise ConfigError("no sSLInfo object", path=origin,
                          fix="pass the TargetServer JSON from the management API (it has sSLInfo)")
    host = _get(data, "host")
    return _target(protocols, ciphers, enabled=str(_get(ssl, "enabled") or ""), origin=origin,
                   source="apigee-targetserver", names=[str(host)] if host else [])


def _list_of_dicts(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, dict):
        inner = _get(raw, "property")
        if inner is not None:
            return _list_of_dicts(inner)
        return [{"name": k, "value": v} for k, v in raw.items()]
    if isinstance(raw, list):
        return [x for x in raw if isinstance(x, dict)]
    return []


__all__ = ["MP_JAVA", "read_apigee_json", "read_apigee_xml"]
