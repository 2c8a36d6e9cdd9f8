"""Message catalogues: the words tlskit shows people, in English and Japanese.

Catalogues are JSON files next to this module (``en.json``, ``ja.json``), flat maps from a key
such as ``summary.cert.name`` to a template with ``{named}`` fields. ``text(key, lang, **params)``
fills a template; a field without a value renders as ``?`` rather than failing, so a missing
detail never hides a diagnosis. Japanese follows the terms of the Apigee troubleshooting guide
the project grew from (キーストア, トラストストア, 上り/下り, Router, Message Processor).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from tlskit.errors import TlskitError

LANGUAGES = ("en", "ja")


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The whole catalogue for ``lang`` ("en" or "ja")."""
    check_lang(lang)
    raw = resources.files(__name__).joinpath(f"{lang}.json").read_text(encoding="utf-8")
    data: dict[str, str] = json.loads(raw)
    return data


def check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise TlskitError(f"no messages in language {lang!r}", fix="use lang='en' or lang='ja'")
    return lang


def text(key: str, lang: str = "en", **params: Any) -> str:
    """The template ``key`` in ``lang`` filled with ``params``; English if ``lang`` lacks it."""
    template = catalogue(lang).get(key) or catalogue("en").get(key)
    if template is None:
        raise KeyError(f"no message {key!r} in the tlskit catalogues")
    return template.format_map(_Fields(params))


__all__ = ["LANGUAGES", "catalogue", "check_lang", "text"]
