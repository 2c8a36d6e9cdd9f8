"""The JSSE model against a real JVM: defaults and jdk.tls.disabledAlgorithms filtering."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import requires_java
from tlskit import registry
from tlskit.ciphers.jsse import apply_disabled, default_profile, read_jsse

_PROBE = """
import javax.net.ssl.*;
public class Probe { public static void main(String[] a) throws Exception {
  SSLContext c = SSLContext.getInstance("TLS"); c.init(null, null, null);
  SSLParameters d = c.getDefaultSSLParameters();
  System.out.println(String.join(",", d.getCipherSuites()));
  System.out.println(String.join(",", d.getProtocols()));
  System.out.println(System.getProperty("java.specification.version"));
}}
"""

# values chosen to exercise each matching rule (protocol, kx component, cipher, mode, MAC)
VALUES = [
    "SSLv3, TLSv1, TLSv1.1, RC4, DES, 3DES_EDE_CBC, anon, NULL, ECDH",
    "TLSv1.3, ECDH, SHA1",
    "AES_128_GCM, DHE, TLSv1.1",
    "RSA",
    "AES_256, CBC",
]


@pytest.fixture(scope="module")
def jvm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("jsse")
    (d / "Probe.java").write_text(_PROBE)
    return d


def _run(jvm: Path, disabled: str) -> tuple[list[str], list[str], str]:
    props = jvm / "p.properties"
    props.write_text(f"jdk.tls.disabledAlgorithms={disabled}\njdk.tls.legacyAlgorithms=\n")
    java = shutil.which("java") or "java"
    out = subprocess.run([java, f"-Djava.security.properties={props}", str(jvm / "Probe.java")],
                         capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    return out[0].split(","), out[1].split(","), out[2]


@requires_java
@pytest.mark.java
@pytest.mark.parametrize("disabled", VALUES)
def test_disabled_algorithms_model_matches_the_jvm(jvm: Path, disabled: str) -> None:
    suites, protocols, spec = _run(jvm, disabled)
    if spec != "17":
        pytest.skip(f"the profile data is for Java 17, this JVM is {spec}")
    p, s = default_profile(17)
    kept_p, kept_s, _ = apply_disabled(p, s, disabled)
    assert sorted(kept_p) == sorted(protocols)
    assert kept_s == suites  # same suites, same order


@requires_java
@pytest.mark.java
def test_java17_profile_equals_the_jvm_default(jvm: Path) -> None:
    from tlskit.ciphers.jsse import DISABLED_DEFAULT

    suites, protocols, spec = _run(jvm, DISABLED_DEFAULT[17])
    if spec != "17":
        pytest.skip(f"this JVM is {spec}")
    cfg = read_jsse(17)
    expected = [registry.cipher_suite_code(n) for n in suites if not n.endswith("_SCSV")]
    assert cfg.all_suites == expected
    assert cfg.versions == frozenset(registry.version_code(v) for v in protocols)
