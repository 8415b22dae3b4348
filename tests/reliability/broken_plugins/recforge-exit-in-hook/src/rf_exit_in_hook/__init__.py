"""A broken plugin: calls sys.exit inside a hook (reliability test fixture)."""
import sys

from recforge.core.hookspecs import hookimpl


@hookimpl
def register_interactions(register):
    sys.exit(4)
