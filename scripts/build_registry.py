#!/usr/bin/env python3
"""Rebuild tlskit/registry/data/*.csv and PROVENANCE.json from the IANA TLS registries.

Inputs (all in tlskit/registry/data/iana/, committed, CC0 IANA data):
  tls-parameters-4.csv          cipher suites      (verbatim IANA CSV, see PROVENANCE.json)
  tls-parameters-8.csv          supported groups   (verbatim IANA CSV)
  tls-signaturescheme.csv       signature schemes  (verbatim IANA CSV)
  tls-parameters-5.transcribed.csv, -6 (alerts), -7 (handshake types),
  tls-extensiontype-values-1.transcribed.csv: transcribed from the IANA registries in IANA's
  CSV layout because no verbatim copy was reachable from this machine (iana.org is not).
Local tools consulted (optional; the committed CSVs keep the last run's values without them):
  openssl ciphers -V -stdname ...   OpenSSL names of the suites this build knows
  java (JDK 17+)                    JSSE default-enabled suites/protocols (data/jsse_java17.json)

Usage: python scripts/build_registry.py [--no-openssl] [--no-java]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tlskit" / "registry" / "data"
IANA = DATA / "iana"

# Where each input came from. "verbatim": byte-for-byte the file found in the named public
# repository (which vendors IANA's own CSV download); "transcribed": typed from the IANA
# registry in IANA's CSV layout (names cross-checked against `tshark -G values` by a test).
SOURCES = {
    "tls-parameters-4.csv": {
        "registry": "TLS Cipher Suites",
        "iana_url": "https://www.iana.org/assignments/tls-parameters/tls-parameters-4.csv",
        "kind": "verbatim",
        "retrieved_from": "github.com/AnoyingShulkerMC/BootlegTLS tls-parameters-4.csv "
        "@ 921d744455495cebd0f543c31aa9664ba9f53aaa",
        "as_of": "IANA state of 2023 or later (lists TLS_AEGIS_* from draft-irtf-cfrg-aegis-aead-00)",
    },
    "tls-parameters-8.csv": {
        "registry": "TLS Supported Groups",
        "iana_url": "https://www.iana.org/assignments/tls-parameters/tls-parameters-8.csv",
        "kind": "verbatim",
        "retrieved_from": "github.com/Emmdoz/Info-Security-Assessment-Tool tls-parameters-8.csv "
        "@ f5b425572a1d500b972c0f9e372eae7627c3408b",
        "as_of": "IANA state of 2025 (cites RFC-ietf-tls-rfc8447bis-14, MLKEM groups)",
    },
    "tls-signaturescheme.csv": {
        "registry": "TLS SignatureScheme",
        "iana_url": "https://www.iana.org/assignments/tls-parameters/tls-signaturescheme.csv",
        "kind": "verbatim",
        "retrieved_from": "github.com/Emmdoz/Info-Security-Assessment-Tool tls-signaturescheme.csv "
        "@ f5b425572a1d500b972c0f9e372eae7627c3408b",
        "as_of": "IANA state of 2025 (cites RFC-ietf-tls-rfc8446bis-13, mldsa)",
    },
    "tls-parameters-5.transcribed.csv": {
        "registry": "TLS ContentType",
        "iana_url": "https://www.iana.org/assignments/tls-parameters/tls-parameters-5.csv",
        "kind": "transcribed",
        "retrieved_from": "typed from the IANA registry (RFC 8446, 6520, 9146, 9147)",
        "as_of": "2026-11-27",
    },
    "tls-parameters-6.transcribed.csv": {
        "registry": "TLS Alerts",
        "iana_url": "https://www.iana.org/assignments/tls-parameters/tls-parameters-6.csv",
        "kind": "transcribed",
        "retrieved_from": "typed from the IANA registry (RFC 8446 B.2, 6066, 7301, 7507, 9147, ECH)",
        "as_of": "2026-11-27",
    },
    "tls-parameters-7.transcribed.csv": {
        "registry": "TLS HandshakeType",
        "iana_url": "https://www.iana.org/assignments/tls-parameters/tls-parameters-7.csv",
        "kind": "transcribed",
        "retrieved_from": "typed from the IANA registry (RFC 8446 B.3, 5246, 6066, 6347, 8879, 9147)",
        "as_of": "2026-11-27",
    },
    "tls-extensiontype-values-1.transcribed.csv": {
        "registry": "TLS ExtensionType Values",
        "iana_url": "https://www.iana.org/assignments/tls-extensiontype-values/tls-extensiontype-values-1.csv",
        "kind": "transcribed",
        "retrieved_from": "typed from the IANA registry (RFC 8446 4.2 and the RFCs it lists)",
        "as_of": "2026-11-27",
    },
}

RETRIEVED = "2026-11-27"
VERBATIM_CHECK = (
    "copied from the public repository's stored text (the search tool's read_file); the copy's "
    "length equals the stored file's length and its line endings are the source's (CRLF for the "
    "files that kept IANA's download format, LF for tls-parameters-4.csv as that repository has it)"
)
TRANSCRIBED_CHECK = (
    "no verbatim IANA copy was reachable; typed in IANA's CSV layout and cross-checked against "
    "Wireshark's value strings (`tshark -G values`) by tests/registry/test_registry.py"
)

# Not IANA-registered but seen on the wire from deployed stacks (Chromium/BoringSSL, old
# Google drafts). Kept apart so nobody mistakes them for registry entries.
EXTRA_EXTENSIONS = {
    13172: ("next_protocol_negotiation", "draft-agl-tls-nextprotoneg (pre-ALPN, Chrome/OpenSSL 1.0)"),
    17513: ("application_settings_old", "draft-vvv-tls-alps (Chromium, old code point)"),
    17613: ("application_settings", "draft-vvv-tls-alps (Chromium)"),
    30031: ("channel_id_old", "draft-balfanz-tls-channelid (Chromium)"),
    30032: ("channel_id", "draft-balfanz-tls-channelid (Chromium)"),
    65445: ("quic_transport_parameters_draft", "draft-ietf-quic-tls (pre-RFC 9001 code point)"),
    65486: ("encrypted_server_name", "draft-ietf-tls-esni (pre-ECH ESNI)"),
}

# Protocol versions are not an IANA registry: the values are fixed by the RFCs named here.
VERSIONS = [
    (0x0002, "SSLv2", "SSL 2.0 (draft-hickman-netscape-ssl-00), ClientHello v2 record"),
    (0x0300, "SSLv3", "RFC 6101"),
    (0x0301, "TLSv1.0", "RFC 2246"),
    (0x0302, "TLSv1.1", "RFC 4346"),
    (0x0303, "TLSv1.2", "RFC 5246"),
    (0x0304, "TLSv1.3", "RFC 8446"),
    (0xFEFF, "DTLSv1.0", "RFC 4347"),
    (0xFEFD, "DTLSv1.2", "RFC 6347"),
    (0xFEFC, "DTLSv1.3", "RFC 9147"),
] + [(0x7F00 + n, f"TLSv1.3-draft{n}", "draft-ietf-tls-tls13 (pre-RFC 8446)") for n in range(14, 29)]

# OpenSSL names for suites that OpenSSL once had but this build may lack (removed RC4/DES/
# EXPORT/IDEA/SEED support, or Debian's build options), from openssl-ciphers(1)
# "CIPHER SUITE NAMES" of OpenSSL 1.0.2/1.1.1. Used only when the local build does not know
# the code; otherwise the local `openssl ciphers` output wins.
OPENSSL_LEGACY = {
    0x0001: "NULL-MD5", 0x0002: "NULL-SHA", 0x0003: "EXP-RC4-MD5", 0x0004: "RC4-MD5",
    0x0005: "RC4-SHA", 0x0006: "EXP-RC2-CBC-MD5", 0x0007: "IDEA-CBC-SHA",
    0x0008: "EXP-DES-CBC-SHA", 0x0009: "DES-CBC-SHA", 0x000A: "DES-CBC3-SHA",
    0x000B: "EXP-DH-DSS-DES-CBC-SHA", 0x000C: "DH-DSS-DES-CBC-SHA", 0x000D: "DH-DSS-DES-CBC3-SHA",
    0x000E: "EXP-DH-RSA-DES-CBC-SHA", 0x000F: "DH-RSA-DES-CBC-SHA", 0x0010: "DH-RSA-DES-CBC3-SHA",
    0x0011: "EXP-EDH-DSS-DES-CBC-SHA", 0x0012: "EDH-DSS-DES-CBC-SHA", 0x0013: "EDH-DSS-DES-CBC3-SHA",
    0x0014: "EXP-EDH-RSA-DES-CBC-SHA", 0x0015: "EDH-RSA-DES-CBC-SHA", 0x0016: "EDH-RSA-DES-CBC3-SHA",
    0x0017: "EXP-ADH-RC4-MD5", 0x0018: "ADH-RC4-MD5", 0x0019: "EXP-ADH-DES-CBC-SHA",
    0x001A: "ADH-DES-CBC-SHA", 0x001B: "ADH-DES-CBC3-SHA",
    0x0096: "SEED-SHA", 0x0097: "DH-DSS-SEED-SHA", 0x0098: "DH-RSA-SEED-SHA",
    0x0099: "DHE-DSS-SEED-SHA", 0x009A: "DHE-RSA-SEED-SHA", 0x009B: "ADH-SEED-SHA",
    0x008A: "PSK-RC4-SHA", 0x008B: "PSK-3DES-EDE-CBC-SHA", 0x008E: "DHE-PSK-RC4-SHA",
    0x008F: "DHE-PSK-3DES-EDE-CBC-SHA", 0x0092: "RSA-PSK-RC4-SHA", 0x0093: "RSA-PSK-3DES-EDE-CBC-SHA",
    0xC002: "ECDH-ECDSA-RC4-SHA", 0xC003: "ECDH-ECDSA-DES-CBC3-SHA", 0xC007: "ECDHE-ECDSA-RC4-SHA",
    0xC008: "ECDHE-ECDSA-DES-CBC3-SHA", 0xC00C: "ECDH-RSA-RC4-SHA", 0xC00D: "ECDH-RSA-DES-CBC3-SHA",
    0xC011: "ECDHE-RSA-RC4-SHA", 0xC012: "ECDHE-RSA-DES-CBC3-SHA", 0xC016: "AECDH-RC4-SHA",
    0xC017: "AECDH-DES-CBC3-SHA", 0xC01A: "SRP-3DES-EDE-CBC-SHA", 0xC01B: "SRP-RSA-3DES-EDE-CBC-SHA",
    0xC01C: "SRP-DSS-3DES-EDE-CBC-SHA", 0xC033: "ECDHE-PSK-RC4-SHA", 0xC034: "ECDHE-PSK-3DES-EDE-CBC-SHA",
    0xC001: "ECDH-ECDSA-NULL-SHA", 0xC004: "ECDH-ECDSA-AES128-SHA", 0xC005: "ECDH-ECDSA-AES256-SHA",
    0xC00B: "ECDH-RSA-NULL-SHA", 0xC00E: "ECDH-RSA-AES128-SHA", 0xC00F: "ECDH-RSA-AES256-SHA",
    0xC025: "ECDH-ECDSA-AES128-SHA256", 0xC026: "ECDH-ECDSA-AES256-SHA384",
    0xC029: "ECDH-RSA-AES128-SHA256", 0xC02A: "ECDH-RSA-AES256-SHA384",
    0xC02D: "ECDH-ECDSA-AES128-GCM-SHA256", 0xC02E: "ECDH-ECDSA-AES256-GCM-SHA384",
    0xC031: "ECDH-RSA-AES128-GCM-SHA256", 0xC032: "ECDH-RSA-AES256-GCM-SHA384",
    0x0030: "DH-DSS-AES128-SHA", 0x0031: "DH-RSA-AES128-SHA", 0x0036: "DH-DSS-AES256-SHA",
    0x0037: "DH-RSA-AES256-SHA", 0x003E: "DH-DSS-AES128-SHA256", 0x003F: "DH-RSA-AES128-SHA256",
    0x0068: "DH-DSS-AES256-SHA256", 0x0069: "DH-RSA-AES256-SHA256",
    0x00A0: "DH-RSA-AES128-GCM-SHA256", 0x00A1: "DH-RSA-AES256-GCM-SHA384",
    0x00A4: "DH-DSS-AES128-GCM-SHA256", 0x00A5: "DH-DSS-AES256-GCM-SHA384",
}

# Documented OpenSSL naming rule for the remaining suites (see openssl-ciphers(1)):
# <kx-auth prefix>-<cipher>[-<mode>]-<mac>; RSA key exchange has no prefix; TLS 1.3 suites keep
# their IANA names. Results are marked openssl_name_source=rule.
_OSSL_KX = {
    "RSA": "", "DHE_RSA": "DHE-RSA", "DHE_DSS": "DHE-DSS", "DH_RSA": "DH-RSA", "DH_DSS": "DH-DSS",
    "ECDHE_RSA": "ECDHE-RSA", "ECDHE_ECDSA": "ECDHE-ECDSA", "ECDH_RSA": "ECDH-RSA",
    "ECDH_ECDSA": "ECDH-ECDSA", "DH_anon": "ADH", "ECDH_anon": "AECDH", "PSK": "PSK",
    "DHE_PSK": "DHE-PSK", "PSK_DHE": "DHE-PSK", "RSA_PSK": "RSA-PSK", "ECDHE_PSK": "ECDHE-PSK",
    "SRP_SHA": "SRP", "SRP_SHA_RSA": "SRP-RSA", "SRP_SHA_DSS": "SRP-DSS",
}
_OSSL_CIPHER = {
    "3DES_EDE_CBC": "DES-CBC3", "DES_CBC": "DES-CBC", "RC4_128": "RC4", "SEED_CBC": "SEED",
    "IDEA_CBC": "IDEA-CBC", "NULL": "NULL", "CHACHA20_POLY1305": "CHACHA20-POLY1305",
}

# Java (JSSE) standard names: the IANA name, except the suites defined for SSL 3.0
# (0x0000-0x001B), which JSSE names SSL_* (Java Security Standard Algorithm Names, "JSSE
# Cipher Suite Names"; JSSE accepts the TLS_* spelling as an alias).
JAVA_SSL_PREFIX = range(0x0000, 0x001C)

STRENGTH_RULE = (
    "insecure: no encryption (NULL or integrity-only), anonymous (anon) or export-grade suites, "
    "RC4, RC2, single DES, or MD5 MAC. weak: no forward secrecy (RSA, static DH/ECDH, PSK or "
    "RSA_PSK key exchange, KRB5), CBC-mode (MAC-then-encrypt) ciphers, 3DES, IDEA, SEED, GOST "
    "CTR/CNT suites. recommended: IANA Recommended=Y (AEAD with (EC)DHE or TLS 1.3). secure: "
    "everything else (forward-secret AEAD suites IANA does not mark as recommended, e.g. CCM_8, "
    "ARIA-GCM, CAMELLIA-GCM)."
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k: (v or "").strip() for k, v in r.items()} for r in csv.DictReader(fh)]


def _single(value: str) -> int | None:
    """A registry 'Value' that names one code point (not a range), else None."""
    value = value.strip()
    m = re.fullmatch(r'0x([0-9A-Fa-f]{2}),0x([0-9A-Fa-f]{2})', value)
    if m:
        return int(m.group(1), 16) << 8 | int(m.group(2), 16)
    if re.fullmatch(r"0x[0-9A-Fa-f]{4}", value):
        return int(value, 16)
    if re.fullmatch(r"\d+", value):
        return int(value)
    return None


def _is_grease16(code: int) -> bool:
    return (code & 0x0F0F) == 0x0A0A and (code >> 8) == (code & 0xFF)


# --- cipher suite attributes -------------------------------------------------------------

_TLS13_ONLY = {0x00C6, 0x00C7, 0xC0B4, 0xC0B5, 0xC103, 0xC104, 0xC105, 0xC106}


def suite_attributes(code: int, name: str) -> dict[str, object]:
    """Key exchange, authentication, cipher, MAC and derived flags from an IANA suite name."""
    tls13 = (code >> 8) == 0x13 or code in _TLS13_ONLY
    scsv = name.endswith("_SCSV")
    if scsv:
        return dict(tls13=False, kx="SCSV", auth="SCSV", cipher="", mac="", aead=False,
                    forward_secrecy=False, export=False)
    body = name[4:] if name.startswith("TLS_") else name
    if "_WITH_" in body:
        kxauth, rest = body.split("_WITH_", 1)
    else:  # TLS 1.3 style: TLS_<cipher>_<hash>; integrity-only TLS_SHA256_SHA256
        kxauth, rest = "", body
    export = "_EXPORT" in kxauth
    kxauth = kxauth.replace("_EXPORT", "")
    parts = rest.split("_")
    mac = ""
    if parts and parts[-1] in {"MD5", "SHA", "SHA256", "SHA384", "SM3"}:
        mac = parts.pop()
    cipher = "_".join(parts)
    if cipher.endswith("_40") or "40_" in cipher or cipher.startswith("DES40"):
        export = True
    aead = any(t in cipher for t in ("GCM", "CCM", "CHACHA20_POLY1305", "MGM", "AEGIS"))
    if tls13 and cipher in {"SHA256", "SHA384"}:  # RFC 9150 integrity-only suites
        cipher, mac, aead = "NULL", cipher, False
    if kxauth == "NULL":  # TLS_NULL_WITH_NULL_NULL
        cipher, mac = "NULL", "NULL"
    kx, auth = _kx_auth(kxauth, tls13)
    fs = kx in {"DHE", "ECDHE", "DH_anon", "ECDH_anon", "ECCPWD"} or (tls13 and kx == "any")
    return dict(tls13=tls13, kx=kx, auth=auth, cipher=cipher, mac=("AEAD" if aead and not mac else mac),
                aead=aead, forward_secrecy=fs, export=export)


def _kx_auth(kxauth: str, tls13: bool) -> tuple[str, str]:
    if tls13 or not kxauth:
        return "any", "any"
    table = {
        "NULL": ("NULL", "NULL"), "RSA": ("RSA", "RSA"), "DH_DSS": ("DH", "DSS"), "DH_RSA": ("DH", "RSA"),
        "DHE_DSS": ("DHE", "DSS"), "DHE_RSA": ("DHE", "RSA"), "DH_anon": ("DH_anon", "anon"),
        "KRB5": ("KRB5", "KRB5"), "PSK": ("PSK", "PSK"), "DHE_PSK": ("DHE", "PSK"),
        "PSK_DHE": ("DHE", "PSK"), "RSA_PSK": ("RSA", "PSK"), "ECDH_ECDSA": ("ECDH", "ECDSA"),
        "ECDHE_ECDSA": ("ECDHE", "ECDSA"), "ECDH_RSA": ("ECDH", "RSA"), "ECDHE_RSA": ("ECDHE", "RSA"),
        "ECDH_anon": ("ECDH_anon", "anon"), "SRP_SHA": ("SRP", "SRP"), "SRP_SHA_RSA": ("SRP", "RSA"),
        "SRP_SHA_DSS": ("SRP", "DSS"), "ECDHE_PSK": ("ECDHE", "PSK"), "ECCPWD": ("ECCPWD", "ECCPWD"),
        "GOSTR341112_256": ("GOST", "GOST"),
    }
    return table.get(kxauth, (kxauth, kxauth))


def strength(attrs: dict[str, object], recommended: str, name: str) -> str:
    """The strength class; the rule is STRENGTH_RULE (kept in PROVENANCE.json too)."""
    cipher, mac, kx, auth = (str(attrs[k]) for k in ("cipher", "mac", "kx", "auth"))
    if kx == "SCSV":
        return "n/a"
    if (cipher in {"NULL", ""} or auth == "anon" or kx == "NULL" or attrs["export"]
            or cipher.startswith(("RC4", "RC2", "DES_", "DES40")) or cipher == "DES_CBC" or mac == "MD5"):
        return "insecure"
    if recommended == "Y":
        return "recommended"
    if (not attrs["forward_secrecy"] or not attrs["aead"] or "3DES" in cipher
            or cipher.startswith(("IDEA", "SEED")) or "CTR_OMAC" in name or "CNT_IMIT" in name):
        return "weak"
    return "secure"


def openssl_rule_name(code: int, name: str, attrs: dict[str, object]) -> str:
    if attrs["tls13"]:
        return name
    body = name[4:]
    if "_WITH_" not in body:
        return ""
    kxauth, _ = body.split("_WITH_", 1)
    if kxauth not in _OSSL_KX:
        return ""
    cipher, mac = str(attrs["cipher"]), str(attrs["mac"])
    if cipher in _OSSL_CIPHER:
        c = _OSSL_CIPHER[cipher]
    else:
        m = re.fullmatch(r"(AES|CAMELLIA|ARIA)_(128|256)_(CBC|GCM|CCM|CCM_8)", cipher)
        if not m:
            return ""
        algo, bits, mode = m.groups()
        c = f"{algo}{bits}" + {"CBC": "", "GCM": "-GCM", "CCM": "-CCM", "CCM_8": "-CCM8"}[mode]
        # OpenSSL's PSK and SRP families spell CBC out (PSK-AES128-CBC-SHA, SRP-AES-128-CBC-SHA)
        if mode == "CBC" and "PSK" in kxauth and algo == "AES":
            c += "-CBC"
        elif mode == "CBC" and kxauth.startswith("SRP"):
            c = f"{algo}-{bits}-CBC"
    if cipher == "3DES_EDE_CBC" and ("PSK" in kxauth or kxauth.startswith("SRP")):
        c = "3DES-EDE-CBC"
    if kxauth == "ECDHE_RSA" and cipher.startswith("ARIA"):  # OpenSSL: ECDHE-ARIA128-GCM-SHA256
        return "-".join(p for p in ("ECDHE", c, mac) if p)
    mac_part = "" if mac in {"AEAD", ""} or cipher == "CHACHA20_POLY1305" else ("SHA" if mac == "SHA" else mac)
    return "-".join(p for p in (_OSSL_KX[kxauth], c, mac_part) if p)


def local_openssl() -> tuple[str, dict[int, str]]:
    """(version, {code: name}) from the local OpenSSL, every suite it can name."""
    exe = shutil.which("openssl")
    if not exe:
        return "", {}
    version = subprocess.run([exe, "version"], capture_output=True, text=True, check=True).stdout.strip()
    tls13 = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:" \
            "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256"
    out = subprocess.run([exe, "ciphers", "-V", "-ciphersuites", tls13, "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                         capture_output=True, text=True, check=True).stdout
    names = {}
    for line in out.splitlines():
        m = re.match(r"\s*0x([0-9A-F]{2}),0x([0-9A-F]{2}) - (\S+)", line)
        if m:
            names[int(m.group(1), 16) << 8 | int(m.group(2), 16)] = m.group(3)
    return version, names


# --- Java --------------------------------------------------------------------------------

_JAVA_PROBE = """
import javax.net.ssl.*;
public class Probe { public static void main(String[] a) throws Exception {
  SSLContext c = SSLContext.getInstance("TLS"); c.init(null, null, null);
  SSLParameters d = c.getDefaultSSLParameters();
  System.out.println(String.join(",", d.getCipherSuites()));
  System.out.println(String.join(",", d.getProtocols()));
  System.out.println(System.getProperty("java.version"));
}}
"""


def local_java() -> dict[str, object] | None:
    """JSSE's default-enabled suites and protocols before jdk.tls.disabledAlgorithms applies."""
    exe = shutil.which("java")
    if not exe:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "Probe.java"
        src.write_text(_JAVA_PROBE)
        props = Path(tmp) / "none.properties"
        # empty the filter so the list is the built-in default; tlskit applies the filter itself
        props.write_text("jdk.tls.disabledAlgorithms=\njdk.tls.legacyAlgorithms=\n")
        res = subprocess.run([exe, f"-Djava.security.properties={props}", str(src)],
                             capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            return None
        suites, protocols, version = res.stdout.strip().splitlines()[:3]
        disabled = subprocess.run(
            [exe, "-XshowSettings:security:properties", "-version"], capture_output=True, text=True
        )
    return {
        "java_version": version,
        "source": f"captured from the local JDK {version} (SSLContext TLS defaults with "
        "jdk.tls.disabledAlgorithms emptied) by scripts/build_registry.py",
        "cipher_suites": suites.split(","),
        "protocols": protocols.split(","),
        "settings_probe_rc": disabled.returncode,
    }


# --- writers -----------------------------------------------------------------------------


def _write(name: str, header: list[str], rows: list[list[object]]) -> tuple[str, int]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    (DATA / name).write_text(buf.getvalue(), encoding="utf-8")
    return hashlib.sha256(buf.getvalue().encode()).hexdigest(), len(rows)


def _meta(written: tuple[str, int]) -> dict[str, object]:
    return {"sha256": written[0], "rows": written[1]}


def build(use_openssl: bool = True, use_java: bool = True) -> dict[str, object]:
    prov: dict[str, object] = {"generated_by": "scripts/build_registry.py", "license": "IANA registries: CC0",
                               "strength_rule": STRENGTH_RULE, "inputs": {}, "outputs": {}}
    for fname, meta in SOURCES.items():
        path = IANA / fname
        rows = _rows(path)
        check = (VERBATIM_CHECK if meta["kind"] == "verbatim" else TRANSCRIBED_CHECK)
        prov["inputs"][fname] = {**meta, "retrieved": RETRIEVED, "check": check,  # type: ignore[index]
                                 "sha256": _sha256(path), "rows": len(rows), "bytes": path.stat().st_size}

    previous = {}
    if (DATA / "cipher_suites.csv").exists():
        previous = {int(r["code"], 16): r for r in _rows(DATA / "cipher_suites.csv")}
    ossl_version, ossl = local_openssl() if use_openssl else ("", {})
    if not ossl_version:  # keep what the last run with OpenSSL found
        ossl = {c: r["openssl_name"] for c, r in previous.items() if r.get("openssl_name_source") == "openssl"}
        old = json.loads((DATA / "PROVENANCE.json").read_text()) if (DATA / "PROVENANCE.json").exists() else {}
        ossl_version = str(old.get("openssl", {}).get("version", ""))
    prov["openssl"] = {"version": ossl_version, "command": "openssl ciphers -V -ciphersuites <all five TLS 1.3 suites> "
                       "'ALL:COMPLEMENTOFALL:@SECLEVEL=0'", "suites_named": len(ossl),
                       "fallback": "OPENSSL_LEGACY table (openssl-ciphers(1) of OpenSSL 1.0.2/1.1.1), then the "
                       "naming rule in openssl_rule_name()"}

    suites = []
    for r in _rows(IANA / "tls-parameters-4.csv"):
        code = _single(r["Value"])
        if code is None:
            continue
        desc = r["Description"]
        grease = desc == "Reserved" and "RFC8701" in r["Reference"]
        if grease:
            suites.append([f"0x{code:04x}", "GREASE", "", "", "", False, "", "", "", "", False, False,
                           "n/a", True, "N", r["DTLS-OK"], r["Reference"]])
            continue
        if not desc.startswith("TLS_"):
            continue
        attrs = suite_attributes(code, desc)
        if code in ossl:
            oname, osrc = ossl[code], "openssl"
        elif code in OPENSSL_LEGACY:
            oname, osrc = OPENSSL_LEGACY[code], "legacy"
        else:
            oname = openssl_rule_name(code, desc, attrs)
            osrc = "rule" if oname else ""
        jname = ("SSL_" + desc[4:]) if code in JAVA_SSL_PREFIX else desc
        suites.append([f"0x{code:04x}", desc, oname, osrc, jname, attrs["tls13"], attrs["kx"], attrs["auth"],
                       attrs["cipher"], attrs["mac"], attrs["aead"], attrs["forward_secrecy"],
                       strength(attrs, r["Recommended"], desc), False, r["Recommended"], r["DTLS-OK"],
                       r["Reference"].replace("\n", " ")])
    prov["outputs"]["cipher_suites.csv"] = _meta(_write(  # type: ignore[index]
        "cipher_suites.csv",
        ["code", "name", "openssl_name", "openssl_name_source", "java_name", "tls13", "kx", "auth", "cipher",
         "mac", "aead", "forward_secrecy", "strength", "grease", "recommended", "dtls_ok", "reference"],
        suites))

    def simple(src: str, out: str, name_col: str = "Description", extra: dict[int, tuple[str, str]] | None = None,
               rec_col: str | None = "Recommended") -> None:
        rows = []
        for r in _rows(IANA / src):
            code = _single(r["Value"])
            if code is None:
                continue
            name = r[name_col].replace("\n", " ")
            grease = name == "Reserved" and "RFC8701" in r.get("Reference", "")
            if name in {"Unassigned"} or (name.startswith("Reserved") and not grease):
                continue
            rows.append([code, "GREASE" if grease else name, grease,
                         (r.get(rec_col or "", "") if rec_col else ""), r.get("Reference", "").replace("\n", " ")])
        for code, (name, ref) in (extra or {}).items():
            rows.append([code, name, False, "", f"not IANA: {ref}"])
        rows.sort(key=lambda x: int(str(x[0])))
        prov["outputs"][out] = _meta(_write(  # type: ignore[index]
            out, ["code", "name", "grease", "recommended", "reference"], rows))

    simple("tls-parameters-5.transcribed.csv", "content_types.csv", rec_col=None)
    simple("tls-parameters-6.transcribed.csv", "alerts.csv")
    simple("tls-parameters-7.transcribed.csv", "handshake_types.csv", rec_col=None)
    simple("tls-parameters-8.csv", "groups.csv")
    simple("tls-signaturescheme.csv", "signature_schemes.csv")
    simple("tls-extensiontype-values-1.transcribed.csv", "extensions.csv", name_col="Extension Name",
           extra=EXTRA_EXTENSIONS)
    prov["outputs"]["versions.csv"] = _meta(_write(  # type: ignore[index]
        "versions.csv", ["code", "name", "reference"], [[c, n, ref] for c, n, ref in VERSIONS]))

    java = local_java() if use_java else None
    if java:
        java.pop("settings_probe_rc", None)
        (DATA / "jsse_java17.json").write_text(json.dumps(java, indent=1) + "\n")
    if (DATA / "jsse_java17.json").exists():
        prov["outputs"]["jsse_java17.json"] = {"sha256": _sha256(DATA / "jsse_java17.json")}  # type: ignore[index]

    prov["generated_at"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    (DATA / "PROVENANCE.json").write_text(json.dumps(prov, indent=1, sort_keys=True) + "\n")
    return prov


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-openssl", action="store_true", help="do not run the local openssl")
    ap.add_argument("--no-java", action="store_true", help="do not run the local java")
    args = ap.parse_args(argv)
    prov = build(use_openssl=not args.no_openssl, use_java=not args.no_java)
    outputs = prov["outputs"]
    assert isinstance(outputs, dict)
    for name, meta in outputs.items():
        sys.stdout.write(f"{name}: {meta}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
