"""The schema module: conform() gives declared dtypes; docs/SCHEMA.md is generated from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tlskit import schema

ROOT = Path(__file__).resolve().parents[2]


def test_conform_orders_columns_and_sets_dtypes() -> None:
    frame = schema.conform([{"conn_id": 3, "client_port": 443, "sni": None, "offered_ciphers": (1, 2),
                             "start_time": "2026-01-01T00:00:00Z", "alert_from": "server"}], schema.CONNECTIONS)
    assert list(frame.columns) == schema.CONNECTIONS.names
    assert str(frame["client_port"].dtype) == "UInt16"
    assert frame["start_time"].dt.tz is not None
    assert frame.loc[0, "offered_ciphers"] == [1, 2]
    assert frame.loc[0, "alpn_offered"] == []  # missing list column -> empty list, not NaN
    assert pd.isna(frame.loc[0, "sni"]) and frame.loc[0, "alert_from"] == "server"


def test_conform_rejects_unknown_columns() -> None:
    with pytest.raises(ValueError, match="not in the schema"):
        schema.conform([{"conn_id": 1, "cipher": 5}], schema.CONNECTIONS)


def test_empty_tables_have_dtypes() -> None:
    for table in schema.TABLES.values():
        frame = schema.empty(table)
        assert list(frame.columns) == table.names and frame.empty


def test_does_not_change_the_callers_frame() -> None:
    mine = pd.DataFrame({"conn_id": [1], "sni": ["a"]})
    schema.conform(mine, schema.CONNECTIONS)
    assert list(mine.columns) == ["conn_id", "sni"]


def test_schema_doc_is_current() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_schema_doc.py"), "--check"])
    assert out.returncode == 0, "docs/SCHEMA.md is stale: run scripts/render_schema_doc.py"
