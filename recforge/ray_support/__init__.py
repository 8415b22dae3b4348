"""Ray for cluster users (optional extra ``recforge[ray]``).

Two jobs run on an existing Ray cluster instead of torchrun:

* :mod:`recforge.ray_support.train` -- ``recforge train CONFIG --ray-address ADDR --workers N``:
  Ray Train's ``TorchTrainer`` starts N workers and sets up their torch process group; each
  worker runs recforge's own trainer (:func:`recforge.core.experiment.run_experiment`), which
  finds the group already initialised and uses it, so batching, gathered evaluation and the
  rank-0-only store writes are exactly those of a torchrun launch.
* :mod:`recforge.ray_support.text_encoding` -- ``recforge text encode CONFIG --ray-address ADDR``:
  the distinct texts a config's text encoders need go through a Ray Data ``map_batches`` job
  (one language model per actor) and fill the same text cache
  (:mod:`recforge.core.textcache`) that training reads.

Ray is imported only here, lazily, with a one-line error naming the extra when it is missing.
"""

from __future__ import annotations

import os
from types import ModuleType

from recforge.core.errors import ConfigError

INSTALL_HINT = "pip install 'recforge[ray]'"
#: environment variables a Ray worker needs to see the driver's store, data and model folders
FORWARDED_ENV_PREFIXES = ("RECFORGE_", "HF_", "TRANSFORMERS_")
LOCAL_ADDRESSES = ("local", "")


def require_ray() -> ModuleType:
    """The ``ray`` module, or a one-line error naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray-address needs Ray, which is not installed", fix=f"run `{INSTALL_HINT}`") from None
    return ray


def connect(address: str, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at ``address`` (``auto``, ``ray://HOST:10001``, ``HOST:6379``), or
    start a private local instance for ``local``; an instance this process already joined is
    reused whatever the address.

    Raises:
        ConfigError: the cluster cannot be reached.
    """
    ray = require_ray()
    if ray.is_initialized():
        return
    try:
        if address in LOCAL_ADDRESSES:
            ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level="warning", log_to_driver=False)
        else:
            ray.init(address=address, logging_level="warning", log_to_driver=False)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"cannot reach the Ray cluster at {address!r} ({first})",
                          fix="start one with `ray start --head`, pass its address, or use --ray-address local") from None


def forwarded_env() -> dict[str, str]:
    """The driver's recforge/Hugging Face settings, for workers on other machines."""
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
