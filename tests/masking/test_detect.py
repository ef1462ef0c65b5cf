"""PII discovery, measured on a labelled corpus of PII columns and non-PII look-alikes."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
import pytest
from faker import Faker

from masking.detect import detect_column, detect_table, is_card, is_iban, is_sin
from masking.schema import TypeCategory as C
from masking.techniques import MaskContext, get_technique, make_masker
from masking.techniques.keyed import luhn_valid

SAMPLE = 40
rng = random.Random(7)


def _fake(locale: str, fn: str) -> list:
    f = Faker(locale)
    f.seed_instance(11)
    return [getattr(f, fn)() for _ in range(SAMPLE)]


def _masked(name: str, locale: str = "en_US") -> list:
    m = make_masker(name, None, MaskContext(secret=b"corpus", locale=locale))
    return m(pa.array([f"seed{i}" for i in range(SAMPLE)])).to_pylist()


def _luhn_numbers(prefix: str, length: int) -> list[str]:
    out = []
    while len(out) < SAMPLE:
        body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
        out.extend(body + d for d in "0123456789" if luhn_valid(body + d))
    return out[:SAMPLE]


def _digits(n: int) -> list[str]:
    return ["".join(rng.choice("0123456789") for _ in range(n)) for _ in range(SAMPLE)]


def _dates(start: int, end: int) -> list:
    base = dt.date(start, 1, 1)
    return [
        base + dt.timedelta(days=rng.randrange((dt.date(end, 1, 1) - base).days))
        for _ in range(SAMPLE)
    ]


S, N, D, DT_, B, U = C.STRING, C.NUMERIC, C.DATE, C.DATETIME, C.BOOLEAN, C.UUID

# (column name, native type, category, sample, expected entity or None)
CORPUS = [
    ("email", "varchar(255)", S, _fake("en_US", "email"), "email"),
    ("work_email", "varchar(255)", S, _fake("en_GB", "company_email"), "email"),
    ("EmailAddress", "nvarchar(200)", S, _masked("email"), "email"),
    ("contact", "text", S, _fake("fr_CA", "email"), "email"),
    ("phone", "varchar(20)", S, _masked("phone", "en_US"), "phone"),
    ("mobile", "varchar(20)", S, _masked("phone", "en_GB"), "phone"),
    ("cell_phone", "varchar(20)", S, _masked("phone", "de_DE"), "phone"),
    ("telephone", "varchar(20)", S, _masked("phone", "fr_CA"), "phone"),
    ("ssn", "char(11)", S, _masked("ssn"), "ssn"),
    ("sin", "char(11)", S, _masked("sin"), "sin"),
    ("social_insurance_number", "char(9)", S, [v.replace(" ", "") for v in _masked("sin")], "sin"),
    ("col_17", "varchar(11)", S, _masked("sin"), "sin"),
    ("credit_card", "varchar(19)", S, _fake("en_US", "credit_card_number"), "credit_card"),
    ("card_number", "varchar(19)", S, _luhn_numbers("4", 16), "credit_card"),
    ("iban", "varchar(34)", S, _fake("de_DE", "iban"), "iban"),
    ("payee_account", "varchar(34)", S, _fake("en_GB", "iban"), "iban"),
    ("passport_number", "varchar(9)", S, _masked("passport", "en_CA"), "passport"),
    (
        "drivers_licence",
        "varchar(17)",
        S,
        [
            f"{rng.choice('ABCDEFGH')}{rng.randrange(10**4):04d}-{rng.randrange(10**5):05d}-{rng.randrange(10**5):05d}"
            for _ in range(SAMPLE)
        ],
        "drivers_licence",
    ),
    (
        "health_card_number",
        "varchar(12)",
        S,
        [
            f"{rng.randrange(10**4):04d}-{rng.randrange(10**3):03d}-{rng.randrange(10**3):03d}-AB"
            for _ in range(SAMPLE)
        ],
        "health_card",
    ),
    ("ip_address", "varchar(45)", S, _fake("en_US", "ipv4"), "ip_address"),
    ("last_login_ip", "inet", S, _fake("en_US", "ipv6"), "ip_address"),
    ("first_name", "varchar(50)", S, _fake("fr_CA", "first_name"), "first_name"),
    ("given_name", "varchar(50)", S, _fake("en_US", "first_name"), "first_name"),
    ("surname", "varchar(50)", S, _fake("de_DE", "last_name"), "last_name"),
    ("lastName", "varchar(50)", S, _fake("en_US", "last_name"), "last_name"),
    ("full_name", "varchar(100)", S, _fake("en_US", "name"), "full_name"),
    ("customer_name", "varchar(100)", S, _masked("full_name"), "full_name"),
    ("dob", "date", D, _dates(1940, 2010), "birth_date"),
    (
        "BirthDate",
        "datetime2",
        DT_,
        [dt.datetime.combine(d, dt.time()) for d in _dates(1950, 2005)],
        "birth_date",
    ),
    ("date_of_birth", "varchar(10)", S, [d.isoformat() for d in _dates(1950, 2005)], "birth_date"),
    ("street_address", "varchar(200)", S, _masked("street_address"), "street_address"),
    ("address_line1", "varchar(200)", S, _fake("en_CA", "street_address"), "street_address"),
    ("city", "varchar(100)", S, _fake("en_US", "city"), "city"),
    ("zip", "char(5)", S, _fake("en_US", "zipcode"), "postal_code"),
    ("postal_code", "char(7)", S, _fake("en_CA", "postalcode"), "postal_code"),
    ("province", "varchar(50)", S, _fake("en_CA", "province"), "state"),
    ("country", "varchar(50)", S, _fake("en_US", "country"), "country"),
    ("username", "varchar(50)", S, _masked("username"), "username"),
    ("phone_number", "bigint", N, [int(d) for d in _digits(10)], "phone"),
    # non-PII look-alikes
    ("order_number", "varchar(16)", S, _luhn_numbers("4", 16), None),
    ("product_code", "char(9)", S, [v for v in _luhn_numbers("1", 9)], None),
    ("sku", "varchar(20)", S, [f"SKU-{rng.randrange(10**5):05d}" for _ in range(SAMPLE)], None),
    ("amount", "decimal(10,2)", N, [round(rng.uniform(1, 900), 2) for _ in range(SAMPLE)], None),
    (
        "created_at",
        "timestamp",
        DT_,
        [
            dt.datetime(2024, 1, 1) + dt.timedelta(minutes=rng.randrange(10**6))
            for _ in range(SAMPLE)
        ],
        None,
    ),
    ("updated_on", "date", D, _dates(1950, 2005), None),
    (
        "status",
        "varchar(20)",
        S,
        [rng.choice(["active", "pending", "closed"]) for _ in range(SAMPLE)],
        None,
    ),
    ("description", "text", S, _fake("en_US", "sentence"), None),
    ("invoice_id", "int", N, list(range(1000, 1000 + SAMPLE)), None),
    ("tracking_number", "varchar(22)", S, _luhn_numbers("5", 16), None),
    ("is_active", "boolean", B, [rng.random() > 0.5 for _ in range(SAMPLE)], None),
    ("id", "uuid", U, [str(Faker().uuid4()) for _ in range(SAMPLE)], None),
    ("quantity", "int", N, [rng.randrange(1, 50) for _ in range(SAMPLE)], None),
    ("currency", "char(3)", S, [rng.choice(["USD", "CAD", "EUR"]) for _ in range(SAMPLE)], None),
    ("ship_date", "date", D, _dates(2024, 2026), None),
    ("price", "numeric(8,2)", N, [round(rng.uniform(1, 99), 2) for _ in range(SAMPLE)], None),
    (
        "product_name",
        "varchar(100)",
        S,
        [f"{rng.choice(['Blue', 'Steel', 'Mini'])} widget {i}" for i in range(SAMPLE)],
        None,
    ),
    ("batch_number", "char(9)", S, _digits(9), None),
    (
        "reference",
        "varchar(30)",
        S,
        [f"REF-{rng.randrange(10**6):06d}" for _ in range(SAMPLE)],
        None,
    ),
    ("checksum", "char(32)", S, [f"{rng.getrandbits(128):032x}" for _ in range(SAMPLE)], None),
    ("rating", "real", N, [rng.uniform(0, 5) for _ in range(SAMPLE)], None),
    ("category", "varchar(30)", S, _fake("en_US", "word"), None),
    ("isbn", "char(13)", S, _luhn_numbers("978", 13), None),
    ("notes", "text", S, _fake("en_US", "paragraph"), None),
]


def test_corpus_precision_and_recall() -> None:
    assert len({c[0] for c in CORPUS}) == len(CORPUS) >= 60
    assert len({c[4] for c in CORPUS if c[4]}) >= 20
    tp = fp = fn = 0
    misses = []
    for name, native, cat, sample, expected in CORPUS:
        got = detect_column(name, native, cat, sample)
        entity = got.entity if got else None
        if expected and entity == expected:
            tp += 1
        elif expected is not None or entity is not None:
            fp += entity is not None
            fn += expected is not None
            misses.append((name, expected, entity))
        if got:
            assert cat in get_technique(got.technique).categories, (name, got.technique)
            assert 0 < got.confidence <= 1 and got.sensitivity in (1, 2, 3) and got.reasons
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    print(
        f"\ndetection: {len(CORPUS)} columns, precision {precision:.3f}, "
        f"recall {recall:.3f}, misses {misses}"
    )
    assert precision >= 0.95, misses
    assert recall >= 0.90, misses


def test_context_rejects_luhn_valid_business_numbers() -> None:
    orders = _luhn_numbers("4", 16)
    assert all(is_card(v) for v in orders)
    assert detect_column("order_number", "varchar", "string", orders) is None
    hit = detect_column("payment_ref_value", "varchar", "string", orders)
    assert hit is None
    assert detect_column("notes", "varchar", "string", orders).entity == "credit_card"
    # the same names written as one word, as PostgreSQL folds unquoted camelCase
    for name in ("ordernumber", "invoicenumber", "trackingno", "serialnum", "InvoiceId"):
        assert detect_column(name, "varchar", "string", orders) is None, name
    # a word that only starts like one is no business number
    assert detect_column("partner", "varchar", "string", orders).entity == "credit_card"


def test_validators() -> None:
    assert is_sin("046 454 286") is False  # first digit 0 is not issued
    assert is_sin("130 692 544") and not is_sin("130 692 545")
    assert is_iban("GB82 WEST 1234 5698 7654 32") and not is_iban("GB82 WEST 1234 5698 7654 33")
    assert is_card("4111 1111 1111 1111") and not is_card("1111 1111 1111 1117")


def test_sensitivity_and_suggestions() -> None:
    sin = detect_column("sin", "char(11)", "string", _masked("sin"))
    assert (sin.entity, sin.sensitivity, sin.technique) == ("sin", 3, "sin")
    city = detect_column("city", "varchar", "string", ["Toronto", "Montréal"])
    assert (city.sensitivity, city.technique) == (1, "city")
    dob = detect_column("dob", "date", C.DATE, _dates(1950, 2000))
    assert dob.technique == "birth_date"
    num = detect_column("phone_number", "bigint", C.NUMERIC, [4165550199])
    assert num.technique == "hash_number"


def test_detect_table() -> None:
    cols = [("email", "varchar", S), ("amount", "decimal", N), ("first_name", "varchar", S)]
    out = detect_table(cols, {"email": _fake("en_US", "email"), "amount": [1.5, 2.0]})
    assert set(out) == {"email", "first_name"}
    assert out["email"].confidence > out["first_name"].confidence or out["email"].confidence == 1.0


@pytest.mark.parametrize(
    ("name", "entity"),
    [
        # Chinook's columns as PostgreSQL folds unquoted camelCase, and as some servers report
        ("billingaddress", "street_address"),
        ("billingcity", "city"),
        ("billingstate", "state"),
        ("billingcountry", "country"),
        ("billingpostalcode", "postal_code"),
        ("postalcode", "postal_code"),
        ("firstname", "first_name"),
        ("lastname", "last_name"),
        ("birthdate", "birth_date"),
        ("homephone", "phone"),
        ("mobilephone", "phone"),
        ("phonenumber", "phone"),
        ("custemail", "email"),
        ("emailaddress", "email"),
        ("workemail", "email"),
        ("streetaddress", "street_address"),
        ("addressline1", "street_address"),
        ("shippingcountry", "country"),
        ("customername", "full_name"),
        # words that end like personal data, or start with it, and are not
        ("capacity", None),
        ("velocity", None),
        ("electricity", None),
        ("hotel", None),
        ("estate", None),
        ("realestate", None),
        ("phonetic", None),
        ("mobileapp", None),
        ("postaldistrict", None),
        ("employeeid", None),
        ("customerid", None),
    ],
)
def test_names_written_as_one_word(name: str, entity: str | None) -> None:
    got = detect_column(name, "varchar(60)", "string", [])
    assert (got.entity if got else None) == entity
