"""Java (JSSE) profiles: the default-enabled protocols and suites of Java 8, 11 and 17, with a
``jdk.tls.disabledAlgorithms`` value applied.

Sources
-------
- Java 17: captured from OpenJDK 17.0.15 by ``scripts/build_registry.py`` (``SSLContext``
  defaults with ``jdk.tls.disabledAlgorithms`` emptied), ``registry/data/jsse_java17.json``;
  it matches the SunJSSE table of Oracle's "JDK Providers Documentation" for JDK 17.
- Java 8 and 11: the SunJSSE default-enabled list of "Java Cryptography Architecture Oracle
  Providers Documentation for JDK 8" (SunJSSE provider, cipher suite table) and its JDK 11
  edition: the same TLS <= 1.2 order (ECDHE-ECDSA GCM first, RSA key exchange interleaved,
  3DES last), TLS 1.3 suites first in 11 and 8u261+; ChaCha20 suites only from JDK 12.
- ``jdk.tls.disabledAlgorithms`` defaults: the ``java.security`` of current updates (8u381+,
  11.0.20+, 17.0.8+ after JDK-8279164 "Disable TLS_ECDH_* cipher suites"; see the openjdk
  jdk8u-dev backport commit b1e2ea81).

How JSSE applies the filter is modelled on ``sun.security.ssl.SSLAlgorithmDecomposer``: a
suite is disabled when any of its parts (key exchange, cipher, MAC) is named in the value,
a protocol when its name is listed; key-size and signature constraints do not remove suites.
"""

from __future__ import annotations

import fnmatch
import json
import re
from functools import cache
from pathlib import Path

from tlskit import registry
from tlskit.ciphers._config import ServerConfig, groups_from_names
from tlskit.errors import ConfigError

_DATA = Path(registry.__file__).with_name("data")

DISABLED_DEFAULT = {
    8: "SSLv3, TLSv1, TLSv1.1, RC4, DES, MD5withRSA, DH keySize < 1024, EC keySize < 224, "
       "3DES_EDE_CBC, anon, NULL, ECDH, include jdk.disabled.namedCurves",
    11: "SSLv3, TLSv1, TLSv1.1, RC4, DES, MD5withRSA, DH keySize < 1024, EC keySize < 224, "
        "3DES_EDE_CBC, anon, NULL, ECDH, include jdk.disabled.namedCurves",
    17: "SSLv3, TLSv1, TLSv1.1, DTLSv1.0, RC4, DES, MD5withRSA, DH keySize < 1024, EC keySize < 224, "
        "3DES_EDE_CBC, anon, NULL, ECDH",
}

# jdk.tls.namedGroups defaults (sun.security.ssl.NamedGroup / SupportedGroupsExtension)
NAMED_GROUPS_DEFAULT = {
    8: "secp256r1, secp384r1, secp521r1, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192",
    11: "x25519, secp256r1, secp384r1, secp521r1, x448, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192",
    17: "x25519, secp256r1, secp384r1, secp521r1, x448, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192",
}

# JDK 8 / 11 SunJSSE default-enabled TLS <= 1.2 suites, in preference order
_LEGACY_ORDER = ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "TLS_RSA_WITH_AES_256_CBC_SHA256", "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "SSL_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA", "SSL_DHE_RSA_WITH_3DES_EDE_CBC_SHA", "SSL_DHE_DSS_WITH_3DES_EDE_CBC_SHA", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"]


@cache
def _java17() -> dict[str, list[str]]:
    data: dict[str, list[str]] = json.loads((_DATA / "jsse_java17.json").read_text(encoding="utf-8"))
    return data


def default_profile(java: int) -> tuple[list[str], list[str]]:
    """(protocol names, suite names) JSSE enables by default before disabledAlgorithms."""
    if java == 17:
        d = _java17()
        return list(d["protocols"]), list(d["cipher_suites"])
    if java in (8, 11):
        t13 = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"]
        return ["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1"], [*t13, *_LEGACY_ORDER]
    raise ConfigError(f"no JSSE profile for Java {java}", fix="use java=8, 11 or 17")


def parse_disabled(value: str) -> list[str]:
    """The entries of a jdk.tls.disabledAlgorithms value (continuation backslashes removed)."""
    value = value.replace("\\\n", " ").replace("\\", " ")
    if "=" in value.split(",", 1)[0]:
        value = value.split("=", 1)[1]
    return [e.strip() for e in value.split(",") if e.strip()]


