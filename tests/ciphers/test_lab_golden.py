"""Golden: the lab's cipher and protocol scenarios, judged from their capture and config files.

The lab (tlskit.lab) runs real OpenSSL peers and writes, per scenario, the capture, the
server's nginx.conf, the client's Apigee sslinfo.xml and answer.json (cause, fault, fix).
Each comparison must reach the answer's verdict and put the fix on the answer's side.
"""

from __future__ import annotations

import shutil

import pytest

import tlskit
from tlskit import ciphers, lab

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the lab needs the openssl CLI")

EXPECTED = {
    # scenario: (expected ciphers verdict, expected protocols verdict) for ClientHello vs nginx.conf
    "ok_tls12": ("ok", "ok"),
    "ok_tls13": ("ok", "ok"),
    "protocol_old_server": ("no_common_version", "no_common_version"),
    "protocol_old_server_tls13_client": ("no_common_version", "no_common_version"),
    "protocol_old_client": ("no_common_version", "no_common_version"),
    "cipher_mismatch_tls12": ("no_common_suite", "ok"),
    "cipher_mismatch_tls13": ("no_common_suite", "ok"),
    "cipher_mismatch_tls13_groups": ("ok", "ok"),  # suites and versions fine: the groups are not
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, lab.LabResult]:
    out = tmp_path_factory.mktemp("ciphers-lab")
    return {r.name: r for r in lab.build(out, list(EXPECTED))}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_clienthello_vs_nginx_conf(built: dict[str, lab.LabResult], name: str) -> None:
    result = built[name]
    assert result.capture is not None
    answer = result.answer
    row = tlskit.load(result.capture).connections.iloc[0]
    server = ciphers.read_server_config(result.artifacts["nginx"])
    c = ciphers.compare_ciphers(row, server)
    p = ciphers.compare_protocols(row, server)
    assert (c.verdict, p.verdict) == EXPECTED[name]
    if c.ok and p.ok:  # ok scenarios, and the group mismatch (see the test below)
        assert c.fix is None and p.fix is None
    else:
        fix = c if c.fix else p
        assert fix.fix_side == answer["fault"], fix.fix
    if name == "cipher_mismatch_tls12":  # the secure fix: an ECDHE AES-GCM suite the client offers
        assert c.fix_code == 0xC02F and "ssl_ciphers" in (c.fix or "")
    if name == "protocol_old_client":
        assert p.fix_code == 0x0303


@pytest.mark.parametrize("name", ["cipher_mismatch_tls12", "protocol_old_server_tls13_client", "ok_tls12"])
def test_sslinfo_vs_nginx_conf(built: dict[str, lab.LabResult], name: str) -> None:
    """The same question from the two configuration files alone (no capture)."""
    result = built[name]
    client = ciphers.read_server_config(result.artifacts["sslinfo"])
    server = ciphers.read_server_config(result.artifacts["nginx"])
    assert client.source == "apigee-target" and server.source == "nginx"
    c = ciphers.compare_ciphers(client, server)
    assert c.ok == (result.answer["cause"] == "ok")
    if not c.ok:
        assert c.fix_side == result.answer["fault"]


def test_group_mismatch_is_found_from_the_clienthello(built: dict[str, lab.LabResult]) -> None:
    result = built["cipher_mismatch_tls13_groups"]
    row = tlskit.load(result.capture).connections.iloc[0]
    g = ciphers.compare_groups(row, ciphers.read_server_config(result.artifacts["nginx"]))
    assert g.verdict == "no_common_group"
    assert (g.fix_side, g.fix_code) == (result.answer["fault"], 29)  # enable X25519 on the server
    ok = built["ok_tls13"]
    assert ciphers.compare_groups(tlskit.load(ok.capture).connections.iloc[0],
                                  ciphers.read_server_config(ok.artifacts["nginx"])).verdict == "ok"


def test_server_side_of_the_capture_agrees_with_nginx_conf(built: dict[str, lab.LabResult]) -> None:
    result = built["ok_tls12"]
    seen = ciphers.read_capture(tlskit.load(result.capture))
    conf = ciphers.read_server_config(result.artifacts["nginx"])
    assert seen.versions <= conf.versions
    assert set(seen.cipher_suites) <= set(conf.cipher_suites)
