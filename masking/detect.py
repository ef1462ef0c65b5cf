"""PII discovery: score each column from its name and a sample of its values.

A column name alone is a strong hint (``email``, ``dob``, ``sin``); values confirm or reveal
entities behind vague names (a ``contact`` column full of e-mail addresses). Validators keep
look-alikes out: card numbers must pass Luhn *and* carry a card-network prefix, SINs pass Luhn
and start with an issued digit, IBANs pass mod-97, SSNs respect area/group/serial rules. Names
that say "this is a business number" (order, invoice, sku, tracking, product...) veto the
value-only matches, because an order number can pass Luhn by chance.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from masking.schema import TypeCategory
from masking.techniques.keyed import luhn_valid


@dataclass(frozen=True)
class Detection:
    entity: str
    confidence: float
    sensitivity: int  # 1 low, 2 medium, 3 high
    technique: str
    params: dict = field(default_factory=dict)
    reasons: tuple[str, ...] = ()


# -- value validators -------------------------------------------------------------------------
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
PHONE = re.compile(
    r"^(\+?1[ .-]?)?\(?[2-9]\d{2}\)?[ .-]?[2-9]\d{2}[ .-]?\d{4}$"
    r"|^(\+44 ?|0)7\d{3} ?\d{6}$|^(\+49 ?|0)1[5-7]\d ?\d{7,8}$"
)
SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
SSN_BARE = re.compile(r"^(?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4}$")
SIN_SHAPE = re.compile(r"^\d{3}[ -]?\d{3}[ -]?\d{3}$")
CARD_SHAPE = re.compile(r"^\d{4}([ -]?\d{4}){2}[ -]?\d{1,7}$|^\d{13,19}$")
IBAN_SHAPE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")
US_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
CA_POSTAL = re.compile(r"^[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d$", re.I)
UK_POSTAL = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$", re.I)
PASSPORT = re.compile(r"^[A-Z]{2}\d{6}$|^[A-Z]\d{8}$|^\d{9}$|^[CFGHJK][CFGHJKLMNPRTVWXYZ0-9]{8}$")
DRIVERS = re.compile(r"^[A-Z]\d{4}[- ]?\d{5}[- ]?\d{5}$|^[A-Z]\d{12}$|^[A-Z]\d{7}$|^\d{7,9}$")
HEALTH = re.compile(
    r"^\d{4}[- ]?\d{3}[- ]?\d{3}([- ]?[A-Z]{2})?$|^[A-Z]{4} ?\d{4} ?\d{4}$|^9\d{9}$"
)
STREET = re.compile(r"^\d{1,6}[A-Za-z]?\s+\S+(\s+\S+){0,6}$")
PERSON = re.compile(r"^[A-ZÀ-Ý][a-zà-ÿ'’-]+( [A-ZÀ-Ý][a-zà-ÿ'’.-]+){1,2}$")


def is_iban(v: str) -> bool:
    s = v.replace(" ", "").upper()
    if not IBAN_SHAPE.match(s):
        return False
    n = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(n) % 97 == 1


def is_card(v: str) -> bool:
    d = re.sub(r"[ -]", "", v)
    return bool(CARD_SHAPE.match(v)) and d[0] in "3456" and luhn_valid(d)


def is_sin(v: str) -> bool:
    d = re.sub(r"[ -]", "", v)
    return bool(SIN_SHAPE.match(v)) and d[0] not in "08" and luhn_valid(d)


def is_ip(v: str) -> bool:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return False
    return "." in v or ":" in v


def is_birth_date(v: object) -> bool:
    if isinstance(v, dt.datetime):
        v = v.date()
    if isinstance(v, str):
        try:
            v = dt.date.fromisoformat(v[:10])
        except ValueError:
            return False
    if not isinstance(v, dt.date):
        return False
    age = (dt.date.today() - v).days / 365.2425
    return 0 <= age <= 110 and v.year < dt.date.today().year


def _rx(p: re.Pattern) -> Callable[[str], bool]:
    return lambda v: bool(p.match(v))


# -- entity rules ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    entity: str
    names: str  # regex over the snake_case column name, matched at token boundaries
    sensitivity: int
    technique: str
    validator: Callable[[str], bool] | None = None
    value_only: bool = False  # values alone may identify the entity (checksummed/unmistakable)
    params: dict = field(default_factory=dict)


def _n(*alts: str) -> str:
    return r"(?:^|_)(?:" + "|".join(alts) + r")(?:_|$)"


RULES: tuple[Rule, ...] = (
    Rule("email", _n(r"e_?mail(_?address)?", "courriel", "mail"), 2, "email", _rx(EMAIL), True),
    Rule(
        "credit_card",
        _n("credit_?card", "card_?(number|num|no)", "cc_?(number|num)?", "pan", "card"),
        3,
        "credit_card",
        is_card,
        True,
    ),
    Rule("iban", _n("iban", "bank_account"), 3, "iban", is_iban, True),
    Rule("ssn", _n("ssn", "social_security(_number)?"), 3, "ssn", _rx(SSN), True),
    # bare nine digits are an SSN only when the name says so
    Rule("ssn", _n("ssn", "social_security(_number)?"), 3, "ssn", _rx(SSN_BARE)),
    Rule(
        "sin",
        _n("sin", "nas", "social_insurance(_number)?", "sin_(number|num|no)"),
        3,
        "sin",
        is_sin,
        True,
    ),
    Rule(
        "health_card",
        _n("health_?card(_number|_no)?", "ohip", "ramq", "hcn", "phn", "health_number"),
        3,
        "tokenize",
        _rx(HEALTH),
    ),
    Rule("passport", _n("passport(_number|_no|_num)?"), 3, "passport", _rx(PASSPORT)),
    Rule(
        "drivers_licence",
        _n(
            "drivers?_?licen[cs]e(_number|_no)?",
            "licen[cs]e_(number|no)",
            "dl_(number|no)",
            "permis",
        ),
        3,
        "tokenize",
        _rx(DRIVERS),
    ),
    Rule(
        "phone",
        _n(
            "phone(_?number)?",
            "mobile(_?phone)?",
            "cell(_?phone)?",
            "tel",
            "telephone",
            "fax",
            "msisdn",
            "work_?phone",
            "home_?phone",
        ),
        2,
        "phone",
        _rx(PHONE),
        True,
    ),
    Rule(
        "ip_address",
        _n("ip", "ip_?addr(ess)?", "ipv[46]", "remote_addr", "client_ip"),
        1,
        "ip_address",
        is_ip,
        True,
    ),
    Rule(
        "birth_date",
        _n("dob", "birth_?(date|day)?", "date_of_birth", "birthdate", "born(_on)?"),
        3,
        "birth_date",
        is_birth_date,
    ),
    Rule(
        "first_name",
        _n("first_?name", "fname", "given_?name", "forename", "prenom"),
        2,
        "first_name",
    ),
    Rule("last_name", _n("last_?name", "lname", "surname", "family_?name", "nom"), 2, "last_name"),
    Rule(
        "full_name",
        r"^name$|"
        + _n(
            "full_?name",
            "(customer|contact|person|employee|patient|client|owner|account)_name",
            "(card_?|account_)?holder(_name)?",
            "beneficiary",
            "display_name",
            "nom_complet",
        ),
        2,
        "full_name",
        _rx(PERSON),
    ),
    Rule(
        "street_address",
        _n("street(_?address)?", "address(_?line)?(_?\\d)?", "addr(_?\\d)?", "adresse"),
        2,
        "street_address",
        _rx(STREET),
    ),
    Rule("city", _n("city", "town", "ville"), 1, "city"),
    Rule(
        "postal_code",
        _n("zip(_?code)?", "postal(_?code)?", "post_?code", "code_postal"),
        2,
        "postal_code",
        lambda v: bool(US_ZIP.match(v) or CA_POSTAL.match(v) or UK_POSTAL.match(v)),
    ),
    Rule("state", _n("state", "province"), 1, "state"),
    Rule("country", _n("country"), 1, "country"),
    Rule("username", _n("user_?name", "login", "handle", "screen_name"), 2, "username"),
)

# business identifiers whose values can look like PII (Luhn-valid order numbers, 9-digit SKUs)
NEGATIVE = re.compile(
    _n(
        "order",
        "invoice",
        "sku",
        "product",
        "tracking",
        "item",
        "part",
        "serial",
        "batch",
        "lot",
        "amount",
        "price",
        "total",
        "qty",
        "quantity",
        "count",
        "version",
        "ref(erence)?",
        "transaction",
        "shipment",
        "code",
        "hash",
        "checksum",
        "isbn",
        "ean",
        "upc",
        "gtin",
        "barcode",
        "account_id",
        "id",
    )
    + "|_id$|^id_"
)

# The same words run into a number's name, as one-word names are written (``invoicenumber``,
# ``trackingno``, ``orderid``): a business word, then what kind of identifier it is.
NEGATIVE_ONE_WORD = re.compile(
    r"^(?:order|invoice|sku|product|tracking|item|part|serial|batch|lot|transaction|shipment"
    r"|isbn|ean|upc|gtin|barcode)(?:number|num|nbr|nr|no|id|code|ref|key)s?(?:_|$)"
)

_FALLBACK = {
    TypeCategory.NUMERIC: "hash_number",
    TypeCategory.STRING: "hash",
    TypeCategory.DATE: "date_shift",
    TypeCategory.DATETIME: "date_shift",
    TypeCategory.UUID: "random_uuid",
}


def snake(name: str) -> str:
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")


# Words that qualify whose data a column holds. A name written in one lowercase word, as
# PostgreSQL folds unquoted camelCase and some servers report names (``billingaddress``,
# ``homephone``, ``custemail``), is read as qualifier + rest (``billing_address``). Only these
# words split a name: a bare suffix would read ``capacity`` as a city, ``hotel`` as a phone,
# and none of them names personal data itself (``phonetic`` is no ``phone_tic``).
QUALIFIERS = (
    "billing",
    "shipping",
    "mailing",
    "delivery",
    "home",
    "work",
    "office",
    "business",
    "personal",
    "private",
    "primary",
    "secondary",
    "alternate",
    "alt",
    "contact",
    "customer",
    "cust",
    "client",
    "employee",
    "emp",
    "patient",
    "member",
    "user",
    "owner",
    "parent",
    "guardian",
    "emergency",
    "spouse",
    "student",
    "account",
)
_LONGEST_FIRST = sorted(QUALIFIERS, key=len, reverse=True)  # "customer" before "cust"


def name_readings(col: str) -> list[str]:
    """The snake_case name, and where its first word runs a qualifier into the next word, the
    name with the two apart (``billingpostalcode``: ``billing_postalcode``, and so on down)."""
    readings = [col]
    head, sep, tail = col.partition("_")
    for q in _LONGEST_FIRST:
        if head.startswith(q) and len(head) > len(q) + 1:
            readings += [f"{q}_{r}" for r in name_readings(head[len(q) :] + sep + tail)]
            break
    return readings


def _technique_for(rule: Rule, category: TypeCategory) -> tuple[str, dict]:
    from masking.techniques import get_technique

    if category in get_technique(rule.technique).categories:
        return rule.technique, dict(rule.params)
    return _FALLBACK.get(category, "null_out"), {}


def detect_column(
    name: str, native_type: str, category: TypeCategory | str, sample: list
) -> Detection | None:
    """Best entity for one column, or None when nothing looks personal."""
    cat = TypeCategory(category)
    col = snake(name)
    negative = bool(NEGATIVE.search(col) or NEGATIVE_ONE_WORD.search(col))
    values = [v for v in sample if v is not None and str(v).strip() != ""]
    texts = [str(v).strip() for v in values]
    best: Detection | None = None
    readings = name_readings(col)
    for rule in RULES:
        named = any(re.search(rule.names, reading) for reading in readings)
        reasons: list[str] = []
        score = 0.0
        if named:
            score += 0.6
            reasons.append(f"column name suggests {rule.entity}")
        if rule.validator and values:
            pool = values if rule.entity == "birth_date" else texts
            ratio = sum(1 for v in pool if rule.validator(v)) / len(pool)
            if ratio >= 0.8:
                score += (
                    0.4 * ratio
                    if named
                    else (0.75 * ratio if rule.value_only and not negative else 0)
                )
                reasons.append(f"{ratio:.0%} of sampled values look like {rule.entity}")
            elif named and ratio < 0.3 and cat is TypeCategory.STRING:
                score -= 0.3  # the name says one thing, the values another
                reasons.append(f"only {ratio:.0%} of sampled values look like {rule.entity}")
        elif named and not rule.validator:
            score += 0.2
        if (
            rule.entity == "birth_date"
            and named
            and cat not in (TypeCategory.DATE, TypeCategory.DATETIME, TypeCategory.STRING)
        ):
            score = 0.0
        if rule.entity == "full_name" and named and col == "name" and not (values and score > 0.6):
            score = 0.0  # a bare "name" is usually a product or category name
        if named and negative and rule.value_only and score < 0.9:
            score = 0.0
        if score >= 0.5 and (best is None or score > best.confidence):
            technique, params = _technique_for(rule, cat)
            best = Detection(
                rule.entity,
                round(min(score, 1.0), 2),
                rule.sensitivity,
                technique,
                params,
                tuple(reasons),
            )
    if best is None and cat is TypeCategory.STRING:
        best = _free_text(texts)
    return best


def _free_text(texts: list[str]) -> Detection | None:
    """Notes and comments: prose that carries e-mails, phones, card numbers or names inside it."""
    from masking.redact import contains_pii

    prose = [t for t in texts if " " in t and len(t) >= 12]
    if len(prose) < max(3, len(texts) // 2):
        return None
    ratio = sum(1 for t in prose if contains_pii(t)) / len(prose)
    if ratio < 0.1:
        return None
    return Detection(
        "free_text_pii",
        round(min(1.0, 0.55 + ratio), 2),
        2,
        "free_text_redact",
        {},
        (f"{ratio:.0%} of sampled texts contain personal data (e-mails, phones, cards, names)",),
    )


def detect_table(
    columns: list[tuple[str, str, TypeCategory | str]], samples: dict[str, list]
) -> dict[str, Detection]:
    out: dict[str, Detection] = {}
    for name, native_type, category in columns:
        d = detect_column(name, native_type, category, samples.get(name, []))
        if d is not None:
            out[name] = d
    return out
