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


SAMPLE = {  # a value and a missing one for each kind of column
    "UInt16": [443, None], "UInt32": [4_000_000_000, None], "boolean": [True, None], "string": ["a.example", None],
    schema.UTC_TIME: [1_700_000_000.123456, None], "object": [[1, 2], None],
}


@pytest.mark.parametrize("dtype", list(SAMPLE))
def test_typed_gives_what_conform_gives(dtype: str) -> None:
    values = SAMPLE[dtype]
    fast = pd.Series(schema.typed(values, dtype))
    column = schema.Column("x", dtype, "")
    slow = schema._coerce(pd.Series([pd.Timestamp(v, unit="s", tz="UTC").round("us") if dtype == schema.UTC_TIME and v
                                     else v for v in values], dtype=object), column)
    if dtype == "object":
        assert fast.tolist() == [[1, 2], []] == slow.tolist()
        assert fast[0] is values[0]  # lists are kept, not copied (cells are read-only)
    else:
        pd.testing.assert_series_equal(fast, slow, check_names=False)


def test_typed_takes_categories_and_falls_back_on_odd_values() -> None:
    sides = schema.CONNECTIONS.dtypes["alert_from"]
    assert pd.Series(schema.typed(["server", None], sides)).tolist()[0] == "server"
    odd = pd.Series(schema.typed(["443", None], "UInt16"))  # a string where an int belongs: the general way
    assert odd.tolist()[0] == 443 and str(odd.dtype) == "UInt16"


def test_utc_array_rounds_to_the_microsecond_and_drops_damage() -> None:
    out = pd.Series(schema.utc_array(pd.Series([1_700_000_000.0000004, 1e12, float("nan")]).to_numpy()))
    assert out[0] == pd.Timestamp("2023-11-14 22:13:20", tz="UTC") and out[1:].isna().all()


def test_check_accepts_typed_frames_and_names_what_is_wrong() -> None:
    good = schema.conform([{"conn_id": 1, "seq": 0, "frame": 3, "direction": "c2s", "content_type": 22,
                            "encrypted": False, "decrypted": False, "length": 5}], schema.MESSAGES)
    assert schema.check(good, schema.MESSAGES) is good
    with pytest.raises(ValueError, match=r"wrong dtypes: frame \(int64"):
        schema.check(good.astype({"frame": "int64"}), schema.MESSAGES)
    with pytest.raises(ValueError, match="not the schema"):
        schema.check(good[schema.MESSAGES.names[::-1]], schema.MESSAGES)
    parquet_like = good.astype({"content_type_name": pd.StringDtype(na_value=float("nan"))})
    with pytest.raises(ValueError, match="content_type_name"):  # NaN-valued "str" is not the declared "string"
        schema.check(parquet_like, schema.MESSAGES)
    assert schema.check(good.iloc[:0], schema.MESSAGES).dtypes.equals(schema.empty(schema.MESSAGES).dtypes)
