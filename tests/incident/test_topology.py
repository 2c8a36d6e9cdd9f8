"""Which hop: inbound / outbound labels from given roles, and inference without them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tlskit import schema
from tlskit.errors import ConfigError
from tlskit.topology import label_hops, read_roles

ROUTER, MP, BACKEND = "10.30.0.10", "10.40.0.5", "10.50.0.7"


def _conns() -> pd.DataFrame:
    return schema.conform([
        {"conn_id": 0, "client_ip": "203.0.113.9", "server_ip": ROUTER, "server_port": 443},
        {"conn_id": 1, "client_ip": MP, "server_ip": BACKEND, "server_port": 8443},
        {"conn_id": 2, "client_ip": "192.0.2.1", "server_ip": "192.0.2.2", "server_port": 9000},
    ], schema.CONNECTIONS)


def test_given_roles_label_each_hop_and_party() -> None:
    roles = {"router": [ROUTER], "message_processor": ["10.40.0.0/24"], "backend": [BACKEND]}
    fault = pd.Series(["client", "server", "server"])
    hops = label_hops(_conns(), roles, fault=fault)
    assert list(hops["hop"]) == ["inbound", "outbound", "other"]
    assert hops.loc[0, "fix_on"] == "the client application"
    assert hops.loc[1, "fix_on"] == "the backend server"
    assert hops.loc[1, "client_role"] == "message_processor"  # matched through the /24
    assert not hops["hop_inferred"].any()


def test_topology_file_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "topology.toml"
    toml.write_text(f'router = ["{ROUTER}"]\nbackend = ["{BACKEND}/32"]\n')
    js = tmp_path / "topology.json"
    js.write_text(json.dumps({"roles": {"router": [ROUTER], "backend": [BACKEND]}}))
    for path in (toml, js):
        assert list(label_hops(_conns(), path)["hop"]) == ["inbound", "outbound", "other"]


def test_inference_finds_the_proxy_in_the_middle() -> None:
    # The router both accepts (from the app) and opens (to the backend) TLS connections.
    conns = schema.conform([
        {"conn_id": 0, "client_ip": "203.0.113.9", "server_ip": ROUTER},
        {"conn_id": 1, "client_ip": ROUTER, "server_ip": BACKEND},
    ], schema.CONNECTIONS)
    hops = label_hops(conns, fault=pd.Series(["server", "server"]))
    assert list(hops["hop"]) == ["inbound", "outbound"]
    assert hops["hop_inferred"].all()
    assert hops.loc[1, "fix_on"] == "the backend server"
    assert "inferred" in hops.attrs["notes"][0]


def test_inference_admits_when_it_cannot_tell() -> None:
    hops = label_hops(_conns())
    assert set(hops["hop"]) == {"other"}
    assert any("cannot be told apart" in n for n in hops.attrs["notes"])


@pytest.mark.parametrize("spec,match", [({"router": ["not-an-ip"]}, "not an IP"), ({"gateway": ["1.2.3.4"]}, "unknown roles")])
def test_bad_roles(spec: dict[str, list[str]], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        read_roles(spec)


def test_missing_topology_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such topology file"):
        read_roles(tmp_path / "nope.toml")


def test_diagnose_labels_hops_from_a_topology_file(tmp_path: Path) -> None:
    # The bundled sample: every server sits in 10.30.0.0/24, here named the router.
    import subprocess
    import sys

    from tests.conftest import DATA

    topo = tmp_path / "topology.toml"
    topo.write_text('router = ["10.30.0.0/24"]\n')
    out = subprocess.run([sys.executable, "-m", "tlskit", "diagnose", str(DATA / "sample" / "capture.pcap"),
                          "--roles", str(topo), "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r["hop"] for r in rows} == {"inbound"}
    assert not any(r["hop_inferred"] for r in rows)
    by_cause = {r["cause"]: r["fix_on"] for r in rows}
    assert by_cause["sni_missing"] == "the client application"
    assert by_cause["expired_certificate"].startswith("the router")
