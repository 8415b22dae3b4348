"""recforge's plugin conformance kit: a pytest plugin plus a test-class factory.

Use it from a plugin's tests either way:

* ``TestMine = conformance_tests(MyLayer, params={...})``: one pytest test per property;
* the ``recforge_conformance`` fixture (this module is a pytest plugin, loaded with
  ``-p recforge.testing`` or automatically through recforge's ``pytest11`` entry point):
  ``recforge_conformance(MyLayer, params={...})`` runs every property and fails once,
  listing each broken one.

The properties are listed in ``docs/plugins.md``; each failure starts with ``[property]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from recforge.testing.failure import ConformanceFailure
from recforge.testing.probes import Subject
from recforge.testing.suite import CHECKS, applicable, check_component, conformance_tests

__all__ = ["CHECKS", "ConformanceFailure", "Subject", "applicable", "check_component", "conformance_tests",
           "recforge_conformance"]


@pytest.fixture
def recforge_conformance() -> Callable[..., list[str]]:
    """``recforge_conformance(cls, params=None, bad_params=None, experiment=None, skip=None)``:
    run every conformance property of a component; returns the properties that passed."""
    return check_component


def pytest_report_header(config: Any) -> str:
    from recforge.core.plugin_api import API_VERSION

    return f"recforge plugin API {API_VERSION}; conformance properties: {', '.join(CHECKS)}"
