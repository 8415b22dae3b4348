"""One validation machinery for configs and component params: pydantic v2, one error style.

Every user-written setting -- the experiment config's sections (:mod:`recforge.core.config_schema`)
and every component's ``Params`` dataclass (:func:`params_model`) -- is validated by a pydantic
model with ``extra="forbid"``, so coercion is the same everywhere (``"3"`` is an int, ``"maybe"``
is not a bool in any section) and every failure becomes the same one-line
:class:`~recforge.core.errors.ConfigError` naming the key and the fix. A pydantic
``ValidationError`` never reaches the user.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import re
import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from recforge.core.errors import ConfigError, unknown_name

#: the one pydantic configuration of every settings model
STRICT_KEYS = ConfigDict(extra="forbid", coerce_numbers_to_str=True, validate_default=False,
                         arbitrary_types_allowed=True)


def _not_bool(value: Any) -> Any:
    """``true`` is not a number: pydantic's lax mode would read it as 1."""
    if isinstance(value, bool):
        raise ValueError("a true/false value is not a number")
    return value


#: int / float that refuse booleans (used by every settings model and every component Params)
Int = typing.Annotated[int, BeforeValidator(_not_bool)]
Float = typing.Annotated[float, BeforeValidator(_not_bool)]


def _numbers_not_bool(tp: Any) -> Any:
    """``tp`` with every ``int``/``float`` inside replaced by :data:`Int`/:data:`Float`."""
    if tp is int:
        return Int
    if tp is float:
        return Float
    origin, args = get_origin(tp), get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(_numbers_not_bool(a) for a in args)]  # noqa: UP007
    if origin in (list, tuple) and args and origin is list:
        return list[_numbers_not_bool(args[0])]  # type: ignore[misc]
    return tp


class Settings(BaseModel):
    """Base of every config section: unknown keys are errors, numbers coerce to strings."""

    model_config = STRICT_KEYS

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of the keys the user set (what the store and saved models keep)."""
        return self.model_dump(mode="python", exclude_unset=True, by_alias=True)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _walk(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """``(node, field)``: the annotation ``loc`` leads to inside ``model`` and the last field
    passed on the way (None where ``loc`` leaves the declared models)."""
    node: Any = model
    field = None
    for part in loc:
        if not (isinstance(node, type) and issubclass(node, BaseModel)):
            return None, field
        field = node.model_fields.get(str(part))
        if field is None:
            return None, None
        node = _model_in(field.annotation)
    return node, field


def _known_keys(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str] | None:
    """Field names of the model that ``loc`` points into, if one."""
    node, _ = _walk(model, loc)
    return list(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else None


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside ``annotation`` (``X | None``, ``dict[str, X]``), else the annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return annotation


def _field_fix(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> str | None:
    """The description (the accepted values) of the field at ``loc``."""
    _, field = _walk(model, loc)
    return field.description if field is not None else None


#: pydantic error types -> what the value is not (``"'three' is not an int"``)
_NOT_A = {"int_parsing": "an int", "int_type": "an int", "int_from_float": "an int", "float_parsing": "a float",
          "float_type": "a float", "bool_parsing": "a bool", "bool_type": "a bool", "list_type": "a list",
          "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
          "dataclass_type": "a mapping", "string_type": "a string"}


def _bound(first: Any) -> str | None:
    """Range errors in words: ``must be positive``, ``must be at most 16384``, ..."""
    kind, ctx = first["type"], first.get("ctx") or {}
    if kind == "greater_than":
        return "must be positive" if ctx.get("gt") == 0 else f"must be greater than {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return "must not be negative" if ctx.get("ge") == 0 else f"must be at least {ctx.get('ge')}"
    if kind == "less_than":
        return f"must be less than {ctx.get('lt')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind == "finite_number":
        return "must be a finite number"
    return None


def _problem(first: Any) -> str:
    """``"<what is wrong>, got <input>"`` (or ``"<input> is not an int"``) from one pydantic error."""
    value = first.get("input")
    if first["type"] in _NOT_A:
        return f"{_short(value)} is not {_NOT_A[first['type']]}"
    if first["type"] == "literal_error":
        choices = re.findall(r"'([^']*)'", str((first.get("ctx") or {}).get("expected", "")))
        return f"{_short(value)} is not one of {', '.join(choices)}"
    if "true/false value is not a number" in first["msg"]:
        return f"{_short(value)} is not a number"
    bound = _bound(first)
    if bound is not None and isinstance(value, float) and not math.isfinite(value):
        bound = "must be a finite number"
    if bound is not None:
        return f"{bound}, got {_short(value)}"
    message = first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message[0].lower() + message[1:] if message else message
    return message if isinstance(value, (dict, list)) and len(repr(value)) > 60 else f"{message}, got {_short(value)}"


#: pydantic's tags for the builtin branches of a union (``bool | Literal["auto"]`` fails at
#: ``(..., "enabled", "bool")``); no config section has keys with these names
_BUILTIN_BRANCHES = frozenset({"bool", "int", "float", "str", "bytes", "none", "list", "dict"})


def _loc(first: Any) -> tuple[Any, ...]:
    """The error's location without pydantic's union-branch and validator tags."""
    return tuple(p for p in first["loc"] if not (isinstance(p, str) and (p[:1].isupper() or "[" in p
                                                                            or p.startswith("function-")
                                                                            or p in _BUILTIN_BRANCHES)))


def config_error(err: ValidationError, prefix: str, model: type[BaseModel] | None = None,
                 fix: str | None = None) -> ConfigError:
    """The first problem of a pydantic error as the one-line ``ConfigError`` users see."""
    first = err.errors(include_url=False)[0]
    loc = _loc(first)
    if first["type"] == "extra_forbidden" and first["loc"]:  # the last part is the user's key, whatever it looks like
        loc = (*_loc({"loc": tuple(first["loc"])[:-1]}), first["loc"][-1])
    key = ".".join([prefix, *(str(p) for p in loc if not isinstance(p, int))] if prefix else
                   (str(p) for p in loc if not isinstance(p, int)))
    key += "".join(f"[{p}]" for p in loc if isinstance(p, int))
    if first["type"] == "extra_forbidden":
        known = _known_keys(model, loc[:-1]) or []
        where = key.rsplit(".", 1)[0] if "." in key else "config"
        return unknown_name(f"key in config section '{where}'" if "." in key else "config section", str(loc[-1]),
                            known, fix=fix or "fix the key name (see `recforge config schema`)")
    if first["type"] == "literal_error" and isinstance(first.get("input"), str):
        choices = re.findall(r"'([^']*)'", str((first.get("ctx") or {}).get("expected", "")))
        return unknown_name(f"value of {key}", first["input"], choices, fix=fix or f"use one of {', '.join(choices)}")
    if first["type"] in ("model_type", "model_attributes_type") and len(loc) == 1 and not prefix:
        return ConfigError(f"config section '{key}' must be a mapping", fix=f"write `{key}:` followed by indented keys")
    if first["type"] == "missing":
        return ConfigError(f"{key} is required", fix=fix or f"add {key} to the config")
    hint = _field_fix(model, tuple(p for p in loc if not isinstance(p, int)))
    if first["type"] == "value_error" and hint and hint.startswith("{"):  # a whole section's rule
        return ConfigError(f"{key}: {_problem(first)}", fix=fix or f"fix the {key} section")
    return ConfigError(f"{key}: {_problem(first)}",
                       fix=fix or (f"set {key} to {hint}" if hint else "fix the value (see `recforge config schema`)"))


def validate(model: type[BaseModel], raw: Any, prefix: str, fix: str | None = None) -> Any:
    """``model.model_validate(raw)`` with errors as one-line ConfigErrors."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise config_error(err, prefix, model, fix) from None


