"""The text example configs are honest: each equals its no-text twin plus the text field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from recforge.core.config import validate_config

CONFIGS = Path(__file__).resolve().parents[3] / "examples" / "configs"
PAIRS = [("ml100k-coldstart-deepfm.yaml", "ml100k-coldstart-deepfm-text.yaml"),
         ("ml100k-ctr-deepfm.yaml", "ml100k-ctr-deepfm-text.yaml")]


def without_text(config: dict) -> dict:
    """``config`` with its text fields (data, model fields, encoders) and name removed."""
    out = copy.deepcopy(config)
    text = {f["name"] for f in out["data"].get("fields", []) if f["kind"] == "text"}
    out["data"]["fields"] = [f for f in out["data"].get("fields", []) if f["name"] not in text]
    if not out["data"]["fields"]:
        out["data"].pop("fields")
    out["model"]["fields"] = [f for f in out["model"]["fields"] if f not in text]
    encoders = {k: v for k, v in (out["model"].get("encoders") or {}).items() if k not in text}
    for name, spec in encoders.items():  # an id-text encoder is the plain id table plus the text stand-in
        if spec["name"] == "id-text":
            encoders[name] = {"name": "categorical", "params": {"id_dropout": spec["params"]["id_dropout"]}}
    out["model"]["encoders"] = encoders or None
    out.pop("name")
    return out


@pytest.mark.parametrize(("plain", "text"), PAIRS)
def test_text_config_is_the_plain_config_plus_text(plain: str, text: str) -> None:
    a = yaml.safe_load((CONFIGS / plain).read_text())
    b = yaml.safe_load((CONFIGS / text).read_text())
    validate_config(a)
    validate_config(b)
    assert [f for f in b["data"]["fields"] if f["kind"] == "text"], "the text config has a text field"
    assert without_text(b) == without_text(a)


def test_coldstart_configs_drop_item_ids_and_regularise_the_text() -> None:
    b = yaml.safe_load((CONFIGS / "ml100k-coldstart-deepfm-text.yaml").read_text())
    encoders = b["model"]["encoders"]
    assert encoders["item_id"]["params"]["id_dropout"] > 0  # DropoutNet: trains the unknown item
    assert encoders["item_id"]["name"] == "id-text" and encoders["item_id"]["params"]["text_field"] == "item_text"
    assert b["data"]["split"]["valid"] == "cold"  # cold-start choices are made on cold-valid
    assert encoders["item_text"]["name"] == "text-lm"
