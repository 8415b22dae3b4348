"""News recipes with the click history as text: ``bing-news-titles`` and ``mind-titles``.

They extend the built-in ``bing-news`` and ``mind`` recipes (same files, params and splits)
with one user-role text field, ``history_titles``: the titles of the user's clicked news,
most recent first, joined by `` | `` (the language model truncates the oldest).

Installed (``recforge plugins install -e examples/plugins/recforge-news-titles``), recforge
loads them through the ``recforge`` entry point, so ``recforge train`` takes the news case
study's YAML configs; the case-study harness registers this module in its own process instead
(:func:`ensure_registered`), so it needs no install.
"""

from __future__ import annotations

import sys

import pandas as pd

from recforge.core.data.recipe import RawData
from recforge.core.data.schema import FieldSpec
from recforge.core.hookspecs import Register, hookimpl
from recforge.plugins.datasets.bing_news import BingNews
from recforge.plugins.datasets.mind import Mind

PLUGIN = "examples-news"
SEP = " | "
MAX_TITLES = 20


def with_history_titles(raw: RawData, history: str = "history", limit: int = MAX_TITLES) -> RawData:
    """Add ``history_titles`` (clicked titles, most recent first) to every frame of ``raw``.

    ``history`` holds space-separated news ids (most recent last); titles come from
    ``raw.item_meta``; ids without a title are skipped.
    """
    titles = raw.item_meta["title"].astype("string").fillna("").to_dict() if raw.item_meta is not None else {}
    for name, frame in raw.frames.items():
        ids = frame[history].astype("string").fillna("").str.split()
        texts = [SEP.join(t for t in (titles.get(i, "") for i in reversed(h)) if t)[:2000] for h in ids]
        source = frame.attrs.get("source")
        frame["history_titles"] = pd.Series(texts, index=frame.index, dtype="string")
        # keep only the most recent `limit` titles
        frame["history_titles"] = frame["history_titles"].str.split(SEP, regex=False).str[:limit].str.join(SEP)
        if source is not None:
            frame.attrs["source"] = source
        raw.frames[name] = frame
    raw.fields = [*raw.fields, FieldSpec("history_titles", "text", role="user")]
    return raw


class BingNewsTitles(BingNews):
    """``bing-news`` plus ``history_titles``: the user's clicked titles as one text field.

    Args:
        valid_fraction / max_history / seed: as for ``bing-news``.

    Example:
        data: {recipe: bing-news-titles, params: {max_history: 30}}
    """

    name = "bing-news-titles"

    def load(self, params: BingNews.Params) -> RawData:
        return with_history_titles(super().load(params))


class MindTitles(Mind):
    """``mind`` plus ``history_titles``: the user's clicked titles as one text field.

    Args:
        folder / max_history / missing_meta: as for ``mind``.

    Example:
        data: {recipe: mind-titles, params: {folder: MINDsmall_train}, split: {method: temporal}}
    """

    name = "mind-titles"

    def load(self, params: Mind.Params) -> RawData:
        return with_history_titles(super().load(params))


@hookimpl
def register_datasets(register: Register) -> None:
    """Register the two recipes."""
    register(BingNewsTitles)
    register(MindTitles)


def ensure_registered() -> None:
    """Register this module as a plugin once per process (idempotent)."""
    from recforge.core.registry import get_registry

    registry = get_registry()
    if not registry.has(BingNewsTitles.name, "dataset"):
        registry.register_module(sys.modules[__name__], name=PLUGIN)