# --------------------------------------------------------------------------- component Params
def _resolved_hints(params_cls: type) -> dict[str, Any]:
    module = inspect.getmodule(params_cls)
    try:
        return typing.get_type_hints(params_cls, vars(module) if module else None)
    except Exception:  # noqa: BLE001 - unresolvable forward refs: fall back to raw annotations
        return {f.name: f.type for f in dataclasses.fields(params_cls)}


def _is_list(tp: Any) -> bool:
    if get_origin(tp) in (list, tuple):
        return True
    if get_origin(tp) in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in get_args(tp))
    return False


@functools.lru_cache(maxsize=None)
def params_model(params_cls: type) -> type[BaseModel]:
    """The pydantic model of a component's ``Params`` dataclass (built once per class).

    Component authors keep declaring plain dataclasses with :func:`recforge.core.components.param`;
    this mirrors their fields (types, defaults, help) so validation and the JSON schema of
    ``recforge config schema`` come from the same machinery as the experiment config.
    """
    hints = _resolved_hints(params_cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(params_cls):
        tp = hints.get(f.name, f.type)
        tp = Any if isinstance(tp, str) else _numbers_not_bool(tp)
        help_text = f.metadata.get("help")
        if f.default is not dataclasses.MISSING:
            fields[f.name] = (tp, Field(f.default, description=help_text))
        elif f.default_factory is not dataclasses.MISSING:
            fields[f.name] = (tp, Field(default_factory=f.default_factory, description=help_text))
        else:
            fields[f.name] = (tp, Field(..., description=help_text))
    return create_model(f"{params_cls.__qualname__.replace('.', '_')}", __config__=STRICT_KEYS, **fields)


def validate_params(params_cls: type, raw: dict[str, Any], where: str, fix: str) -> Any:
    """An instance of the dataclass ``params_cls`` from ``raw``, validated by :func:`params_model`.

    Comma-separated strings are accepted for list parameters (``--set ...hidden_units=64,32``).
    """
    hints = _resolved_hints(params_cls)
    values = {}
    for key, value in raw.items():
        if isinstance(value, str) and _is_list(hints.get(key, Any)):
            value = [v.strip() for v in value.split(",") if v.strip()]
        values[key] = value
    model = params_model(params_cls)
    try:
        checked = model.model_validate(values)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        if first["type"] == "extra_forbidden":
            raise unknown_name(f"parameter of {where}", str(first["loc"][0]), model.model_fields, fix=fix) from None
        loc = _loc(first)
        name = ".".join(map(str, loc[:1])) + "".join(f"[{p}]" for p in loc[1:])
        raise ConfigError(f"{where} param '{name}': {_problem(first)}", fix=fix) from None
    return params_cls(**{name: getattr(checked, name) for name in checked.model_fields_set})
