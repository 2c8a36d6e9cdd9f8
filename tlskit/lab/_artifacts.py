"""What an analyst has at hand besides the capture: truststores, chains and configurations.

Per scenario: the client's truststore as a PEM bundle, as PKCS12 and JKS written by the real
``keytool``; the chain the server sends; the server's configuration as an nginx snippet; the
client's Apigee TargetEndpoint ``<SSLInfo>``; keystore/truststore listings in the Apigee
management API ``certInfo`` shape. Never a private key: those stay in ``private/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tlskit.errors import LabError
from tlskit.lab._pki import pem_bundle
from tlskit.lab.scenarios import ClientSpec, Scenario, ServerSpec

STOREPASS = "changeit"  # keytool's customary default; the truststores hold no secrets

_ORDER = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]


def versions_between(lo: str, hi: str) -> list[str]:
    norm = {"TLSv1.0": "TLSv1"}
    return _ORDER[_ORDER.index(norm.get(lo, lo)):_ORDER.index(norm.get(hi, hi)) + 1]


class Keytool:
    """Writes PKCS12 and JKS truststores with the real keytool, once per distinct bundle."""

    def __init__(self, workdir: Path):
        self.exe = shutil.which("keytool")
        self.workdir = workdir
        self._done: dict[str, tuple[Path, Path]] = {}

    def truststores(self, certs: list[x509.Certificate], out: Path, stem: str = "truststore") -> list[Path]:
        """Copy ``stem``.p12/.jks for ``certs`` into ``out``; [] when keytool is missing."""
        if not self.exe:
            return []
        bundle = pem_bundle(certs)
        digest = hashlib.sha256(bundle).hexdigest()[:16]
        if digest not in self._done:
            self._done[digest] = self._make(certs, self.workdir / digest)
        p12, jks = self._done[digest]
        written = [out / f"{stem}.p12", out / f"{stem}.jks"]
        shutil.copyfile(p12, written[0])
        shutil.copyfile(jks, written[1])
        return written

    def _make(self, certs: list[x509.Certificate], where: Path) -> tuple[Path, Path]:
        where.mkdir(parents=True, exist_ok=True)
        p12, jks = where / "store.p12", where / "store.jks"
        assert self.exe
        for cert in certs:
            pem = where / "cert.pem"
            pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            self._run([self.exe, "-importcert", "-noprompt", "-alias", alias_for(cert), "-file",
                       str(pem), "-keystore", str(p12), "-storetype", "PKCS12",
                       "-storepass", STOREPASS])
        self._run([self.exe, "-importkeystore", "-noprompt", "-srckeystore", str(p12),
                   "-srcstoretype", "PKCS12", "-srcstorepass", STOREPASS, "-destkeystore", str(jks),
                   "-deststoretype", "JKS", "-deststorepass", STOREPASS])
        return p12, jks

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode:
            raise LabError(f"keytool failed: {done.stderr.strip() or done.stdout.strip()}",
                           fix="check the JDK installation (keytool -help)")


def alias_for(cert: x509.Certificate) -> str:
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    text = str(cn[0].value) if cn else cert.subject.rfc4514_string()
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def _java_sig_name(cert: x509.Certificate) -> str:
    algo = cert.signature_hash_algorithm.name.upper().replace("-", "") if cert.signature_hash_algorithm else ""
    # 1.2.840.10045.4.* are the ecdsa-with-SHA* OIDs; the lab signs nothing else but RSA.
    kind = "ECDSA" if cert.signature_algorithm_oid.dotted_string.startswith("1.2.840.10045.4") else "RSA"
    return f"{algo}with{kind}"


def cert_info(cert: x509.Certificate, at: dt.datetime) -> dict[str, object]:
    """One certInfo entry as the Apigee Edge management API returns it (times in ms)."""
    pub = cert.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        key = f"RSA Public Key, {pub.key_size} bits"
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        key = f"EC Public Key, {pub.key_size} bits"
    else:
        key = type(pub).__name__
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        basic = f"CA:{str(bc.ca).upper()}" + (f",pathlen:{bc.path_length}" if bc.path_length is not None else "")
    except x509.ExtensionNotFound:
        basic = ""
    try:
        san = [str(n.value) for n in
               cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value]
    except x509.ExtensionNotFound:
        san = []
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    serial = cert.serial_number.to_bytes((cert.serial_number.bit_length() + 8) // 8, "big")
    return {
        "basicConstraints": basic,
        "expiryDate": int(end.timestamp() * 1000),
        "isValid": "Yes" if start <= at <= end else "No",
        "issuer": cert.issuer.rfc4514_string().replace(",", ", "),
        "publicKey": key,
        "serialNumber": ":".join(f"{b:02x}" for b in serial),
        "sigAlgName": _java_sig_name(cert),
        "subject": cert.subject.rfc4514_string().replace(",", ", "),
        "subjectAlternativeNames": san,
        "validFrom": int(start.timestamp() * 1000),
        "version": 3,
    }


def store_listing(name: str, entries: list[tuple[str, list[x509.Certificate], bool]],
                  at: dt.datetime) -> dict[str, object]:
    """A keystore/truststore as Apigee lists it: aliases with their certsInfo.

    ``entries`` are (alias, chain, has_key) triples; ``has_key`` marks a key/cert pair.
    """
    return {
        "name": name,
        "aliases": [
            {
                "alias": alias,
                "certsInfo": {"certInfo": [cert_info(c, at) for c in chain], "certName": f"{alias}-cert"},
                **({"keyName": f"{alias}-key"} if has_key else {}),
                "type": "keycertpair" if has_key else "cert",
            }
            for alias, chain, has_key in entries
        ],
    }


_STDNAMES: dict[str, list[str]] = {}


def iana_cipher_names(cipher_string: str) -> list[str]:
    """IANA names for an OpenSSL cipher string, as `openssl ciphers -stdname` expands it."""
    if cipher_string not in _STDNAMES:
        exe = shutil.which("openssl")
        names: list[str] = []
        if exe:
            done = subprocess.run([exe, "ciphers", "-tls1_2", "-stdname", cipher_string],
                                  capture_output=True, text=True, timeout=30, check=False)
            for line in done.stdout.splitlines():
                first = line.split(" - ")[0].strip()
                if first.startswith("TLS_") and "TLS_AES" not in first and "TLS_CHACHA" not in first:
                    names.append(first)
        _STDNAMES[cipher_string] = names
    return _STDNAMES[cipher_string]


def nginx_snippet(sc: Scenario, names: tuple[str, ...]) -> str:
    """The server's TLS configuration as an nginx server block (what the ciphers module reads)."""
    spec: ServerSpec = sc.server
    lines: list[str] = []
    if spec.sni in ("require", "known_only"):
        lines += [
            "# Default server: refuse handshakes without (or with an unknown) server_name.",
            "server {",
            "    listen 443 ssl default_server;",
            "    ssl_reject_handshake on;",
            "}",
            "",
        ]
    ciphers = spec.ciphers or "DEFAULT"
    if versions_between(spec.min_version, spec.max_version)[0] in ("TLSv1", "TLSv1.1"):
        ciphers += ":@SECLEVEL=0"
    lines += [
        "server {",
        "    listen 443 ssl;",
        f"    server_name {' '.join(names)};",
        "    ssl_certificate     /etc/nginx/tls/server-chain.pem;",
        "    ssl_certificate_key /etc/nginx/tls/server.key;",
        f"    ssl_protocols {' '.join(versions_between(spec.min_version, spec.max_version))};",
        f"    ssl_ciphers {ciphers};",
    ]
    if spec.groups:
        lines.append(f"    ssl_ecdh_curve {spec.groups};")
    if spec.tls13_suites:
        lines.append(f"    ssl_conf_command Ciphersuites {spec.tls13_suites};")
    if spec.client_auth:
        lines += ["    ssl_verify_client on;",
                  "    ssl_client_certificate /etc/nginx/tls/client-ca.pem;"]
    lines += ["}", ""]
    return "\n".join(lines)


