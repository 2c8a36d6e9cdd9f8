"""Chain verification: build the path a client would build and say where and why it breaks.

The path is built the way OpenSSL's ``X509_verify_cert`` builds it (issuer by name and key
identifier, trusted certificates preferred over sent ones), and problems are reported in
the order ``openssl verify`` reports them, with its wording, so a verdict reads like the
error a client logged. Any certificate in the truststore is a trust anchor, as in Java's
PKIX and the Web PKI (a truststore holding only an intermediate trusts what it issued).
When a path to an anchor is found it is also run through cryptography's X.509 verifier at
the same moment; its answer is kept in ``ChainVerdict.verifier``.

Validity is judged at ``at`` (the capture's time), never at the current time.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import verification as xv

from tlskit._hosts import is_ip_literal
from tlskit.certs._hostname import check_hostname
from tlskit.certs._readers import as_truststore
from tlskit.certs._store import (
    TrustEntry,
    Truststore,
    dn,
    load_certificate,
    normalize_dn,
    quiet_x509,
)

VERDICTS = (
    "trusted",
    "incomplete_chain",
    "unknown_ca",
    "self_signed",
    "expired",
    "not_yet_valid",
    "hostname_mismatch",
    "weak",
    "bad_signature",
    "malformed",
    "unverified",
    "no_certificate",
)
"""Verdict codes. ``unverified``: no truststore was given and nothing in the chain's structure,
validity, names or algorithms is wrong, so trust depends on what the client holds."""

# OpenSSL's X509_V_ERR codes and X509_verify_cert_error_string() texts (OpenSSL 3 wording).
OPENSSL_ERRORS = {
    0: "ok",
    2: "unable to get issuer certificate",
    7: "certificate signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    24: "invalid CA certificate",
    25: "path length constraint exceeded",
    62: "hostname mismatch",
    64: "IP address mismatch",
    66: "EE certificate key too weak",
    67: "CA certificate key too weak",
    68: "CA signature digest algorithm too weak",
}

# Modern clients (browsers, OpenSSL at security level 2, Java's disabledAlgorithms) refuse
# these; older clients accepted them, so "weak" is reported only when nothing else is wrong.
MIN_RSA_BITS = 2048
MIN_EC_BITS = 224
WEAK_HASHES = {"md2", "md4", "md5", "sha1"}
MAX_DEPTH = 10


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a chain.

    Attributes
    ----------
    code: a verdict code from VERDICTS.
    depth: depth in the built path (0 is the leaf), as openssl verify counts.
    position: position in the chain as sent, None for a certificate from the truststore.
    subject: the certificate at fault (RFC 4514).
    openssl_error: X509_V_ERR number; message: its text.
    detail: what exactly is wrong, naming the certificates.
    """

    code: str
    depth: int
    position: int | None
    subject: str | None
    openssl_error: int
    detail: str

    @property
    def message(self) -> str:
        return OPENSSL_ERRORS.get(self.openssl_error, self.code)

    @property
    def openssl_line(self) -> str:
        if self.openssl_error == 0:  # never reaches verification: `openssl verify` stops at loading
            return "unable to load certificate"
        return f"error {self.openssl_error} at {self.depth} depth lookup: {self.message}"


@dataclass(frozen=True)
class ChainVerdict:
    """What a client would conclude about a chain, and why.

    Attributes
    ----------
    verdict: one of VERDICTS.
    explanation: ``openssl verify``-style line plus what is wrong, e.g. "error 20 at 0 depth
        lookup: unable to get local issuer certificate: ...".
    remedy: what to change and on which side.
    openssl_error, openssl_message: the X509_V_ERR code and text of the deciding problem
        (0, "ok" when trusted).
    fault_position: position (as sent) of the certificate at fault; None when the fault is a
        truststore certificate or there is none.
    fault_subject: subject of the certificate at fault.
    missing_issuer: DN of the issuer nobody supplied (incomplete chain / unknown CA).
    hostname, hostname_matches, names_checked: the host name checked, whether it matched,
        and the certificate names compared (SAN DNS, SAN IP, or the CN when no SAN DNS).
    path: positions (as sent) of the certificates in the built path, leaf first.
    anchor: the truststore entry the path ends at, None when untrusted or no truststore.
    structural_only: no truststore was given; trust was not judged.
    at: the moment validity was judged at.
    problems: every problem found, in the order openssl reports them.
    verifier: cryptography's X.509 verifier result ("ok", its error, or why it did not run).
    """

    verdict: str
    explanation: str
    remedy: str
    openssl_error: int
    openssl_message: str
    fault_position: int | None
    fault_subject: str | None
    missing_issuer: str | None
    hostname: str | None
    hostname_matches: bool | None
    names_checked: tuple[str, ...]
    path: tuple[int | None, ...]
    anchor: TrustEntry | None
    structural_only: bool
    at: datetime
    problems: tuple[Problem, ...] = field(default=())
    verifier: str = "not run"

    @property
    def ok(self) -> bool:
        return self.verdict == "trusted"


