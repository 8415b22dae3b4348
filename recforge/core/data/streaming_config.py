"""Reading the ``data.streaming`` section where the data layer decides between its two paths.

The data layer receives the ``data`` section as written (a mapping, fingerprinted as such);
this validates its ``streaming`` part with the typed :class:`StreamingConfig` so both paths
see the same checked settings and the same one-line errors.
"""

from __future__ import annotations

from typing import Any

from recforge.core.config_schema import StreamingConfig
from recforge.core.validation import validate

#: ``meta.json["layout"]`` of a prepared-data folder whose splits are Parquet shards
SHARDED_LAYOUT = "shards"


def streaming_section(data_cfg: dict[str, Any]) -> StreamingConfig | None:
    """The validated ``data.streaming`` section, or None when it is absent."""
    raw = data_cfg.get("streaming")
    if raw is None:
        return None
    if isinstance(raw, StreamingConfig):
        return raw
    return validate(StreamingConfig, raw, "data.streaming")  # type: ignore[no-any-return]
