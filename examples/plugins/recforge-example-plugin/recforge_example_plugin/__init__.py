"""recforge example plugin: registers its components through recforge's hooks.

The entry point ``[project.entry-points.recforge] example = "recforge_example_plugin"`` points
recforge at this module; the ``@hookimpl`` functions below are all it looks for.
"""

from __future__ import annotations

from recforge.core.hookspecs import Register, hookimpl

from recforge_example_plugin.bucket_id import BucketIdEncoder
from recforge_example_plugin.hadamard_sum import HadamardSum

__version__ = "0.1.0"
__all__ = ["BucketIdEncoder", "HadamardSum", "register_encoders", "register_interactions"]


@hookimpl
def register_interactions(register: Register) -> None:
    """Register the example interaction."""
    register(HadamardSum)


@hookimpl
def register_encoders(register: Register) -> None:
    """Register the example encoder."""
    register(BucketIdEncoder)
