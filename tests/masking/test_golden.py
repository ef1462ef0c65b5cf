"""Golden outputs: what every deterministic technique gives for a fixed key and fixed inputs.

Masked values must survive upgrades (polars, pyarrow, numpy, Faker, cryptography, ff3): a
change of a single output byte fails here. A deliberate change of outputs (a new key scheme)
rewrites the file with ``MASKFLOW_WRITE_GOLDEN=1 pytest tests/masking/test_golden.py`` and
says so in its commit."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from masking.schema import ColumnSpec, TypeCategory
from masking.techniques import MaskContext, all_techniques, make_masker
from masking.techniques.canonical import canonical
from masking.techniques.keyed import row_keys
from masking.techniques.siphash import siphash24

GOLDEN = Path(__file__).with_name("golden.json")
KEY = b"golden-workflow-key-0123456789ab"
T = TypeCategory
INPUTS: dict[TypeCategory, tuple[list, pa.DataType]] = {
    T.STRING: (
        [
            "person2@example.org",
            "Ann-Marie O'Neil",
            "123-45-6789",
            "046 454 286",
            "4111 1111 1111 1111",
            "(416) 555-0199",
            "GB82 WEST 1234 5698 7654 32",
            "AB123456",
            "192.168.0.12",
            "Contact Mr. Jean Tremblay at jean.t@corp.ca, SSN 123-45-6789.",
            "",
            None,
        ],
        pa.string(),
    ),
    T.NUMERIC: ([1, 42, -7, 123456, 99, None], pa.int64()),
    T.DATE: ([dt.date(1985, 7, 14), dt.date(2000, 2, 29), dt.date(1970, 1, 1), None], pa.date32()),
    T.DATETIME: (
        [dt.datetime(2021, 3, 4, 5, 6, 7, 890000), dt.datetime(1999, 12, 31, 23, 59, 59), None],
        pa.timestamp("us"),
    ),
    T.TIME: ([dt.time(8, 30), dt.time(23, 59, 59), None], pa.time64("us")),
    T.BOOLEAN: ([True, False, None], pa.bool_()),
    T.UUID: (
        [str(uuid.UUID(int=7)), "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", None],
        pa.string(),
    ),
    T.BINARY: ([b"\x00\x01secret", b"", None], pa.binary()),
}
PARAMS = {
    "regex_replace": {"pattern": "[0-9]", "replacement": "#"},
    "date_shift": {"min_days": -400, "max_days": 400},
    "fixed": {"value": "x"},
}
LOCALES = ("en_US", "en_CA", "fr_CA", "en_GB", "de_DE")


def _text(value: object) -> object:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def outputs() -> dict:
    out: dict = {
        "siphash24": [
            f"{int(h):016x}"
            for h in siphash24(pa.array([bytes(range(i)) for i in range(16)]), bytes(range(16)))
        ],
        "canonical": {
            cat.value: [
                v.hex() if cat is T.BINARY else v.decode()
                for v in canonical(pa.array(values, typ), cat).to_pylist()
            ]
            for cat, (values, typ) in INPUTS.items()
        },
        "keys": [f"{int(k):016x}" for k in row_keys(pa.array(["a", "b"]), KEY, "email")],
    }
    for t in sorted(all_techniques(), key=lambda t: t.name):
        if not t.deterministic:
            continue
        for cat in sorted(t.categories):
            if cat is T.OTHER:
                continue
            values, typ = INPUTS[cat]
            for locale in LOCALES if cat is T.STRING else LOCALES[:1]:
                ctx = MaskContext(secret=KEY, locale=locale, column=ColumnSpec(cat, name="c"))
                masked = make_masker(t.name, PARAMS.get(t.name), ctx)(pa.array(values, typ))
                out[f"{t.name}/{cat.value}/{locale}"] = [_text(v) for v in masked.to_pylist()]
    return out


def test_outputs_match_the_golden_file() -> None:
    got = outputs()
    if os.environ.get("MASKFLOW_WRITE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        pytest.skip("golden file rewritten")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(golden), "techniques added or removed: rewrite the golden file"
    changed = [name for name in golden if got[name] != golden[name]]
    assert not changed, f"masked outputs changed for: {', '.join(changed)}"


def test_siphash_matches_the_published_vectors() -> None:
    """The reference implementation's vectors (key 00..0f, messages 00..(n-1))."""
    got = siphash24(pa.array([b"", bytes(range(15)), bytes(range(8))]), bytes(range(16)))
    assert [f"{int(h):016x}" for h in got] == [
        "726fdb47dd0e0e31",
        "a129ca6149be45e5",
        "93f5f5799a932462",
    ]


def test_a_changed_key_scheme_would_fail_the_golden_test(monkeypatch) -> None:
    import masking.techniques.keyed as keyed

    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    monkeypatch.setattr(keyed, "KEY_SCHEME", "maskflow/keys/v2")
    keyed.derive.cache_clear()
    try:
        got = outputs()
    finally:
        keyed.derive.cache_clear()
    assert got["email/string/en_US"] != golden["email/string/en_US"]
    assert got["siphash24"] == golden["siphash24"]  # the algorithm itself did not move
