"""What safetensors leaves to us: an allocation guard on load, and OS errors on write.

Allocation guard: refuse sizes a saved model's own weights cannot back.

A saved model's files are checksummed, but someone who edits ``featuremap.json`` (say
``vocab_size: 10000000000``) can rewrite the manifest to match. Building that model would
try to allocate the tables before the weights are ever compared, a 100+ GB allocation that
ends in an out-of-memory kill rather than a message. So the model is first built on PyTorch's
``meta`` device (shapes only, no memory) and its state is compared with the element count
the ``model.safetensors`` header declares. A real model's state is exactly what was saved;
only a tampered one asks for more.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from recforge.core.errors import ArtifactError

#: elements a rebuilt model may hold beyond its saved weights (data-sized buffers rebuilt on load)
SLACK_ELEMENTS = 1 << 22


def stored_elements(path: Path) -> int:
    """Elements in a safetensors file as its header declares them (tied aliases counted again)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {k: handle.get_slice(k).get_shape() for k in handle.keys()}  # noqa: SIM118
            aliases = json.loads((handle.metadata() or {}).get("aliases", "{}"))
    except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
        raise ArtifactError(f"{path} is not a valid safetensors file ({type(err).__name__})",
                            fix="save the model again") from None
    total = sum(math.prod(shape) for shape in shapes.values())
    if isinstance(aliases, dict):
        total += sum(math.prod(shapes.get(target, [0])) for target in aliases.values())
    return total


def check_allocation(build: Callable[[], torch.nn.Module], weights: Path) -> None:
    """Build with ``build`` on the meta device; refuse a model far larger than ``weights``.

    A build that cannot run on the meta device (a component that reads real tensors while
    constructing) is not guarded here; the real build then reports its own errors.
    """
    try:
        with torch.device("meta"):
            model: Any = build()
        wanted = sum(t.numel() for t in model.state_dict().values() if t is not None)
    except Exception:  # noqa: BLE001 - see the docstring: fall back to the real build
        return
    stored = stored_elements(weights)
    if wanted > 2 * stored + SLACK_ELEMENTS:
        raise ArtifactError(
            f"the saved model in {weights.parent} describes {wanted:,} weights but {weights.name} holds "
            f"{stored:,} (featuremap.json or config.yaml edited after saving)",
            fix="save the model again from its run; never edit files of a saved model")


def os_error_of(err: BaseException, path: Path) -> OSError:
    """The :class:`OSError` inside a safetensors write error (``Os { code: 28, ... }``).

    safetensors reports a full disk as ``SafetensorError: Error while serializing: I/O error: No
    space left on device (os error 28)`` (older releases: ``IoError(Os { code: 28, ... })``);
    every writer maps ``OSError`` to its documented message, so the code is recovered here
    (``EIO`` when the text carries none).
    """
    found = re.search(r"(?:code: |os error )(\d+)", str(err))
    code = int(found.group(1)) if found else errno.EIO
    return OSError(code, os.strerror(code), str(path))