def _parts(java_name: str) -> set[str]:
    """The algorithm names JSSE's decomposer gives a suite (upper case).

    Checked against OpenJDK 17 (tests/ciphers/test_jsse_live.py): key-exchange tokens match
    by component (``RSA`` hits ECDHE_RSA, ``DHE`` does not hit ECDHE); ``AES_256`` and ``CBC``
    hit CBC suites only; ``SHA1`` hits every ``_SHA`` suite; TLS 1.3 suites are only ever
    removed with their protocol.
    """
    code = registry.cipher_suite_code(java_name)
    if code is None:
        return set()
    s = registry.cipher_suite(code)
    if s.tls13:
        return set()
    parts: set[str] = set()
    body = java_name.split("_WITH_")[0][4:] if "_WITH_" in java_name else ""
    if body:
        parts.add(body.upper())
        parts.update(p.upper() for p in body.split("_"))
    if s.auth == "anon":
        parts.add("ANON")
    cipher = s.cipher.upper()
    parts.add(cipher)
    if cipher in {"NULL", ""}:
        parts.add("NULL")
    if cipher.startswith("RC4"):
        parts.add("RC4")
    if cipher.startswith(("DES_", "DES40")):
        parts.add("DES")
    if cipher.startswith("3DES"):
        parts.add("DESEDE")
    if cipher.endswith("_CBC"):
        parts.add("CBC")
        m = re.match(r"(AES|CAMELLIA|ARIA)_(\d+)_CBC", cipher)
        if m:
            parts.update({m.group(1), f"{m.group(1)}_{m.group(2)}"})
    mac = s.mac.upper()
    aliases = {"SHA": {"SHA1", "SHA-1", "HMACSHA1"}, "MD5": {"MD5", "HMACMD5"},
               "SHA256": {"SHA256", "SHA-256", "HMACSHA256"}, "SHA384": {"SHA384", "SHA-384", "HMACSHA384"}}
    parts.update(aliases.get(mac, set()))
    return parts


def _version_ok(name: str, versions: set[int]) -> bool:
    """JSSE enables a suite only if some enabled protocol can negotiate it."""
    code = registry.cipher_suite_code(name)
    if code is None or name.endswith("_SCSV"):
        return True
    s = registry.cipher_suite(code)
    if s.tls13:
        return 0x0304 in versions
    floor = 0x0303 if (s.aead or s.mac in ("SHA256", "SHA384")) else 0x0300
    return any(floor <= v <= 0x0303 for v in versions)


def apply_disabled(protocols: list[str], suites: list[str], disabled: str) -> tuple[list[str], list[str], list[str]]:
    """(protocols, suites, notes) left after a jdk.tls.disabledAlgorithms value."""
    entries = parse_disabled(disabled)
    notes: list[str] = []
    tokens: set[str] = set()
    patterns: list[str] = []
    for e in entries:
        if re.search(r"keySize|include |usage |denyAfter", e) or e.lower().endswith("withrsa"):
            notes.append(f"'{e}' limits keys or signatures, not suites: not modelled")
            continue
        if e.startswith(("TLS_", "SSL_")):
            patterns.append(e.upper())
        tokens.add(e.upper())
    kept_p = [p for p in protocols if p.upper() not in tokens]
    versions = {v for v in (registry.version_code(p) for p in kept_p) if v is not None}
    kept_s = []
    for name in suites:
        if any(fnmatch.fnmatchcase(name.upper(), p) for p in patterns):
            continue
        if (name.endswith("_SCSV") or not (_parts(name) & tokens)) and _version_ok(name, versions):
            kept_s.append(name)
    return kept_p, kept_s, notes


def read_jsse(java: int = 17, *, disabled_algorithms: str | None = None, protocols: list[str] | None = None,
              cipher_suites: list[str] | None = None, named_groups: str | None = None,
              origin: str = "") -> ServerConfig:
    """A ServerConfig for a JSSE endpoint of a Java release.

    Parameters
    ----------
    java : 8, 11 or 17.
    disabled_algorithms : the ``jdk.tls.disabledAlgorithms`` value; None: that release's
        current default (DISABLED_DEFAULT).
    protocols, cipher_suites : explicitly enabled lists (``jdk.tls.server.protocols``,
        ``jdk.tls.server.cipherSuites``, ``setEnabledCipherSuites``); None: JSSE's defaults.
    named_groups : the ``jdk.tls.namedGroups`` value; None: that release's default.
    """
    default_p, default_s = default_profile(java)
    p = protocols if protocols is not None else default_p
    s = cipher_suites if cipher_suites is not None else default_s
    disabled = DISABLED_DEFAULT[java] if disabled_algorithms is None else disabled_algorithms
    kept_p, kept_s, notes = apply_disabled(p, s, disabled)
    versions = []
    for name in kept_p:
        code = registry.version_code(name)
        if code is not None:
            versions.append(code)
    t12: list[int] = []
    t13: list[int] = []
    for name in kept_s:
        code = registry.cipher_suite_code(name)
        if code is None or name.endswith("_SCSV"):
            continue
        (t13 if registry.cipher_suite(code).tls13 else t12).append(code)
    caveats = [f"Java {java} JSSE defaults"
               + (" (captured from OpenJDK 17.0.15)" if java == 17 else " (documented SunJSSE order)"),
               f"jdk.tls.disabledAlgorithms={disabled}", *notes]
    if java == 8:
        caveats.append("TLS 1.3 needs 8u261 or later; older Java 8 stops at TLS 1.2")
    if java not in NAMED_GROUPS_DEFAULT:
        raise ConfigError(f"no JSSE profile for Java {java}", fix="use java=8, 11 or 17")
    group_value = named_groups if named_groups else NAMED_GROUPS_DEFAULT[java]
    disabled_tokens = {e.upper() for e in parse_disabled(disabled)}
    groups = [g for g in groups_from_names(group_value.split(","), origin=origin)
              if registry.group_name(g).upper() not in disabled_tokens]
    return ServerConfig(versions=frozenset(versions), cipher_suites=t12, tls13_suites=t13, source="jsse",
                        origin=origin or f"java{java}", caveats=caveats, stack="java",
                        server_order=True, groups=groups)


__all__ = ["DISABLED_DEFAULT", "NAMED_GROUPS_DEFAULT", "apply_disabled", "default_profile", "parse_disabled", "read_jsse"]
