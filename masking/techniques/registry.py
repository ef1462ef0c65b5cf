"""The technique registry: metadata, parameter validation and static column checks."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from masking.errors import ParamError, TerminalError
from masking.schema import ColumnSpec, TypeCategory

PARAM_KINDS = ("int", "float", "str", "bool", "choice", "date", "regex")
LOCALES = ("en_US", "en_CA", "fr_CA", "en_GB", "de_DE")
# Parameters arrive from users: a text longer than any column value, or a pattern longer than
# anyone writes, is refused before it costs memory or time.
MAX_TEXT_PARAM = 4000
MAX_REGEX_PARAM = 500


def regex_error(pattern: str) -> str | None:
    """Why `pattern` is not a valid RE2 expression (the linear-time engine patterns run under,
    see text.py), or None."""
    try:
        pc.replace_substring_regex(pa.array([""], pa.string()), pattern, "")
    except pa.ArrowInvalid as exc:
        reason = str(exc).splitlines()[0]
        return (
            f"is not a valid regular expression ({reason}; "
            "RE2 syntax: no backreferences or lookaround)"
        )
    return None


@dataclass(frozen=True)
class Param:
    """One parameter of a technique, described well enough for a form to render it."""

    name: str
    kind: str
    default: Any = None
    required: bool = False
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    help: str = ""


@dataclass(frozen=True)
class Technique:
    name: str
    label: str
    categories: frozenset[TypeCategory]
    params: tuple[Param, ...]
    identity_hiding: bool
    deterministic: bool
    unique_capable: bool
    nulls_output: bool = False
    description: str = ""


@dataclass(frozen=True)
class MaskContext:
    secret: bytes
    seed: int = 0
    locale: str = "en_US"
    deterministic: bool = True
    column: ColumnSpec = ColumnSpec(TypeCategory.STRING)
    table: str = ""


@dataclass
class Impl:
    """How a technique runs. ``render`` maps 64-bit keys (plus the source values, for
    format-preserving techniques) to outputs and gets collision/identity handling for free;
    ``apply`` handles the whole batch itself (keep, shuffle, sequence, redaction...)."""

    render: Callable[..., Any] | None = None
    apply: Callable[..., Any] | None = None
    prepare: Callable[[dict, MaskContext], Any] | None = None
    space: Callable[[dict, ColumnSpec], int | None] | None = None
    check: Callable[[dict, ColumnSpec], list[str]] | None = None
    unmask: Callable[[str, dict, MaskContext], str] | None = None
    extra_validate: Callable[[dict], dict[str, str]] | None = None
    # techniques keyed on another column of the row (param ``entity_column``) share the keys
    # of this label, so one entity gets one key in every table and technique
    entity_label: str | None = None


_REGISTRY: dict[str, tuple[Technique, Impl]] = {}


def collision_chance(n: int, space: float) -> float:
    """Chance that ``n`` distinct inputs give at least two equal outputs, when each output is
    an independent draw from ``space`` values (the birthday bound)."""
    return -math.expm1(-n * (n - 1) / (2.0 * space))


def key_collisions(space: float = 2.0**64) -> str:
    """The uniqueness sentence of a technique whose outputs spell out a value's 64-bit key."""
    odds = ", ".join(f"{collision_chance(10**e, space):.1e} for 10^{e}" for e in (6, 8, 9))
    return (
        "Unique columns: two different values share an output only if their keys collide; "
        f"the chance of any collision is {odds} distinct values, and a collision fails the "
        "run without showing a value."
    )


S, N = TypeCategory.STRING, TypeCategory.NUMERIC
D, DT, T = TypeCategory.DATE, TypeCategory.DATETIME, TypeCategory.TIME
B, U = TypeCategory.BOOLEAN, TypeCategory.UUID
BIN, OTH = TypeCategory.BINARY, TypeCategory.OTHER
TEMPORAL = frozenset({D, DT, T})


def register(technique: Technique, impl: Impl) -> Technique:
    if technique.name in _REGISTRY:
        raise ValueError(f"technique '{technique.name}' registered twice")
    for p in technique.params:
        if p.kind not in PARAM_KINDS:
            raise ValueError(f"{technique.name}.{p.name}: unknown kind {p.kind}")
    _REGISTRY[technique.name] = (technique, impl)
    return technique


def _entry(name: str) -> tuple[Technique, Impl]:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise TerminalError(f"unknown technique '{name}'") from None


def get_technique(name: str) -> Technique:
    return _entry(name)[0]


def get_impl(name: str) -> Impl:
    return _entry(name)[1]


def all_techniques() -> list[Technique]:
    _load()
    return [t for t, _ in _REGISTRY.values()]


def techniques_for(category: TypeCategory | str) -> list[Technique]:
    cat = TypeCategory(category)
    return [t for t in all_techniques() if cat in t.categories]


