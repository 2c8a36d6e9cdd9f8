"""NSS key log files (SSLKEYLOGFILE) and pcapng Decryption Secrets Blocks.

Each useful line is ``LABEL <client_random hex> <secret hex>``: ``CLIENT_RANDOM`` (TLS <= 1.2
master secret), the TLS 1.3 traffic secrets (``CLIENT_HANDSHAKE_TRAFFIC_SECRET``,
``SERVER_HANDSHAKE_TRAFFIC_SECRET``, ``CLIENT_TRAFFIC_SECRET_0``, ``SERVER_TRAFFIC_SECRET_0``,
``EXPORTER_SECRET``, ``CLIENT_EARLY_TRAFFIC_SECRET``, ...). ``RSA <encrypted pms prefix>
<pre-master secret>`` lines are keyed by the encrypted pre-master secret instead.

A :class:`KeyLog` never shows a secret in ``repr``/``str``: reports and notebooks are
shared, and a key log decrypts the whole session.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

from tlskit.errors import CaptureWarning, KeylogError

LABELS = (
    "CLIENT_RANDOM",
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "EARLY_EXPORTER_SECRET",
    "EXPORTER_SECRET",
)
# Labels are upper-case words; unknown ones (e.g. a future ECH label) are kept, not junk.
_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)\s+([0-9A-Fa-f]+)\s+([0-9A-Fa-f]+)\s*$")
_FIX = (
    "Point keylog= at the file the client wrote with SSLKEYLOGFILE set (lines like "
    "'CLIENT_RANDOM <64 hex> <96 hex>' or 'CLIENT_HANDSHAKE_TRAFFIC_SECRET <64 hex> <hex>')."
)


class KeyLog:
    """Secrets from a key log, indexed by the ClientHello random.

    Attributes
    ----------
    source : str
        File path (or a description such as "pcapng DSB") the secrets came from.
    skipped : int
        Lines that were neither blank, a comment, nor a well-formed secret line.
    first_bad_line : int or None
        1-based number of the first skipped line.
    """

    __slots__ = ("_rsa", "_secrets", "first_bad_line", "skipped", "source")

    def __init__(
        self,
        secrets: Mapping[bytes, Mapping[str, bytes]],
        *,
        source: str,
        rsa: Mapping[bytes, bytes] | None = None,
        skipped: int = 0,
        first_bad_line: int | None = None,
    ):
        self._secrets = {cr: dict(labels) for cr, labels in secrets.items()}
        self._rsa = dict(rsa or {})
        self.source = source
        self.skipped = skipped
        self.first_bad_line = first_bad_line

    def secrets_for(self, client_random: bytes) -> dict[str, bytes]:
        """{label: secret} for one session ({} when the log has nothing for it)."""
        return dict(self._secrets.get(bytes(client_random), {}))

    def rsa_premaster(self, encrypted_prefix: bytes) -> bytes | None:
        """Pre-master secret from an ``RSA`` line, by the first 8 bytes of the encrypted one."""
        return self._rsa.get(bytes(encrypted_prefix[:8]))

    def __contains__(self, client_random: object) -> bool:
        return isinstance(client_random, (bytes, bytearray)) and bytes(client_random) in self._secrets

    def __len__(self) -> int:
        return len(self._secrets)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._secrets)

    @property
    def label_counts(self) -> dict[str, int]:
        """How many sessions carry each label (no secret values)."""
        return dict(Counter(label for labels in self._secrets.values() for label in labels))

    def merged(self, other: KeyLog) -> KeyLog:
        """A new KeyLog with both logs' secrets (``other`` wins on conflicts)."""
        secrets = {cr: dict(v) for cr, v in self._secrets.items()}
        for cr, labels in other._secrets.items():
            secrets.setdefault(cr, {}).update(labels)
        return KeyLog(
            secrets,
            source=f"{self.source} + {other.source}",
            rsa={**self._rsa, **other._rsa},
            skipped=self.skipped + other.skipped,
            first_bad_line=self.first_bad_line,
        )

    def __repr__(self) -> str:
        labels = ", ".join(f"{k}: {v}" for k, v in sorted(self.label_counts.items()))
        rsa = f", {len(self._rsa)} RSA" if self._rsa else ""
        return f"KeyLog({self.source!r}, {len(self)} sessions{rsa}; {labels or 'no secrets'}; secrets redacted)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # Picklable for process pools; the state goes through __init__, never through repr.
        return (_rebuild, (self._secrets, self.source, self._rsa, self.skipped, self.first_bad_line))


