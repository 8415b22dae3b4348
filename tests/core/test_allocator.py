"""keep_freed_memory: glibc malloc keeps freed blocks for reuse; opt-out by environment."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

PROBE = """
import ctypes, json
from recforge.core.allocator import keep_freed_memory
first = keep_freed_memory()
second = keep_freed_memory()
print(json.dumps([first, second]))
"""


def _probe(env_value: str | None) -> list[bool]:
    import json
    import os

    env = dict(os.environ)
    env.pop("RECFORGE_KEEP_FREED_MEMORY", None)
    if env_value is not None:
        env["RECFORGE_KEEP_FREED_MEMORY"] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the tuning applies to glibc only")
def test_applies_once_on_glibc_and_reports_it() -> None:
    assert _probe(None) == [True, True]


def test_environment_opt_out_leaves_malloc_alone() -> None:
    assert _probe("0") == [False, False]
