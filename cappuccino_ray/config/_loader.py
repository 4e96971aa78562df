"""Load frozen, typed config dataclasses from YAML with validation at load.

Every config concern is a frozen dataclass. Fields may carry bounds in their
metadata (``field(metadata=bounds(ge=0))``). :func:`from_mapping` checks, in
this order: unknown keys (with a "did you mean" hint), types, bounds, then the
class's own ``validate()`` consistency rules. Every error names the file, the
dotted key and how to fix it.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from cappuccino_ray.errors import ConfigError

__all__ = [
    "bounds",
    "check_cpcv_groups",
    "check_field",
    "from_mapping",
    "load_config",
    "load_yaml",
    "override",
    "path_field",
    "suggest",
    "to_dict",
]

T = TypeVar("T")


def bounds(
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[Any, ...] | None = None,
    doc: str = "",
) -> dict[str, Any]:
    """Field metadata declaring the allowed range or choices of a value."""
    return {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices, "doc": doc}


def path_field() -> dict[str, Any]:
    """Field metadata of a path: :func:`load_config` resolves a relative one against the file's folder."""
    return {"path": True}


def check_cpcv_groups(n_groups: int, n_test_groups: int) -> None:
    """The CPCV rule shared by every config with a split: at least one group must stay for training.

    Raises:
        ConfigError: If ``n_test_groups >= n_groups``.
    """
    if n_test_groups >= n_groups:
        raise ConfigError(f"n_test_groups ({n_test_groups}) must be below n_groups ({n_groups})")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A ``SafeLoader`` that refuses a mapping holding the same key twice (YAML says last wins)."""


class _DuplicateKeyError(yaml.YAMLError):
    """A mapping key given twice."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.setdefault(key, key_node.start_mark.line + 1)
        except TypeError:
            continue  # an unhashable key: let the default constructor report it
        if first != key_node.start_mark.line + 1:
            raise _DuplicateKeyError(
                f"key {key!r} appears twice in one mapping (lines {first} and "
                f"{key_node.start_mark.line + 1}); keep one"
            )
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, raising :class:`ConfigError` with the path on failure.

    An empty file (or one holding only comments) and a key given twice in one
    mapping are errors: both silently change what a run does.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{p}: is a folder, not a config file; pass the YAML file")
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found; check the path or copy one from configs/")
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except _DuplicateKeyError as exc:
        raise ConfigError(f"{p}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{p}: not valid YAML ({reason}); fix the syntax") from exc
    if data is None:
        raise ConfigError(f"{p}: the file is empty; fill in its keys (copy them from the file in configs/)")
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of keys to values; write `key: value` lines")
    return data


def load_config(cls: type[T], path: str | Path, overrides: Mapping[str, Any] | None = None) -> T:
    """Load ``cls`` from a YAML file, applying ``overrides`` (e.g. CLI flags) on top.

    Args:
        cls: A frozen config dataclass.
        path: The YAML file.
        overrides: Dotted or plain keys whose non-``None`` values replace the file's.

    Returns:
        A validated instance of ``cls``.
    """
    data = load_yaml(path)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return resolve_paths(from_mapping(cls, data, source=str(path)), path)


def resolve_paths(cfg: T, config_file: str | Path) -> T:
    """``cfg`` with its relative :func:`path_field` values made relative to ``config_file``'s folder.

    See :mod:`cappuccino_ray.config.paths` for the rule (the packaged defaults stand in
    for ``./configs``; ``~`` is expanded; URIs are kept).
    """
    from cappuccino_ray.config.paths import resolve_config_path

    changes = {
        f.name: resolve_config_path(value, config_file)
        for f in dataclasses.fields(cfg)  # type: ignore[arg-type]
        if f.metadata.get("path") and isinstance(value := getattr(cfg, f.name), str)
    }
    return dataclasses.replace(cfg, **changes) if changes else cfg  # type: ignore[type-var]


def override(cfg: T, **changes: Any) -> T:
    """Return a re-validated copy of ``cfg`` with ``changes`` (``None`` values ignored)."""
    data = to_dict(cfg)
    data.update({k: v for k, v in changes.items() if v is not None})
    return from_mapping(type(cfg), data, source=f"override of {type(cfg).__name__}")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as plain YAML/JSON-friendly data (tuples become lists)."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple | list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v

    out = conv(cfg)
    assert isinstance(out, dict)
    return out


