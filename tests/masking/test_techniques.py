"""Property tests for the technique catalogue (no Django, no database)."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from masking.detect import CA_POSTAL, EMAIL, PHONE, SSN, UK_POSTAL, US_ZIP, is_iban
from masking.errors import ParamError, TerminalError, UniquenessError
from masking.schema import ColumnSpec, TypeCategory
from masking.techniques import (
    MaskContext,
    all_techniques,
    catalogue,
    fits_column,
    get_technique,
    make_masker,
    techniques_for,
    unmask,
    validate_params,
)
from masking.techniques.keyed import luhn_valid

PROPS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECRET = b"test-secret-0123456789"
LOCALES = ("en_US", "en_CA", "fr_CA", "en_GB", "de_DE")

# techniques that render from keys; every string one gets the generic properties below
STRING_KEYED = [
    t.name
    for t in techniques_for("string")
    if t.identity_hiding and t.name not in ("null_out", "partial_mask")
]

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=30
)
text_lists = st.lists(st.one_of(st.none(), texts), min_size=1, max_size=40)


def ctx(category: TypeCategory = TypeCategory.STRING, secret: bytes = SECRET, **kw) -> MaskContext:
    locale = kw.pop("locale", "en_US")
    det = kw.pop("deterministic", True)
    return MaskContext(
        secret=secret, locale=locale, deterministic=det, column=ColumnSpec(category, **kw)
    )


def run(
    name: str,
    values: list,
    params: dict | None = None,
    c: MaskContext | None = None,
    typ: pa.DataType | None = None,
) -> list:
    arr = pa.array(values, typ or pa.string())
    return make_masker(name, params, c or ctx())(arr).to_pylist()


# -- generic properties --------------------------------------------------------------------
@pytest.mark.parametrize("name", STRING_KEYED)
@PROPS
@given(values=text_lists, locale=st.sampled_from(LOCALES))
def test_string_identity_hiding_nulls_and_length(name: str, values: list, locale: str) -> None:
    out = run(name, values, c=ctx(locale=locale))
    assert len(out) == len(values)
    for v, o in zip(values, out, strict=True):
        assert (v is None) == (o is None)
        if v is not None:
            assert o != v


@pytest.mark.parametrize(
    "name",
    STRING_KEYED + ["partial_mask", "fixed_value", "regex_replace", "free_text_redact", "tokenize"],
)
@PROPS
@given(
    values=st.lists(texts, min_size=1, max_size=20), limit=st.integers(min_value=24, max_value=40)
)
def test_string_outputs_fit_max_length(name: str, values: list, limit: int) -> None:
    params = {"pattern": "[aeiou]"} if name == "regex_replace" else None
    while fits_column(name, params, ColumnSpec(TypeCategory.STRING, max_length=limit)):
        limit += 1  # the technique's own minimum (URLs need 28)
    values = [v[:limit] for v in values]
    out = run(name, values, params, ctx(max_length=limit))
    assert all(len(o) <= limit for o in out)


def test_every_technique_keeps_nulls_and_length() -> None:
    samples = {
        "string": (["a@b.com", None, "x"], pa.string()),
        "numeric": ([1, None, 5], pa.int64()),
        "date": ([dt.date(1990, 1, 1), None, dt.date(2000, 5, 5)], pa.date32()),
        "datetime": (
            [dt.datetime(2020, 1, 1, 5), None, dt.datetime(2021, 1, 1)],
            pa.timestamp("us"),
        ),
        "time": ([dt.time(5, 6), None, dt.time(23, 59)], pa.time64("us")),
        "boolean": ([True, None, False], pa.bool_()),
        "uuid": (
            ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", None, "00000000-0000-4000-8000-000000000000"],
            pa.string(),
        ),
        "binary": ([b"ab", None, b"c"], pa.binary()),
        "other": (["{}", None, "[]"], pa.string()),
    }
    for t in all_techniques():
        for cat in t.categories:
            values, typ = samples[cat.value]
            params = {"pattern": "a"} if t.name == "regex_replace" else None
            out = make_masker(t.name, params, ctx(TypeCategory(cat)))(pa.array(values, typ))
            assert len(out) == 3, t.name
            assert out[1].as_py() is None, (t.name, cat)
            if not t.nulls_output:
                assert out[0].as_py() is not None and out[2].as_py() is not None, (t.name, cat)


# -- formats ---------------------------------------------------------------------------------
@PROPS
@given(
    values=st.lists(texts, min_size=1, max_size=30),
    keep=st.booleans(),
    limit=st.one_of(st.none(), st.integers(21, 60)),
)
def test_email_is_valid_email(values: list, keep: bool, limit: int | None) -> None:
    out = run("email", values, {"keep_domain": keep}, ctx(max_length=limit))
    for o in out:
        assert EMAIL.match(o), o
        assert limit is None or len(o) <= limit


def test_email_keep_domain() -> None:
    assert run("email", ["ann.smith@corp.example.ca"], {"keep_domain": True})[0].endswith(
        "@corp.example.ca"
    )


_card = st.builds(
    lambda p, n: p + "".join(str((i * 7) % 10) for i in range(n)),
    st.sampled_from(["4", "51", "37", "6011"]),
    st.integers(11, 15),
)


@PROPS
@given(values=st.lists(_card, min_size=1, max_size=30), sep=st.sampled_from(["", " ", "-"]))
def test_credit_card_luhn_brand_and_layout(values: list, sep: str) -> None:
    values = [sep.join(v[i : i + 4] for i in range(0, len(v), 4)) for v in values]
    out = run("credit_card", values)
    for v, o in zip(values, out, strict=True):
        assert luhn_valid(o) and o != v
        assert len(o) == len(v)
        assert re.sub(r"\D", "", o)[:6] == re.sub(r"\D", "", v)[:6]
        assert [i for i, c in enumerate(o) if not c.isdigit()] == [
            i for i, c in enumerate(v) if not c.isdigit()
        ]


@PROPS
@given(
    values=st.lists(
        st.from_regex(r"\d{3}[ -]?\d{3}[ -]?\d{3}", fullmatch=True), min_size=1, max_size=30
    )
)
def test_sin_luhn_valid(values: list) -> None:
    for o in run("sin", values):
        d = re.sub(r"\D", "", o)
        assert len(d) == 9 and luhn_valid(d) and d[0] not in "08"


@PROPS
@given(values=st.lists(texts, min_size=1, max_size=30), locale=st.sampled_from(LOCALES))
def test_ssn_iban_phone_passport_formats(values: list, locale: str) -> None:
    c = ctx(locale=locale)
    assert all(SSN.match(o) or re.fullmatch(r"\d{9}", o) for o in run("ssn", values, c=c))
    assert all(is_iban(o) for o in run("iban", values, c=c))
    assert all(PHONE.match(o) for o in run("phone", values, c=c))
    shapes = {
        "en_US": r"[A-Z]\d{8}",
        "en_CA": r"[A-Z]{2}\d{6}",
        "fr_CA": r"[A-Z]{2}\d{6}",
        "en_GB": r"\d{9}",
        "de_DE": r"[CFGHJK][CFGHJKLMNPRTVWXYZ0-9]{8}",
    }
    for v, o in zip(values, run("passport", values, c=c), strict=True):
        compact = re.sub(r"[^0-9A-Za-z]", "", v).upper()
        if sum(ch.isdigit() for ch in compact) >= 5 and len(compact) <= 20:
            # a passport-like input keeps its letters and layout; its digits are renumbered
            assert re.sub(r"\d", "9", o) == re.sub(r"\d", "9", compact) and o != compact
        else:
            assert re.fullmatch(shapes[locale], o)


def test_phone_follows_locale() -> None:
    patterns = {
        "en_US": r"\(\d{3}\) \d{3}-\d{4}",
        "en_CA": r"\d{3}-\d{3}-\d{4}",
        "fr_CA": r"\d{3} \d{3}-\d{4}",
        "en_GB": r"07\d{3} \d{6}",
        "de_DE": r"015\d \d{8}",
    }
    for loc, pat in patterns.items():
        assert all(
            re.fullmatch(pat, o) for o in run("phone", ["a", "b", "c"], c=ctx(locale=loc))
        ), loc
    assert re.fullmatch(r"07\d{3} \d{6}", run("phone", ["a"], {"locale": "en_GB"})[0])


def test_postal_code_and_address_follow_locale() -> None:
    values = [f"v{i}" for i in range(200)]
    assert all(CA_POSTAL.match(o) for o in run("postal_code", values, c=ctx(locale="fr_CA")))
    assert all(US_ZIP.match(o) for o in run("postal_code", values, c=ctx(locale="en_US")))
    assert all(UK_POSTAL.match(o) for o in run("postal_code", values, c=ctx(locale="en_GB")))
    assert all(re.fullmatch(r"\d{5}", o) for o in run("postal_code", values, c=ctx(locale="de_DE")))
    de = run("street_address", values, c=ctx(locale="de_DE"))
    assert (
        sum(bool(re.search(r"(str\.|straße|weg|gasse|platz|allee|ring)", o, re.I)) for o in de)
        > 100
    )


def test_iban_keeps_country_and_grouping() -> None:
    out = run("iban", ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000"])
    assert out[0].startswith("GB") and out[0].count(" ") == 5 and is_iban(out[0])
    assert out[1].startswith("DE") and " " not in out[1] and is_iban(out[1])


def test_partial_mask_email_and_text() -> None:
    assert run("partial_mask", ["john.doe@example.com"]) == ["j***@example.com"]
    assert run("partial_mask", ["4111111111111111"], {"keep_first": 0, "keep_last": 4}) == [
        "************1111"
    ]
    assert run("partial_mask", ["ab"], {"keep_first": 1, "keep_last": 1}) == ["**"]


@PROPS
@given(
    values=st.lists(texts.filter(lambda s: s.strip("*")), min_size=1, max_size=30),
    first=st.integers(0, 4),
    last=st.integers(0, 4),
)
def test_partial_mask_hides_and_never_grows(values: list, first: int, last: int) -> None:
    out = run("partial_mask", values, {"keep_first": first, "keep_last": last})
    for v, o in zip(values, out, strict=True):
        assert o != v or v == ""
        if "@" not in v:
            assert len(o) == len(v)


def test_ip_address_keeps_family() -> None:
    out = run("ip_address", ["192.168.1.1", "2001:db8::1"])
    assert re.fullmatch(r"10\.\d+\.\d+\.\d+", out[0]) and out[1].startswith("fd00::")


# -- determinism -----------------------------------------------------------------------------
DET_NAMES = [
    "first_name",
    "email",
    "phone",
    "sin",
    "credit_card",
    "iban",
    "hash",
    "tokenize",
    "city",
]
DET_VALUES = ["alice@example.com", "4111111111111111", "046 454 286", "Bob", "", "Ünïcødé"]


def _masked_map() -> dict:
    return {n: run(n, DET_VALUES, c=ctx(locale="fr_CA")) for n in DET_NAMES}


def test_deterministic_across_processes_and_batches() -> None:
    code = (
        "import json, pyarrow as pa\n"
        "from masking.techniques import make_masker, MaskContext\n"
        "from masking.schema import ColumnSpec, TypeCategory\n"
        f"names = {DET_NAMES!r}; values = {DET_VALUES!r}\n"
        f"c = MaskContext(secret={SECRET!r}, locale='fr_CA',\n"
        "                 column=ColumnSpec(TypeCategory.STRING))\n"
        "out = {n: make_masker(n, None, c)(pa.array(values)).to_pylist() for n in names}\n"
        "print(json.dumps(out))\n"
    )
    other = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )
    mine = _masked_map()
    assert other == mine
    # a different batch split and a different table give the same values
    m = make_masker("email", None, MaskContext(secret=SECRET, locale="fr_CA", table="other"))
    split = m(pa.array(DET_VALUES[:2])).to_pylist() + m(pa.array(DET_VALUES[2:])).to_pylist()
    assert split == mine["email"]


@pytest.mark.parametrize("name", DET_NAMES)
def test_different_secret_changes_output(name: str) -> None:
    a = run(name, DET_VALUES, c=ctx(secret=b"one"))
    b = run(name, DET_VALUES, c=ctx(secret=b"two"))
    assert sum(x != y for x, y in zip(a, b, strict=True)) >= len(DET_VALUES) - 2


def test_random_mode_is_reproducible_by_seed() -> None:
    def go(seed: int) -> list:
        c = MaskContext(secret=SECRET, seed=seed, deterministic=False)
        return run("first_name", ["x"] * 50, c=c)

    assert go(1) == go(1)
    assert go(1) != go(2)
    assert len(set(go(1))) > 10  # random mode: same input, varied outputs


# -- tokenize --------------------------------------------------------------------------------
@PROPS
@given(values=st.lists(texts, min_size=1, max_size=20))
def test_tokenize_round_trips_and_preserves_format(values: list) -> None:
    c = ctx()
    out = run("tokenize", values, c=c)
    for v, o in zip(values, out, strict=True):
        assert len(o) == len(v)
        assert [ch.isdigit() for ch in o] == [ch.isdigit() for ch in v]
        assert unmask(o, None, c) == v


def test_tokenize_changes_values_and_depends_on_secret() -> None:
    vals = ["4111-1111-1111-1111", "AB123456", "12", "Jo"]
    out = run("tokenize", vals)
    assert all(o != v for o, v in zip(out, vals, strict=True))
    assert out != run("tokenize", vals, c=ctx(secret=b"other"))


# -- free text -------------------------------------------------------------------------------
def test_free_text_redact_tags_and_fakes() -> None:
    text = (
        "Contact Mr. Jean Tremblay at jean.t@corp.ca or 416-555-0199; card 4111 1111 1111 1111, "
        "SIN 046 454 286, SSN 123-45-6789, from 192.168.0.12. Order #42 ships Monday."
    )
    tagged = run("free_text_redact", [text], {"mode": "tag"})[0]
    for tag in ("[NAME]", "[EMAIL]", "[PHONE]", "[CARD]", "[SSN]", "[IP]"):
        assert tag in tagged
    assert "Order #42 ships Monday." in tagged and "jean.t" not in tagged
    fake = run("free_text_redact", [text, text])
    assert fake[0] == fake[1] and "jean.t@corp.ca" not in fake[0] and "Tremblay" not in fake[0]
    assert "Order #42 ships Monday." in fake[0]
    assert EMAIL.match(re.search(r"\S+@\S+", fake[0]).group(0))


# -- uniqueness errors, params, catalogue ----------------------------------------------------
def test_unique_column_rejects_non_unique_techniques() -> None:
    with pytest.raises(UniquenessError):
        make_masker("first_name", None, ctx(unique=True, name="login"))


def test_unique_columns_get_the_same_function_as_any_other() -> None:
    """No state between values: a unique column masks exactly like a plain one, in any batch
    split, so its values join their copies elsewhere."""
    values = [f"v{i}@example.org" for i in range(5000)]
    unique = make_masker("email", None, ctx(unique=True))
    plain = make_masker("email", None, ctx())
    a = unique(pa.array(values[:2500])).to_pylist() + unique(pa.array(values[2500:])).to_pylist()
    assert a == plain(pa.array(values)).to_pylist()
    assert len(set(a)) == 5000


def test_too_short_column_is_refused_not_truncated() -> None:
    with pytest.raises(TerminalError, match="within 8 characters"):
        run("email", ["a@b.com"], c=ctx(max_length=8, name="mail"))


@pytest.mark.parametrize(
    ("outputs", "limit", "refused"),
    [
        (["Zoë", "abc"], 3, False),  # 4 bytes, 3 characters: fits
        (["Zoëx", "abc"], 3, True),  # 4 characters
        (["ëëë"], 3, False),  # twice the bytes, still 3 characters
        (["abcd"], 3, True),
        ([None, "ab"], 3, False),
    ],
)
def test_the_length_limit_counts_characters_not_bytes(
    outputs: list, limit: int, refused: bool
) -> None:
    from masking.techniques.masker import ColumnMasker
    from masking.techniques.registry import Impl, get_technique

    def render(keys, src, attempt, m) -> pa.Array:
        return pa.array(outputs[: len(src)], pa.string())

    masker = ColumnMasker(
        get_technique("hash"), Impl(render=render), {}, ctx(max_length=limit, name="n")
    )
    if refused:
        with pytest.raises(TerminalError, match=f"within {limit} characters"):
            masker(pa.array(["x"] * len(outputs)))
    else:
        assert masker(pa.array(["x"] * len(outputs))).to_pylist() == outputs


def test_an_output_equal_to_its_input_is_drawn_again() -> None:
    from masking.techniques.masker import ColumnMasker
    from masking.techniques.registry import Impl, get_technique

    def render(keys, src, attempt, m) -> pa.Array:  # echoes the input on the first draw
        return pa.array(
            [
                v if a == 0 and v == "same" else f"{v}-{a}"
                for v, a in zip(src.to_pylist(), attempt, strict=True)
            ]
        )

    technique = get_technique("hash")
    assert technique.identity_hiding
    masker = ColumnMasker(technique, Impl(render=render), {}, ctx(name="n"))
    assert masker(pa.array(["same", "other", None])).to_pylist() == ["same-1", "other-0", None]


def test_validate_params_messages() -> None:
    assert validate_params("partial_mask", None) == {
        "keep_first": 1,
        "keep_last": 0,
        "mask_char": "*",
    }
    with pytest.raises(ParamError) as e:
        validate_params("partial_mask", {"keep_first": -1, "colour": "red", "mask_char": "**"})
    assert e.value.errors["keep_first"] == "must be at least 0"
    assert e.value.errors["colour"].startswith("unknown parameter")
    with pytest.raises(ParamError) as e:
        validate_params("regex_replace", {"pattern": "(unclosed"})
    assert "not a valid regular expression" in e.value.errors["pattern"]
    with pytest.raises(ParamError) as e:
        validate_params("regex_replace", {})
    assert e.value.errors == {"pattern": "is required"}
    with pytest.raises(ParamError) as e:
        validate_params("generalize", {"granularity": "week"})
    assert "must be one of" in e.value.errors["granularity"]
    with pytest.raises(ParamError):
        validate_params("random_number", {"min": 5, "max": 1})
    assert validate_params("email", {"keep_domain": "true"}) == {"keep_domain": True}
    with pytest.raises(TerminalError, match="unknown technique 'nope'"):
        get_technique("nope")


def test_fits_column_reasons() -> None:
    assert fits_column("email", None, ColumnSpec(TypeCategory.STRING, max_length=100)) == []
    assert fits_column("email", None, ColumnSpec(TypeCategory.STRING, max_length=8))
    assert any(
        "NOT NULL" in r
        for r in fits_column("null_out", None, ColumnSpec(TypeCategory.STRING, nullable=False))
    )
    assert any(
        "unique" in r
        for r in fits_column("city", None, ColumnSpec(TypeCategory.STRING, unique=True))
    )
    assert fits_column("email", None, ColumnSpec(TypeCategory.NUMERIC))
    assert fits_column(
        "hash_number", None, ColumnSpec(TypeCategory.NUMERIC, precision=2, unique=True)
    )


def test_catalogue_and_filtering() -> None:
    names = [t.name for t in all_techniques()]
    assert len(names) == len(set(names))
    required = {
        "first_name",
        "last_name",
        "full_name",
        "email",
        "phone",
        "street_address",
        "city",
        "state",
        "postal_code",
        "country",
        "company",
        "username",
        "ssn",
        "sin",
        "credit_card",
        "iban",
        "passport",
        "ip_address",
        "url",
        "partial_mask",
        "hash",
        "tokenize",
        "free_text_redact",
        "regex_replace",
        "fixed_value",
        "null_out",
        "shuffle",
        "keep",
        "random_number",
        "noise",
        "round",
        "fixed_number",
        "sequence",
        "hash_number",
        "date_shift",
        "datetime_shift",
        "random_date",
        "generalize",
        "birth_date",
        "fixed_date",
        "random_boolean",
        "fixed_boolean",
        "random_uuid",
        "fixed",
    }
    assert required <= set(names)
    numeric = {t.name for t in techniques_for("numeric")}
    assert "noise" in numeric and "email" not in numeric and "null_out" in numeric
    assert {t.name for t in techniques_for(TypeCategory.BOOLEAN)} == {
        "random_boolean",
        "fixed_boolean",
        "keep",
        "null_out",
        "shuffle",
    }
    cat = catalogue()
    assert json.loads(json.dumps(cat)) == cat
    email = next(r for r in cat["string"] if r["name"] == "email")
    assert email["params"][0]["name"] == "keep_domain" and email["unique_capable"]
    assert all(r["name"] != "email" for r in cat["date"])


def test_unique_in_random_mode_and_large_string_input() -> None:
    c = MaskContext(
        secret=SECRET,
        seed=3,
        deterministic=False,
        column=ColumnSpec(TypeCategory.STRING, unique=True, max_length=11),
    )
    m = make_masker("sin", None, c)
    out = m(pa.array([f"{i:09d}" for i in range(20_000)], pa.large_string()))
    assert out.type == pa.string() and len(set(out.to_pylist())) == 20_000
    assert all(luhn_valid(o) and len(o) <= 11 for o in out.to_pylist()[:500])
