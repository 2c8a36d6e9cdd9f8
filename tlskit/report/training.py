"""Training sets: one exercise per failure cause, from lab captures with answer keys."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tlskit.errors import TlskitError


def exercises(lab_dir: str | Path, *, causes: list[str] | None = None) -> pd.DataFrame:
    """Pick one lab scenario per cause (the first by name) from ``lab_dir/<name>/answer.json``.

    Parameters
    ----------
    lab_dir
        A folder :func:`tlskit.lab.build` wrote (or the bundled ``data/scenarios``).
    causes
        Causes to include (default: every failure cause found; ``ok`` is left out).

    Returns
    -------
    pandas.DataFrame
        One row per cause: ``cause``, ``scenario``, ``capture`` and ``keylog`` (paths; keylog
        None when the scenario has none), ``conn_id`` (the connection to study: the last
        one, the failing or resumed handshake), ``explanation`` (description and fix).
    """
    root = Path(lab_dir)
    answers = sorted(root.glob("*/answer.json"))
    if not answers:
        raise TlskitError("no lab scenarios (no */answer.json) here", path=root,
                          fix="build some with tlskit.lab.build(folder) or `tlskit lab FOLDER`")
    rows = {}
    for path in answers:
        answer = json.loads(path.read_text())
        cause = str(answer.get("cause"))
        capture = path.parent / "capture.pcap"
        if cause == "ok" or cause in rows or not capture.exists() or (causes and cause not in causes):
            continue
        keylog = path.parent / "keys.log"
        rows[cause] = {
            "cause": cause,
            "scenario": path.parent.name,
            "capture": capture,
            "keylog": keylog if keylog.exists() else None,
            "conn_id": int(answer.get("connections", 1)) - 1,
            "explanation": f"{answer.get('description', '')} Fix: {answer.get('fix', '')}".strip(),
        }
    return pd.DataFrame(list(rows.values()),
                        columns=["cause", "scenario", "capture", "keylog", "conn_id", "explanation"])


def answer_key(lab_dir: str | Path) -> pd.DataFrame:
    """Every scenario's answer key in ``lab_dir``: ``scenario``, ``cause``, ``fault``,
    ``tls_version``, ``description``, ``fix``."""
    rows = []
    for path in sorted(Path(lab_dir).glob("*/answer.json")):
        a = json.loads(path.read_text())
        rows.append({"scenario": path.parent.name, **{k: a.get(k) for k in
                     ("cause", "fault", "tls_version", "description", "fix")}})
    return pd.DataFrame(rows, columns=["scenario", "cause", "fault", "tls_version", "description", "fix"])
