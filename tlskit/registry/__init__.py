"""TLS protocol constants: names and attributes for codes seen on the wire.

Generated from the IANA TLS registries (CC0) by ``scripts/build_registry.py`` into
``data/*.csv``; ``data/PROVENANCE.json`` records each input's origin, date, sha256 and row
count, the OpenSSL build that named the suites, and the strength rule. Unknown codes get a
readable placeholder such as ``unknown(0x1a2b)``, never a KeyError; GREASE values (RFC 8701)
read ``GREASE``.

    >>> from tlskit import registry
    >>> registry.cipher_suite_name(0xC02F)
    'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'
    >>> registry.cipher_suite("ECDHE-RSA-AES128-GCM-SHA256").strength
    'recommended'

Lookups by name accept IANA, OpenSSL and Java (JSSE) spellings and hex codes.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

DATA = Path(__file__).with_name("data")

#: Strength classes, best first (the rule is in ``PROVENANCE.json["strength_rule"]``).
STRENGTHS = ("recommended", "secure", "weak", "insecure")
_RANK = {s: i for i, s in enumerate(STRENGTHS)}

#: Protocol versions tlskit negotiates about, oldest first (SSLv2 has no code in TLS records).
PROTOCOL_VERSIONS = (0x0300, 0x0301, 0x0302, 0x0303, 0x0304)


@dataclass(frozen=True)
class CipherSuite:
    """One cipher suite: names in the three vocabularies and its security attributes.

    ``kx``/``auth`` are ``any`` for TLS 1.3 suites (negotiated separately); ``strength`` is
    one of STRENGTHS, ``n/a`` for signalling values (SCSV, GREASE) or ``unknown``.
    ``openssl_name_source`` says where the OpenSSL name came from: ``openssl`` (the local
    build printed it), ``legacy`` (OpenSSL's documented name for a suite this build lacks),
    ``rule`` (derived by the documented naming rule) or empty (OpenSSL never named it).
    """

    code: int
    name: str
    openssl_name: str
    openssl_name_source: str
    java_name: str
    tls13: bool
    kx: str
    auth: str
    cipher: str
    mac: str
    aead: bool
    forward_secrecy: bool
    strength: str
    grease: bool
    recommended: str
    known: bool = True

    @property
    def hex(self) -> str:
        return f"0x{self.code:04x}"


def is_grease(code: int) -> bool:
    """RFC 8701 GREASE values: 0x?A?A with both bytes equal."""
    return (code & 0x0F0F) == 0x0A0A and (code >> 8) == (code & 0xFF)


def _placeholder(code: int, width: int = 4) -> str:
    return f"unknown(0x{code:0{width}x})"


def _named(names: dict[int, str], code: int, width: int = 4) -> str:
    """names[code], else the placeholder (made only then: lookups run once per table row)."""
    name = names.get(code)
    return name if name is not None else _placeholder(code, width)


def _read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@cache
def _names(table: str) -> dict[int, str]:
    return {int(r["code"], 0): r["name"] for r in _read(f"{table}.csv")}


@cache
def _suites() -> dict[int, CipherSuite]:
    out = {}
    for r in _read("cipher_suites.csv"):
        code = int(r["code"], 16)
        out[code] = CipherSuite(
            code=code, name=r["name"], openssl_name=r["openssl_name"],
            openssl_name_source=r["openssl_name_source"], java_name=r["java_name"],
            tls13=r["tls13"] == "True", kx=r["kx"], auth=r["auth"], cipher=r["cipher"], mac=r["mac"],
            aead=r["aead"] == "True", forward_secrecy=r["forward_secrecy"] == "True",
            strength=r["strength"], grease=r["grease"] == "True", recommended=r["recommended"],
        )
    return out


@cache
def _suite_index() -> dict[str, int]:
    idx: dict[str, int] = {}
    for s in _suites().values():
        if s.grease:
            continue
        for n in (s.name, s.openssl_name, s.java_name):
            if n:
                idx.setdefault(n.upper(), s.code)
        if s.java_name.startswith("SSL_"):  # JSSE accepts the TLS_ spelling too
            idx.setdefault("TLS_" + s.java_name[4:].upper(), s.code)
        if s.name.startswith("TLS_"):  # OpenSSL 1.0.2 printed SSL_ for SSLv3-era IANA names
            idx.setdefault("SSL_" + s.name[4:].upper(), s.code)
    return idx


def _parse_code(text: str) -> int | None:
    t = text.strip().lower().replace(" ", "")
    m = re.fullmatch(r"0x([0-9a-f]{2}),0x([0-9a-f]{2})", t)
    if m:
        return int(m.group(1), 16) << 8 | int(m.group(2), 16)
    if re.fullmatch(r"0x[0-9a-f]{1,4}", t):
        return int(t, 16)
    if re.fullmatch(r"\d{1,5}", t) and int(t) <= 0xFFFF:
        return int(t)
    return None


# --- names --------------------------------------------------------------------------------


def version_name(code: int) -> str:
    """TLSv1.2, SSLv3, DTLSv1.2, TLSv1.3-draft23, GREASE or ``unknown(0x....)``."""
    if is_grease(code):
        return "GREASE"
    return _named(_names("versions"), code)


def content_type_name(code: int) -> str:
    return _named(_names("content_types"), code, 2)


def handshake_type_name(code: int) -> str:
    return _named(_names("handshake_types"), code, 2)


def alert_name(code: int) -> str:
    return _named(_names("alerts"), code, 2)


def alert_level_name(code: int) -> str:
    return _named({1: "warning", 2: "fatal"}, code, 2)


def cipher_suite_name(code: int) -> str:
    """IANA name of a cipher suite code; GREASE or ``unknown(0x....)`` otherwise."""
    if is_grease(code):
        return "GREASE"
    s = _suites().get(code)
    return s.name if s else _placeholder(code)


def group_name(code: int) -> str:
    if is_grease(code):
        return "GREASE"
    return _named(_names("groups"), code)


def signature_scheme_name(code: int) -> str:
    return _named(_names("signature_schemes"), code)


def extension_name(code: int) -> str:
    if is_grease(code):
        return "GREASE"
    return _named(_names("extensions"), code)


def openssl_name(code: int) -> str:
    """OpenSSL's name for a suite ('' when OpenSSL never named it)."""
    s = _suites().get(code)
    return s.openssl_name if s else ""


def java_name(code: int) -> str:
    """JSSE's standard name for a suite (SSL_* for the SSL 3.0-era suites)."""
    s = _suites().get(code)
    return s.java_name if s else ""


# --- records and reverse lookups ------------------------------------------------------------


def cipher_suite_code(name: str | int) -> int | None:
    """The code of a suite named in IANA, OpenSSL or Java spelling, or given as a hex code.

    Returns None when the name is unknown (callers decide whether that is an error).
    """
    if isinstance(name, int):
        return name if 0 <= name <= 0xFFFF else None
    code = _parse_code(name)
    if code is not None:
        return code
    return _suite_index().get(name.strip().upper())


def cipher_suite(code_or_name: int | str) -> CipherSuite:
    """The CipherSuite record; an unknown code gives a placeholder record (``known=False``)."""
    code = cipher_suite_code(code_or_name)
    if code is None:
        label = str(code_or_name)
        return CipherSuite(-1, f"unknown({label})", "", "", "", False, "", "", "", "", False, False,
                           "unknown", False, "", known=False)
    s = _suites().get(code)
    if s is not None:
        return s
    grease = is_grease(code)
    return CipherSuite(code, "GREASE" if grease else _placeholder(code), "", "", "", False, "", "", "",
                       "", False, False, "n/a" if grease else "unknown", grease, "", known=grease)


_VERSION_ALIASES = {
    "sslv2": 0x0002, "ssl2": 0x0002, "sslv3": 0x0300, "ssl3": 0x0300, "tlsv1": 0x0301,
    "tls1": 0x0301, "tlsv1.0": 0x0301, "tls1.0": 0x0301, "tlsv1.1": 0x0302, "tls1.1": 0x0302,
    "tlsv1.2": 0x0303, "tls1.2": 0x0303, "tlsv1.3": 0x0304, "tls1.3": 0x0304,
    "1.0": 0x0301, "1.1": 0x0302, "1.2": 0x0303, "1.3": 0x0304,
    "dtlsv1.0": 0xFEFF, "dtlsv1": 0xFEFF, "dtlsv1.2": 0xFEFD, "dtlsv1.3": 0xFEFC,
}


def version_code(name: str | int) -> int | None:
    """0x0303 for 'TLSv1.2', 'TLSv1_2', 'TLS1.2', 'tlsv1.2', '1.2', '0x0303'; None if unknown."""
    if isinstance(name, int):
        return name
    t = name.strip().lower().replace("_", ".").replace(" ", "")
    code = _parse_code(t) if t.startswith("0x") else None
    if code is not None:
        return code
    if t in _VERSION_ALIASES:
        return _VERSION_ALIASES[t]
    for c, n in _names("versions").items():
        if n.lower() == t:
            return c
    return None


def group_code(name: str | int) -> int | None:
    """Supported-group code for an IANA name (x25519, secp256r1, ffdhe2048, ...)."""
    if isinstance(name, int):
        return name
    t = name.strip().lower()
    aliases = {"p-256": "secp256r1", "prime256v1": "secp256r1", "p-384": "secp384r1", "p-521": "secp521r1",
               "secp256r1mlkem768": "SecP256r1MLKEM768", "x25519mlkem768": "X25519MLKEM768"}
    t = aliases.get(t, t)
    for c, n in _names("groups").items():
        if n.lower() == t.lower():
            return c
    return _parse_code(t) if t.startswith("0x") or t.isdigit() else None


def strength_rank(strength: str) -> int:
    """0 for recommended .. 3 for insecure; 4 for n/a or unknown (sorts last)."""
    return _RANK.get(strength, len(STRENGTHS))


# --- whole tables -----------------------------------------------------------------------------


def cipher_suites() -> pd.DataFrame:
    """Every IANA cipher suite with names and attributes.

    Returns
    -------
    DataFrame with columns: code (UInt16), name, openssl_name, openssl_name_source, java_name,
    tls13, kx, auth, cipher, mac, aead, forward_secrecy, strength, grease, recommended.
    """
    import pandas as pd

    rows = [{k: v for k, v in s.__dict__.items() if k != "known"} for s in _suites().values()]
    df = pd.DataFrame(rows)
    df["code"] = df["code"].astype("UInt16")
    for c in ("tls13", "aead", "forward_secrecy", "grease"):
        df[c] = df[c].astype("boolean")
    for c in ("name", "openssl_name", "openssl_name_source", "java_name", "kx", "auth", "cipher", "mac",
              "strength", "recommended"):
        df[c] = df[c].astype("string")
    return df


def table(name: str) -> pd.DataFrame:
    """One generated registry as a frame: cipher_suites, alerts, versions, groups,
    signature_schemes, extensions, handshake_types or content_types.

    Returns
    -------
    DataFrame with columns code (UInt16), name and the registry's extra columns
    (grease, recommended, reference).
    """
    import pandas as pd

    if name == "cipher_suites":
        return cipher_suites()
    path = DATA / f"{name}.csv"
    if not path.exists():
        raise KeyError(f"no registry table {name!r}; choose from {tables()}")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df["code"] = df["code"].map(lambda v: int(v, 0)).astype("UInt16")
    return df.astype({c: "string" for c in df.columns if c != "code"})


def tables() -> list[str]:
    return sorted(p.stem for p in DATA.glob("*.csv"))


@cache
def provenance() -> dict[str, Any]:
    """PROVENANCE.json: sources, sha256, row counts, OpenSSL version and the strength rule."""
    data: dict[str, Any] = json.loads((DATA / "PROVENANCE.json").read_text(encoding="utf-8"))
    return data


__all__ = [
    "PROTOCOL_VERSIONS",
    "STRENGTHS",
    "CipherSuite",
    "alert_level_name",
    "alert_name",
    "cipher_suite",
    "cipher_suite_code",
    "cipher_suite_name",
    "cipher_suites",
    "content_type_name",
    "extension_name",
    "group_code",
    "group_name",
    "handshake_type_name",
    "is_grease",
    "java_name",
    "openssl_name",
    "provenance",
    "signature_scheme_name",
    "strength_rank",
    "table",
    "tables",
    "version_code",
    "version_name",
]