def _rebuild(
    secrets: Mapping[bytes, Mapping[str, bytes]],
    source: str,
    rsa: Mapping[bytes, bytes],
    skipped: int,
    first_bad_line: int | None,
) -> KeyLog:
    return KeyLog(secrets, source=source, rsa=rsa, skipped=skipped, first_bad_line=first_bad_line)


def _parse(text: str, source: str) -> KeyLog:
    secrets: dict[bytes, dict[str, bytes]] = {}
    rsa: dict[bytes, bytes] = {}
    skipped = 0
    first_bad: int | None = None
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        ok = m is not None and len(m.group(2)) % 2 == 0 and len(m.group(3)) % 2 == 0
        if ok and m is not None:
            label, key, secret = m.group(1), bytes.fromhex(m.group(2)), bytes.fromhex(m.group(3))
            if label == "RSA" and len(key) == 8 and secret:
                rsa[key] = secret
                continue
            if label != "RSA" and len(key) == 32 and secret:
                secrets.setdefault(key, {})[label] = secret
                continue
        skipped += 1
        if first_bad is None:
            first_bad = number
    return KeyLog(secrets, source=source, rsa=rsa, skipped=skipped, first_bad_line=first_bad)


def _checked(log: KeyLog, *, path: str) -> KeyLog:
    if not len(log) and not log._rsa:
        where = f" (first unusable line: {log.first_bad_line})" if log.first_bad_line else ""
        raise KeylogError(f"no usable key log line{where}", path=path, fix=_FIX)
    if log.skipped:
        warnings.warn(
            f"{path}: skipped {log.skipped} malformed key log line(s), first at line "
            f"{log.first_bad_line}; the other {len(log)} session(s) are used",
            CaptureWarning,
            stacklevel=3,
        )
    return log


def read_keylog(path: str | Path) -> KeyLog:
    """Read an NSS key log file (the format SSLKEYLOGFILE makes browsers, curl, OpenSSL write).

    Malformed lines are skipped and counted, with one :class:`~tlskit.errors.CaptureWarning`
    naming the file and the first bad line.

    Raises
    ------
    KeylogError
        The file is missing, unreadable, or has no usable line.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise KeylogError("key log file not found", path=p, fix=_FIX) from None
    except IsADirectoryError:
        raise KeylogError("key log path is a directory", path=p, fix=_FIX) from None
    except OSError as err:
        raise KeylogError(f"cannot read the key log ({err.strerror})", path=p, fix="Check the file's permissions.") from None
    # utf-8-sig: key logs edited on Windows may start with a byte-order mark.
    return _checked(_parse(data.decode("utf-8-sig", errors="replace"), str(p)), path=str(p))


def keylog_from_text(text: str | bytes, *, source: str = "key log text") -> KeyLog:
    """Parse key log lines held in memory (same format and checks as :func:`read_keylog`)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    return _checked(_parse(text, source), path=source)


def keylog_from_dsb(data: bytes | str, *, capture: str | Path, block: int = 0) -> KeyLog:
    """Secrets from a pcapng Decryption Secrets Block of type TLS Key Log (0x544c534b).

    ``data`` is the block's secrets payload (the key log text); ``capture`` names the file
    it came from, for messages. An empty or unusable block is a :class:`KeylogError`.
    """
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).rstrip(b"\x00").decode("utf-8", errors="replace")  # padded to 4 bytes
    return _checked(_parse(data, f"{capture} (decryption secrets block {block})"), path=f"{capture} (decryption secrets block {block})")


__all__ = ["LABELS", "KeyLog", "keylog_from_dsb", "keylog_from_text", "read_keylog"]
