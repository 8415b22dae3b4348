"""recforge-gdcn: registers the interaction 'gdcn' through recforge's hooks.

The entry point ``[project.entry-points.recforge] gdcn = "gdcn"`` points recforge
at this module; it reads ``RECFORGE_API`` (the plugin API range this plugin supports) and
then calls the ``@hookimpl`` function below.
"""

from __future__ import annotations

from recforge.core.hookspecs import Register, hookimpl

from gdcn.component import GDCN

__version__ = "0.1.0"
#: the recforge plugin API versions this plugin works with (PEP 440 range)
RECFORGE_API = ">=1.0,<2"
__all__ = ["RECFORGE_API", "GDCN", "register_interactions"]


@hookimpl
def register_interactions(register: Register) -> None:
    """Register this plugin's interaction."""
    register(GDCN)