@dataclass
class _Node:
    cert: x509.Certificate
    position: int | None  # None: came from the truststore
    entry: TrustEntry | None = None


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _same_name(a: x509.Name, b: x509.Name) -> bool:
    return a == b or normalize_dn(dn(a)) == normalize_dn(dn(b))


def _key_id(cert: x509.Certificate, ext: type[x509.ExtensionType]) -> bytes | None:
    try:
        v: object = cert.extensions.get_extension_for_class(ext).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    return getattr(v, "key_identifier", None) or getattr(v, "digest", None)


def _could_issue(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    """OpenSSL's check_issued: names match and, when both are present, key identifiers too."""
    if not _same_name(issuer.subject, cert.issuer):
        return False
    aki = _key_id(cert, x509.AuthorityKeyIdentifier)
    ski = _key_id(issuer, x509.SubjectKeyIdentifier)
    return aki is None or ski is None or aki == ski


def signature_ok(cert: x509.Certificate, issuer: x509.Certificate) -> bool | None:
    """Does ``issuer``'s key verify ``cert``'s signature? None when it cannot be checked."""
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass  # names differ only in encoding, or an algorithm the shortcut refuses
    try:
        pub = issuer.public_key()
        sig, tbs = cert.signature, cert.tbs_certificate_bytes
        params = cert.signature_algorithm_parameters
        h = cert.signature_hash_algorithm
        if isinstance(pub, rsa.RSAPublicKey) and h is not None:
            pub.verify(sig, tbs, params, h)  # type: ignore[arg-type]
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(sig, tbs, params)  # type: ignore[arg-type]
        elif isinstance(pub, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            pub.verify(sig, tbs)
        elif isinstance(pub, dsa.DSAPublicKey) and h is not None:
            pub.verify(sig, tbs, h)
        else:
            return None
        return True
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def _tlv(data: bytes, i: int) -> tuple[int, int]:
    """(start of value, end of element) of the DER element at ``i``."""
    n = data[i + 1]
    if n < 0x80:
        return i + 2, i + 2 + n
    k = n & 0x7F
    length = int.from_bytes(data[i + 2 : i + 2 + k], "big")
    return i + 2 + k, i + 2 + k + length


def unsigned_fields_ok(cert: x509.Certificate) -> bool:
    """Check the two fields outside the signed part, as OpenSSL does before verifying.

    RFC 5280 §4.1.1.2: the outer signatureAlgorithm must equal the one inside tbsCertificate,
    and the signature BIT STRING has no unused bits. Neither is covered by the signature, so a
    difference means the certificate was altered after signing; OpenSSL refuses it as a
    signature failure.
    """
    try:
        der = cert.public_bytes(Encoding.DER)
        body, _ = _tlv(der, 0)  # Certificate SEQUENCE
        _, tbs_end = _tlv(der, body)  # tbsCertificate
        outer_start = tbs_end
        _, outer_end = _tlv(der, outer_start)
        tbs = cert.tbs_certificate_bytes
        j, _ = _tlv(tbs, 0)
        if tbs[j] == 0xA0:  # [0] version
            j = _tlv(tbs, j)[1]
        j = _tlv(tbs, j)[1]  # serialNumber
        _, inner_end = _tlv(tbs, j)
        sig_value, _ = _tlv(der, outer_end)
        return der[outer_start:outer_end] == tbs[j:inner_end] and der[outer_end] == 0x03 and der[sig_value] == 0
    except (IndexError, ValueError):
        return False


def is_self_signed(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key verifies its signature."""
    if not _same_name(cert.subject, cert.issuer):
        return False
    return signature_ok(cert, cert) is not False


def _not_a_ca(cert: x509.Certificate) -> str | None:
    """Why OpenSSL's X509_check_ca would refuse ``cert`` as an issuer, else None."""
    try:
        ku: x509.KeyUsage | None = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    if ku is not None and not ku.key_cert_sign:
        return "its keyUsage does not allow signing certificates (no keyCertSign)"
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        bc = None
    if bc is not None:
        return None if bc.ca else "its basicConstraints say it is not a CA (CA:FALSE)"
    if ku is not None or (cert.version == x509.Version.v1 and is_self_signed(cert)):
        return None  # OpenSSL accepts these outside strict mode
    return "it has no basicConstraints extension marking it as a CA"


def _path_len(cert: x509.Certificate) -> int | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length
    except x509.ExtensionNotFound:
        return None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return cert.version == x509.Version.v1 and is_self_signed(cert)


def parse_der(data: bytes) -> x509.Certificate:
    """DER or PEM bytes to a certificate (ValueError when neither parses)."""
    return load_certificate(data)


def _weakness(cert: x509.Certificate, *, self_signed: bool) -> tuple[int, str] | None:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        key = None
    ca = _is_ca(cert)
    if isinstance(key, (rsa.RSAPublicKey, dsa.DSAPublicKey)) and key.key_size < MIN_RSA_BITS:
        kind = "RSA" if isinstance(key, rsa.RSAPublicKey) else "DSA"
        return (67 if ca else 66), f"{kind} key of {key.key_size} bits (clients today require {MIN_RSA_BITS})"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.key_size < MIN_EC_BITS:
        return (67 if ca else 66), f"EC key of {key.key_size} bits (clients today require {MIN_EC_BITS})"
    if not self_signed:  # a root's self-signature is not relied on, so its digest does not matter
        try:
            h = cert.signature_hash_algorithm
        except UnsupportedAlgorithm:
            h = None
        if h is not None and h.name in WEAK_HASHES:
            return 68, f"signed with {h.name.upper()}, which clients no longer accept in certificates"
    return None


def _fmt_subject(cert: x509.Certificate) -> str:
    return dn(cert.subject) or "(empty subject)"


def _parse_error_code(exc: Exception) -> tuple[str, int]:
    # OpenSSL reports a signature algorithm it cannot decode as a signature failure.
    text = str(exc)
    if "signature_alg" in text or "signature_algorithm" in text:
        return "bad_signature", 7
    return "malformed", 0


@quiet_x509
def verify_chain(
    ders: Sequence[bytes | bytearray | memoryview],
    *,
    truststore: Truststore | str | Path | None = None,
    hostname: str | None = None,
    at: datetime,
    side: str = "server",
    cn_fallback: bool = False,
) -> ChainVerdict:
    """Judge a certificate chain as a client (or, for ``side="client"``, a server) would.

    Parameters
    ----------
    ders: the chain as sent, leaf first (DER or PEM bytes each).
    truststore: the trusted certificates (a Truststore, or a path to load: PEM, directory,
        password-less JKS, Apigee JSON, "system"); None judges structure only (a self-signed top means
        the client must trust that root; a leaf whose issuer was not sent means an
        incomplete chain) and says so in the explanation.
    hostname: the name the client asked for (SNI or URL host); None skips the name check.
    at: the moment to judge validity at, normally the capture time of the Certificate message.
    side: "server" for a server chain, "client" for a client certificate chain; only the
        wording of the remedy differs.
    cn_fallback: accept a subject CN match when the leaf has no subjectAltName DNS names, as
        Java, curl and OpenSSL's X509_check_host do; the default (False) is what browsers, Go
        and Python's ssl do.

    Returns
    -------
    ChainVerdict
    """
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    structural = truststore is None
    store = as_truststore(truststore) or Truststore((), "none", "memory")
    sender = "server" if side == "server" else "client"
    verifier_side = "client" if side == "server" else "server"
    if not ders:
        return _verdict(
            "no_certificate", [], None, at=at, structural=structural, hostname=hostname,
            explanation=f"The {sender} sent no certificate.",
            remedy=f"Configure the {sender} with a certificate and its chain.",
        )

    parsed: list[tuple[int, x509.Certificate]] = []
    for pos, raw in enumerate(ders):
        try:
            parsed.append((pos, parse_der(bytes(raw))))
        except ValueError as exc:
            if pos == 0:
                code, err = _parse_error_code(exc)
                p = Problem(code, 0, 0, None, err, f"the leaf certificate cannot be parsed ({exc})")
                return _verdict(
                    code, [p], None, at=at, structural=structural, hostname=hostname,
                    remedy=f"Replace the {sender}'s certificate with a well-formed one; "
                    f"{verifier_side}s reject a certificate they cannot parse.",
                )
            # An unparseable extra certificate is skipped, as TLS stacks skip it.

    # -- build the path ---------------------------------------------------------------
    leaf_pos, leaf = parsed[0]
    path = [_Node(leaf, leaf_pos)]
    pool = parsed[1:]
    anchor: TrustEntry | None = None
    name_only_anchor: TrustEntry | None = None
    hit, _how = store.find(leaf)
    if hit is not None:
        path[0].entry = hit
        if hit.sha256 is not None:
            anchor = hit
        else:  # a DER-less store (Apigee certInfo) lists this very certificate by DN + serial
            name_only_anchor = hit
    while anchor is None and name_only_anchor is None and len(path) <= MAX_DEPTH:
        cur = path[-1].cert
        if is_self_signed(cur):
            break
        trusted = [e for e in store.by_subject(dn(cur.issuer)) if e.certificate is not None]
        trusted = [e for e in trusted if e.certificate is not None and _could_issue(e.certificate, cur)]
        trusted.sort(key=lambda e: (signature_ok(cur, e.certificate) is not True, not _valid_at(e.certificate, at)))  # type: ignore[arg-type]
        if trusted:
            anchor = trusted[0]
            assert anchor.certificate is not None
            path.append(_Node(anchor.certificate, None, anchor))
            break
        used = {id(n.cert) for n in path}
        sent = [(p, c) for p, c in pool if id(c) not in used and _could_issue(c, cur)]
        sent.sort(key=lambda pc: (signature_ok(cur, pc[1]) is not True, not _valid_at(pc[1], at), pc[0]))
        if sent:
            pos, cert = sent[0]
            node = _Node(cert, pos)
            hit, _how = store.find(cert)
            if hit is not None:
                node.entry = hit
                if hit.sha256 is not None:
                    anchor = hit
                else:
                    name_only_anchor = hit
            path.append(node)
            continue
        # No DER for the issuer anywhere: a DER-less store (Apigee certInfo) may still name it.
        named = [e for e in store.by_subject(dn(cur.issuer)) if e.certificate is None]
        if named:
            name_only_anchor = named[0]
        break

    problems: list[Problem] = []
    top = path[-1]
    top_depth = len(path) - 1
    missing_issuer: str | None = None
    trusted_path = anchor is not None or name_only_anchor is not None
    if not trusted_path:
        if is_self_signed(top.cert):
            if top_depth == 0:
                problems.append(Problem(
                    "self_signed", 0, top.position, _fmt_subject(top.cert), 18,
                    f"the {sender}'s certificate '{_fmt_subject(top.cert)}' is self-signed"
                    + ("" if structural else " and is not in the truststore"),
                ))
            elif not structural:
                problems.append(Problem(
                    "unknown_ca", top_depth, top.position, _fmt_subject(top.cert), 19,
                    f"the chain ends at the root '{_fmt_subject(top.cert)}', which the truststore "
                    "does not hold",
                ))
        else:
            missing_issuer = dn(top.cert.issuer)
            top_is_ca = top_depth > 0 and _is_ca(top.cert)
            if structural and top_is_ca:
                pass  # an intermediate whose root was not sent is normal: the client supplies it
            elif top_is_ca:
                problems.append(Problem(
                    "unknown_ca", top_depth, top.position, _fmt_subject(top.cert), 20,
                    f"the issuer '{missing_issuer}' of '{_fmt_subject(top.cert)}' is not in the "
                    "truststore" + _same_name_hint(store, top.cert),
                ))
            else:
                problems.append(Problem(
                    "incomplete_chain", top_depth, top.position, _fmt_subject(top.cert), 20,
                    f"the issuer '{missing_issuer}' of '{_fmt_subject(top.cert)}' was not sent"
                    + (" (no truststore given to look it up in)" if structural else " and is not in the truststore")
                    + _same_name_hint(store, top.cert),
                ))

    # -- issuers must be CAs (OpenSSL's check_chain_extensions) ----------------------------
    for depth in range(1, len(path)):
        node = path[depth]
        if node.position is None:
            continue  # a truststore entry is trusted as configured, as Java's TrustAnchor is
        subj = _fmt_subject(node.cert)
        why = _not_a_ca(node.cert)
        if why:
            problems.append(Problem(
                "unknown_ca", depth, node.position, subj, 24,
                f"'{subj}' issued '{_fmt_subject(path[depth - 1].cert)}' but {why}",
            ))
            continue
        limit = _path_len(node.cert)
        below = depth - 1  # intermediate CAs between this one and the leaf
        if limit is not None and below > limit:
            problems.append(Problem(
                "unknown_ca", depth, node.position, subj, 25,
                f"'{subj}' allows {limit} intermediate CA(s) below it (pathLenConstraint), the chain has {below}",
            ))

    # -- host name (OpenSSL's check_id comes before signatures and times) -------------------
    hn = check_hostname(leaf, hostname, cn_fallback=cn_fallback) if hostname else None
    if hn is not None and not hn.matches:
        is_ip = _is_ip(hn.hostname)
        shown = ", ".join(hn.names_checked) or "(none)"
        if hn.cn_match:
            detail = (f"'{hn.hostname}' appears only in the subject CN and the certificate has no "
                      "subjectAltName DNS names; browsers, Go and Python's ssl ignore the CN (RFC 9525), "
                      "while Java, curl and OpenSSL's X509_check_host still accept it")
        else:
            detail = (f"'{hn.hostname}' matches none of the certificate's {_SOURCE[hn.source]}: {shown}"
                      + ("" if is_ip else " (a wildcard covers exactly one left-most label)"))
        problems.append(Problem("hostname_mismatch", 0, leaf_pos, _fmt_subject(leaf), 64 if is_ip else 62, detail))

    # -- signatures and validity, from the top of the path down, as internal_verify does ---
    nb_, na_ = (name_only_anchor.not_before, name_only_anchor.not_after) if name_only_anchor else (None, None)
    if name_only_anchor is not None and path[-1].entry is not name_only_anchor:
        # The store lists the issuer without its bytes: its printed validity is all there is.
        where = len(path)
        if nb_ is not None and at < nb_:
            problems.append(Problem("not_yet_valid", where, None, name_only_anchor.subject, 9,
                                    f"the truststore's '{name_only_anchor.subject}' is valid only from {nb_:%Y-%m-%d}"))
        elif na_ is not None and at > na_:
            problems.append(Problem("expired", where, None, name_only_anchor.subject, 10,
                                    f"the truststore's '{name_only_anchor.subject}' expired on {na_:%Y-%m-%d}"))
    for depth in range(len(path) - 1, -1, -1):
        node = path[depth]
        subj = _fmt_subject(node.cert)
        if node.position is not None and not unsigned_fields_ok(node.cert):
            problems.append(Problem(
                "bad_signature", depth, node.position, subj, 7,
                f"the fields of '{subj}' outside its signed part (signature algorithm, signature "
                "encoding) do not match the signed part: it was altered after signing",
            ))
        if depth + 1 < len(path):
            issuer = path[depth + 1].cert
            if signature_ok(node.cert, issuer) is False:
                problems.append(Problem(
                    "bad_signature", depth, node.position, subj, 7,
                    f"the signature on '{subj}' does not verify with the key of its issuer "
                    f"'{_fmt_subject(issuer)}'",
                ))
        if at < node.cert.not_valid_before_utc:
            problems.append(Problem(
                "not_yet_valid", depth, node.position, subj, 9,
                f"'{subj}' is valid only from {node.cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC "
                f"(judged at {at:%Y-%m-%d %H:%M:%S} UTC)",
            ))
        elif at > node.cert.not_valid_after_utc:
            problems.append(Problem(
                "expired", depth, node.position, subj, 10,
                f"'{subj}' expired on {node.cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC "
                f"(judged at {at:%Y-%m-%d %H:%M:%S} UTC)",
            ))

    # -- algorithms last: whether they fail depends on the client's policy -----------------
    for depth, node in enumerate(path):
        weak = _weakness(node.cert, self_signed=node.position is None or is_self_signed(node.cert))
        if weak is not None:
            problems.append(Problem("weak", depth, node.position, _fmt_subject(node.cert), weak[0],
                                    f"'{_fmt_subject(node.cert)}': {weak[1]}"))

    verifier = _run_verifier(path, anchor, hostname, at) if anchor is not None else (
        "not run: no trust anchor" if not structural else "not run: no truststore"
    )
    positions = tuple(n.position for n in path)
    if problems:
        return _verdict(problems[0].code, problems, hn, at=at, structural=structural, hostname=hostname,
                        missing_issuer=missing_issuer, path=positions, anchor=anchor,
                        remedy=_remedy(problems[0], sender, verifier_side, missing_issuer), verifier=verifier)
    if structural:
        top_note = (
            f"the chain ends at the self-signed root '{_fmt_subject(top.cert)}'"
            if is_self_signed(top.cert) else f"the chain ends at '{_fmt_subject(top.cert)}', issued by '{missing_issuer}'"
        )
        return _verdict(
            "unverified", [], hn, at=at, structural=True, hostname=hostname, missing_issuer=missing_issuer,
            path=positions,
            explanation=f"No truststore given, so trust was not judged: {top_note}; the {verifier_side} "
            f"must trust {'that root' if is_self_signed(top.cert) else repr(missing_issuer)}. "
            "Structure, validity, names and algorithms are fine.",
            remedy=f"Check that the {verifier_side}'s truststore holds "
            f"{'that root' if is_self_signed(top.cert) else repr(missing_issuer)} (pass truststore=).",
        )
    via = (
        f"the truststore entry '{anchor.alias}' ({anchor.subject})" if anchor is not None
        else f"the truststore entry '{name_only_anchor.alias}' ({name_only_anchor.subject}), matched by name only "  # type: ignore[union-attr]
        "because that store holds no certificate bytes"
    )
    disagree = f" (cryptography's verifier disagrees: {verifier})" if verifier.startswith("rejected") else ""
    return _verdict(
        "trusted", [], hn, at=at, structural=False, hostname=hostname, path=positions, anchor=anchor,
        explanation=f"ok: the chain leads to {via}; every certificate is valid at "
        f"{at:%Y-%m-%d %H:%M:%S} UTC" + (f" and '{hn.hostname}' matches '{hn.matched_name}'" if hn else "") + disagree,
        remedy="Nothing to change in the certificates.", verifier=verifier,
    )


_SOURCE = {"san_dns": "subjectAltName DNS names", "san_ip": "subjectAltName IP addresses",
           "subject_cn": "subject common names (it has no subjectAltName DNS names)"}


def _is_ip(name: str) -> bool:
    return is_ip_literal(name.strip("[]"))  # a URL's host may come bracketed: [::1]


def _valid_at(cert: x509.Certificate, at: datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


def _same_name_hint(store: Truststore, cert: x509.Certificate) -> str:
    same = store.by_subject(dn(cert.issuer))
    if not same:
        return ""
    return (f"; the truststore holds '{same[0].alias}' with that name, but its key did not sign "
            "this certificate (a renewed or different CA key)")


def _remedy(p: Problem, sender: str, verifier: str, missing: str | None) -> str:
    if p.code == "incomplete_chain":
        return (f"Configure the {sender} to send the intermediate certificate(s) after its leaf, "
                f"up to '{missing}'; or, if '{missing}' is a private root, add it to the {verifier}'s truststore.")
    if p.code == "unknown_ca" and p.openssl_error in (24, 25):
        return (f"Reissue '{p.subject}' as a proper CA certificate (basicConstraints CA:TRUE, keyUsage "
                f"keyCertSign, a large enough pathLenConstraint), or have the {sender} send the right intermediate.")
    if p.code == "unknown_ca":
        return (f"Add the root CA ('{missing or p.subject}') to the {verifier}'s truststore, "
                f"or give the {sender} a certificate from a CA the {verifier} already trusts.")
    if p.code == "self_signed":
        return (f"Give the {sender} a CA-issued certificate, or import this certificate into the "
                f"{verifier}'s truststore if it is meant to be trusted directly.")
    if p.code == "expired":
        return f"Renew '{p.subject}' and install it on the {sender} (check the {verifier}'s clock too)."
    if p.code == "not_yet_valid":
        return f"Check the {verifier}'s clock, or wait until '{p.subject}' becomes valid."
    if p.code == "hostname_mismatch":
        if "only in the subject CN" in p.detail:
            return f"Reissue the {sender}'s certificate with the host name in its subjectAltName (DNS)."
        return (f"Have the {verifier} use a name the certificate lists, or reissue the {sender}'s "
                "certificate with the requested name in its subjectAltName.")
    if p.code == "bad_signature":
        return f"Replace '{p.subject or 'the certificate'}' with a correctly signed certificate on the {sender}."
    if p.code == "weak":
        return f"Reissue '{p.subject}' with an RSA key of {MIN_RSA_BITS}+ bits (or ECDSA P-256) and SHA-256."
    return f"Replace the {sender}'s certificate with a well-formed one."


def _verdict(
    code: str,
    problems: list[Problem],
    hn: object,
    *,
    at: datetime,
    structural: bool,
    hostname: str | None,
    missing_issuer: str | None = None,
    path: tuple[int | None, ...] = (),
    anchor: TrustEntry | None = None,
    explanation: str | None = None,
    remedy: str = "",
    verifier: str = "not run",
) -> ChainVerdict:
    from tlskit.certs._hostname import HostnameCheck

    first = problems[0] if problems else None
    if explanation is None and first is not None:
        explanation = f"{first.openssl_line}: {first.detail}."
        others = [p for p in problems[1:] if p.code != first.code]
        if others:
            explanation += " Also: " + "; ".join(f"{p.message} ({p.detail})" for p in others[:3]) + "."
    if structural and code not in ("no_certificate", "unverified"):
        explanation = (explanation or "") + " (No truststore given: trust itself was not judged.)"
    h = hn if isinstance(hn, HostnameCheck) else None
    err = first.openssl_error if first else 0
    return ChainVerdict(
        verdict=code,
        explanation=explanation or "",
        remedy=remedy,
        openssl_error=err,
        openssl_message=OPENSSL_ERRORS.get(err, code) if first else ("ok" if code == "trusted" else code),
        fault_position=first.position if first else None,
        fault_subject=first.subject if first else None,
        missing_issuer=missing_issuer,
        hostname=h.hostname if h else (hostname.lower().rstrip(".") if hostname else None),
        hostname_matches=h.matches if h else None,
        names_checked=h.names_checked if h else (),
        path=path,
        anchor=anchor,
        structural_only=structural,
        at=at,
        problems=tuple(problems),
        verifier=verifier,
    )


_CA_POLICY = xv.ExtensionPolicy.permit_all().require_present(
    x509.BasicConstraints, xv.Criticality.AGNOSTIC, None
)


def _run_verifier(path: list[_Node], anchor: TrustEntry, hostname: str | None, at: datetime) -> str:
    """cryptography's path validation over the same certificates, at the same moment."""
    assert anchor.certificate is not None
    leaf = path[0].cert
    intermediates = [n.cert for n in path[1:] if n.position is not None and n.entry is None]
    try:
        builder = (
            xv.PolicyBuilder()
            .store(xv.Store([anchor.certificate]))
            .time(at)
            .max_chain_depth(MAX_DEPTH)
        )
        # Judge path, signatures and time; leave extension profiles (EKU, SKI, ...) aside,
        # since private and older CAs rarely meet the CA/Browser Forum profile.
        ee = xv.ExtensionPolicy.permit_all()
        if leaf is anchor.certificate or hashlib.sha256(_der(leaf)).hexdigest() == anchor.sha256:
            return "not run: the leaf itself is the trust anchor"
        has_san = any(isinstance(e.value, x509.SubjectAlternativeName) for e in leaf.extensions)
        if hostname and has_san:
            subject: xv.Subject = (
                xv.IPAddress(ipaddress.ip_address(hostname.strip("[]"))) if _is_ip(hostname) else xv.DNSName(hostname)
            )
            ee = ee.require_present(x509.SubjectAlternativeName, xv.Criticality.AGNOSTIC, None)
            builder = builder.extension_policies(ca_policy=_CA_POLICY, ee_policy=ee)
            builder.build_server_verifier(subject).verify(leaf, intermediates)
        else:  # no name to check (or a CN-only leaf the verifier cannot name-check): path only
            builder = builder.extension_policies(ca_policy=_CA_POLICY, ee_policy=ee)
            builder.build_client_verifier().verify(leaf, intermediates)
        return "ok"
    except xv.VerificationError as exc:
        return f"rejected: {exc}"
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return f"not run: {exc}"