def _param_dict(p: Param) -> dict:
    default = p.default.isoformat() if isinstance(p.default, dt.date) else p.default
    return {
        "name": p.name,
        "kind": p.kind,
        "default": default,
        "required": p.required,
        "choices": list(p.choices),
        "min": p.min,
        "max": p.max,
        "help": p.help,
    }


def catalogue() -> dict[str, list[dict]]:
    """JSON-able catalogue grouped by category, for the wizard's technique picker."""
    out: dict[str, list[dict]] = {c.value: [] for c in TypeCategory}
    for t in all_techniques():
        row = {
            "name": t.name,
            "label": t.label,
            "identity_hiding": t.identity_hiding,
            "deterministic": t.deterministic,
            "unique_capable": t.unique_capable,
            "nulls_output": t.nulls_output,
            "description": t.description,
            "params": [_param_dict(p) for p in t.params],
        }
        for c in sorted(t.categories):
            out[c.value].append(row)
    return out


def _coerce(p: Param, value: Any) -> tuple[Any, str | None]:
    """Normalise one value to its kind; returns (value, error message or None)."""
    try:
        if p.kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                return None, "must be a whole number"
            value = int(value)
        elif p.kind == "float":
            if isinstance(value, bool):
                return None, "must be a number"
            value = float(value)
        elif p.kind == "bool":
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                value = value.lower() in ("true", "1", "yes")
            elif not isinstance(value, bool):
                return None, "must be true or false"
        elif p.kind == "date":
            if isinstance(value, str):
                value = dt.date.fromisoformat(value)
            elif isinstance(value, dt.datetime):
                value = value.date()
            elif not isinstance(value, dt.date):
                return None, "must be a date (YYYY-MM-DD)"
        elif p.kind in ("str", "regex", "choice"):
            if not isinstance(value, str):
                return None, "must be text"
            limit = MAX_REGEX_PARAM if p.kind == "regex" else MAX_TEXT_PARAM
            if len(value) > limit:
                return None, f"is longer than {limit} characters"
            if p.kind == "regex" and (error := regex_error(value)):
                return None, error
            if p.kind == "choice" and value not in p.choices:
                return None, f"must be one of: {', '.join(map(str, p.choices))}"
    except (TypeError, ValueError):
        return None, f"must be of type {p.kind}"
    if p.kind in ("int", "float"):
        if p.min is not None and value < p.min:
            return None, f"must be at least {p.min:g}"
        if p.max is not None and value > p.max:
            return None, f"must be at most {p.max:g}"
    return value, None


def validate_params(name: str, params: dict | None) -> dict:
    """Fill defaults and normalise types; every problem is reported at once."""
    tech, impl = _entry(name)
    given = dict(params or {})
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    known = {p.name for p in tech.params}
    for key in given:
        if key not in known:
            allowed = ", ".join(sorted(known)) or "none"
            errors[key] = f"unknown parameter (allowed: {allowed})"
    for p in tech.params:
        if p.name not in given or given[p.name] is None:
            if p.required:
                errors[p.name] = "is required"
            out[p.name] = p.default
            continue
        value, err = _coerce(p, given[p.name])
        if err:
            errors[p.name] = err
        else:
            out[p.name] = value
    if not errors and impl.extra_validate:
        errors.update(impl.extra_validate(out))
    if errors:
        raise ParamError(name, errors)
    return out


def fits_column(name: str, params: dict | None, column: ColumnSpec) -> list[str]:
    """Static reasons why this technique/params cannot write into ``column``."""
    tech, impl = _entry(name)
    try:
        p = validate_params(name, params)
    except ParamError as exc:
        return [f"{k}: {v}" for k, v in exc.errors.items()]
    reasons: list[str] = []
    if column.category not in tech.categories:
        reasons.append(f"technique '{name}' does not accept {column.category.value} columns")
        return reasons
    if tech.nulls_output and not column.nullable:
        reasons.append(f"column is NOT NULL but technique '{name}' writes NULL")
    if column.unique and not tech.unique_capable:
        reasons.append(f"column is unique but technique '{name}' cannot guarantee unique values")
    if column.unique and tech.unique_capable and impl.space:
        space = impl.space(p, column)
        if space is not None and space < 1000:
            reasons.append(f"only {space} distinct outputs fit this column")
    if impl.check:
        reasons.extend(impl.check(p, column))
    return reasons


def min_length(n: int, what: str):
    """An Impl check: the column must hold at least `n` characters."""

    def check(params: dict, column: ColumnSpec) -> list[str]:
        if column.max_length is not None and column.max_length < n:
            return [f"{what} needs at least {n} characters, column allows {column.max_length}"]
        return []

    return check


_loaded = False


def _load() -> None:
    """Import the family modules once; each registers its techniques on import."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from masking.techniques import (  # noqa: F401
        dates,
        fake,
        identifiers,
        misc,
        network,  # after fake: the catalogue keeps its order
        numbers,
        text,
        tokenize,
    )
