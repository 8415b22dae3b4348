"""Read-only view of an experiment config as highlighted YAML."""

from __future__ import annotations

from typing import Any

from rich.syntax import Syntax
from textual.widgets import Static

from recforge.core.config import dump_config


class ConfigView(Static):
    """Shows a config mapping as YAML, the same text `recforge` writes and reads.

    Args:
        config: the experiment config (an empty mapping shows a note).
    """

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.config: dict[str, Any] = dict(config or {})

    def on_mount(self) -> None:
        self.show(self.config)

    def show(self, config: dict[str, Any]) -> None:
        """Replace the shown config."""
        self.config = dict(config)
        if not self.config:
            self.update("(no config recorded)")
            return
        self.update(Syntax(dump_config(self.config), "yaml", theme="ansi_dark", background_color="default"))
