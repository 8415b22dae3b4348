"""The news case study's recipes, ``bing-news-titles`` and ``mind-titles``.

They live in the plugin package ``examples/plugins/recforge-news-titles`` (what a user installs
so that ``recforge train`` takes ``examples/news/configs/*.yaml``); without the install, this
module imports the package from its folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugins" / "recforge-news-titles"

try:
    import recforge_news_titles
except ImportError:
    sys.path.insert(0, str(PLUGIN_DIR))
    import recforge_news_titles

BingNewsTitles = recforge_news_titles.BingNewsTitles
MindTitles = recforge_news_titles.MindTitles
ensure_registered = recforge_news_titles.ensure_registered
with_history_titles = recforge_news_titles.with_history_titles