def sslinfo_xml(sc: Scenario, *, truststore: str, keystore: str | None, key_alias: str | None) -> str:
    """The client's Apigee TargetEndpoint with its <SSLInfo> (the message processor's settings)."""
    spec: ClientSpec = sc.client
    out = [
        '<TargetEndpoint name="default">',
        "  <HTTPTargetConnection>",
        "    <SSLInfo>",
        "      <Enabled>true</Enabled>",
        f"      <ClientAuthEnabled>{'true' if keystore else 'false'}</ClientAuthEnabled>",
    ]
    if keystore and key_alias:
        out += [f"      <KeyStore>ref://{escape(keystore)}</KeyStore>",
                f"      <KeyAlias>{escape(key_alias)}</KeyAlias>"]
    out += [f"      <TrustStore>ref://{escape(truststore)}</TrustStore>",
            "      <IgnoreValidationErrors>false</IgnoreValidationErrors>",
            "      <Protocols>"]
    out += [f"        <Protocol>{v}</Protocol>" for v in versions_between(spec.min_version, spec.max_version)]
    out.append("      </Protocols>")
    if spec.ciphers:
        out.append("      <Ciphers>")
        out += [f"        <Cipher>{n}</Cipher>" for n in iana_cipher_names(spec.ciphers)]
        out.append("      </Ciphers>")
    out += [
        "    </SSLInfo>",
        f"    <URL>https://{escape(sc.hostname)}/v1</URL>",
        "  </HTTPTargetConnection>",
        "</TargetEndpoint>",
        "",
    ]
    if not spec.send_sni:
        out.insert(0, "<!-- message processor runs with conf_system_jsse.enableSNIExtension=false -->")
    return "\n".join(out)


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
