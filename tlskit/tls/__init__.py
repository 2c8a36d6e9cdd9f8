"""TLS wire formats without I/O: handshake messages, fingerprints, key logs, TLS 1.3 decryption.

Everything here takes bytes (or a key log path) and returns typed records; engines in
:mod:`tlskit.capture` feed it reassembled handshake messages and encrypted records.

- :mod:`tlskit.tls.handshake`: ClientHello, ServerHello, Certificate, CompressedCertificate,
  CertificateRequest and SSLv2 ClientHello parsers.
- :mod:`tlskit.tls.fingerprint`: JA3, JA3S and JA4.
- :mod:`tlskit.tls.keylog`: NSS key log files and pcapng Decryption Secrets Blocks.
- :mod:`tlskit.tls.decrypt`: TLS 1.3 record decryption with traffic secrets.
"""

from __future__ import annotations
