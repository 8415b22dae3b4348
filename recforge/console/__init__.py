"""The recforge ops console: a Textual terminal UI over the same services as the CLI.

Launch it with ``recforge console``. The app lives in :mod:`recforge.console.app`; every
screen is one module in :mod:`recforge.console.screens` and every widget one module in
:mod:`recforge.console.widgets`. Data comes from :mod:`recforge.services`, a thin
adapter over the store, the registry and the experiment runner.
"""
