"""Base class of the console's screens: header, footer and access to the shared store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.screen import Screen

from recforge.core.errors import RecforgeError
from recforge.core.store import Store

if TYPE_CHECKING:
    from recforge.console.app import RecforgeConsole


class ConsoleScreen(Screen[None]):
    """A top-level or pushed screen; ``store`` is the app's single store handle."""

    @property
    def console(self) -> RecforgeConsole:
        from recforge.console.app import RecforgeConsole

        return cast(RecforgeConsole, self.app)

    @property
    def store(self) -> Store:
        return self.console.store

    def notify(self, message: str, *, markup: bool = False, **kwargs: Any) -> None:  # type: ignore[override]
        """Notifications carry user text (names, paths, errors): plain text unless asked."""
        super().notify(message, markup=markup, **kwargs)

    def report(self, err: RecforgeError) -> None:
        """Show a user-facing error the way the CLI prints it, as a notification."""
        self.notify(f"error: {err}", severity="error", timeout=8)