def from_mapping(cls: type[T], data: Mapping[str, Any], *, source: str, prefix: str = "") -> T:
    """Build and validate ``cls`` from a mapping.

    Args:
        cls: A (frozen) dataclass type.
        data: Raw values, e.g. from YAML.
        source: Where the values came from (a file path), for messages.
        prefix: Dotted key prefix for nested configs, for messages.

    Returns:
        A validated instance.

    Raises:
        ConfigError: On unknown keys, wrong types, out-of-range values or a
            broken consistency rule.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {prefix or 'top level'} must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise ConfigError(f"{source}: unknown key {prefix}{key!r}{suggest(str(key), list(fields))}")
    missing = [
        n
        for n, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and n not in data
    ]
    if missing:
        raise ConfigError(f"{source}: missing key {prefix}{missing[0]!r}; add it (is this the right file?)")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        f = fields[name]
        key = f"{prefix}{name}"
        kwargs[name] = _check_value(hints[name], value, source=source, key=key)
        _check_bounds(f.metadata, kwargs[name], source=source, key=key)
    try:
        obj = cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{source}: {prefix or ''}{exc}") from exc
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from exc
    return obj


def suggest(name: str, known: list[str]) -> str:
    """The "did you mean" hint for an unknown ``name`` among ``known`` (or the list of known names).

    A close spelling wins; else a known name that abbreviates ``name`` by its words'
    initials (``learning_rate`` -> ``lr``).
    """
    close = difflib.get_close_matches(str(name), known, n=1)
    initials = "".join(word[:1] for word in str(name).split("_"))
    close = close or [k for k in known if len(initials) > 1 and k == initials]
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"


def check_field(cls: type, name: str, value: Any, *, source: str, key: str) -> Any:
    """Check one value against field ``name`` of dataclass ``cls``: its type, then its bounds.

    Args:
        cls: The dataclass declaring the field.
        name: The field's name (must exist).
        value: The candidate value.
        source: Where the value came from, for messages (empty: the message starts at the key).
        key: The dotted key to name in messages.

    Returns:
        The value as the field holds it (ints accepted for floats become floats).

    Raises:
        ConfigError: On a wrong type or an out-of-range value.
    """
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    hints = typing.get_type_hints(cls)
    try:
        out = _check_value(hints[name], value, source=source, key=key)
        _check_bounds(f.metadata, out, source=source, key=key)
    except ConfigError as exc:
        raise ConfigError(str(exc) if source else str(exc).removeprefix(": ")) from None
    return out


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _check_value(tp: Any, value: Any, *, source: str, key: str) -> Any:  # noqa: C901
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_value(arg, value, source=source, key=key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(
            errors[0] if len(errors) == 1 else f"{source}: {key} has the wrong type ({value!r})"
        )
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{source}: {key} is {value!r}; use one of {', '.join(map(repr, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{source}: {key} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(
                _check_value(args[0], v, source=source, key=f"{key}[{i}]") for i, v in enumerate(value)
            )
        if len(args) != len(value):
            raise ConfigError(f"{source}: {key} must have {len(args)} items, got {len(value)}")
        return tuple(
            _check_value(a, v, source=source, key=f"{key}[{i}]")
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: {key} must be a mapping, got {value!r}")
        kt, vt = args
        return {
            _check_value(kt, k, source=source, key=f"{key}.{k}"): _check_value(
                vt, v, source=source, key=f"{key}.{k}"
            )
            for k, v in value.items()
        }
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        return from_mapping(tp, value, source=source, prefix=f"{key}.")
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {key} must be a whole number, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{source}: {key} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {key} must be a string, got {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{source}: {key} must be a {_type_name(tp)}, got {value!r}")
    return value


def _check_bounds(meta: Mapping[str, Any], value: Any, *, source: str, key: str) -> None:
    if not meta or value is None:
        return
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        choices = meta.get("choices")
        if choices is not None and v not in choices:
            raise ConfigError(f"{source}: {key} is {v!r}; use one of {', '.join(map(str, choices))}")
        if not isinstance(v, int | float) or isinstance(v, bool):
            continue
        for op, test, word in (
            ("ge", lambda a, b: a >= b, ">="),
            ("gt", lambda a, b: a > b, ">"),
            ("le", lambda a, b: a <= b, "<="),
            ("lt", lambda a, b: a < b, "<"),
        ):
            limit = meta.get(op)
            if limit is not None and not test(v, limit):
                raise ConfigError(f"{source}: {key} is {v}; it must be {word} {limit}")
