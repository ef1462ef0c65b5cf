"""Find PII inside free text and replace it, leaving the surrounding text intact.

Entities: e-mails, payment cards (Luhn-checked), SSNs, SINs (Luhn-checked), phone numbers,
IPv4/IPv6 addresses and person names that follow a cue ("Mr.", "Mrs.", "Dr.", "Name:",
"contact", "signed by"...). Each match becomes either a ``[TYPE]`` tag or a realistic fake
chosen by a keyed hash of the matched text, so the same e-mail is replaced the same way
everywhere.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from masking.techniques.keyed import luhn_valid

EMAIL_RE = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
CARD_RE = r"\b(?:\d[ -]?){12,18}\d\b"
SSN_RE = r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"
SIN_RE = r"\b\d{3}[ -]\d{3}[ -]\d{3}\b"
PHONE_RE = (
    r"(?<![\w-])(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}\b"
    r"|(?<![\w-])(?:\+44 ?|0)7\d{3} ?\d{6}\b|(?<![\w-])(?:\+49 ?|0)1[5-7]\d ?\d{7,8}\b"
)
IPV4_RE = r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"
IPV6_RE = (
    r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b"
    r"|\b(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{0,4}\b"
)
NAME_CUE_RE = (
    r"(?:\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Mme|M|Herr|Frau)\.?\s+"
    r"|\b(?:[Nn]ame|[Cc]ontact|[Cc]ontact person|[Ss]igned by|[Pp]atient|[Cc]ustomer)\s*[:\-]?\s+)"
    r"(?!(?:Mr|Mrs|Ms|Miss|Dr|Prof|Mme|Herr|Frau)\b)(?P<name>[A-ZÀ-Ý][a-zà-ÿ'-]+(?:\s+[A-ZÀ-Ý][a-zà-ÿ'-]+){0,2})"
)

_ORDER = ("EMAIL", "CARD", "SSN", "SIN", "PHONE", "IP", "NAME")
_MASTER = re.compile(
    "|".join(
        [
            f"(?P<EMAIL>{EMAIL_RE})",
            f"(?P<CARD>{CARD_RE})",
            f"(?P<SSN>{SSN_RE})",
            f"(?P<SIN>{SIN_RE})",
            f"(?P<PHONE>{PHONE_RE})",
            f"(?P<IP>{IPV4_RE}|{IPV6_RE})",
            f"(?P<NAMECUE>{NAME_CUE_RE})",
        ]
    )
)

_FIRST = (
    "Alex",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Riley",
    "Jamie",
    "Avery",
    "Quinn",
    "Robin",
)
_LAST = (
    "Martin",
    "Tremblay",
    "Smith",
    "Roy",
    "Brown",
    "Wilson",
    "Gagnon",
    "Taylor",
    "Lee",
    "Walker",
)


def _digits(h: int, n: int) -> str:
    return str(h % 10**n).zfill(n)


def _luhn_complete(body: str) -> str:
    for d in "0123456789":
        if luhn_valid(body + d):
            return body + d
    raise AssertionError("unreachable: one check digit always completes a Luhn number")


def _shape_like(original: str, new_digits: str) -> str:
    it = iter(new_digits)
    return "".join(next(it) if ch.isdigit() else ch for ch in original)


def fake_for(kind: str, text: str, h: int) -> str:
    """A realistic stand-in with the original's shape where it matters."""
    if kind == "EMAIL":
        return f"{_FIRST[h % 10].lower()}.{_LAST[(h // 10) % 10].lower()}{h % 1000}@example.com"
    if kind in ("CARD", "SIN"):
        n = sum(ch.isdigit() for ch in text)
        prefix = "".join(ch for ch in text if ch.isdigit())[:6] if kind == "CARD" else "9"
        body = prefix + _digits(h, n - len(prefix) - 1)
        return _shape_like(text, _luhn_complete(body))
    if kind == "SSN":
        return f"{100 + h % 565:03d}-{1 + (h // 1000) % 99:02d}-{1 + (h // 10**6) % 9999:04d}"
    if kind == "PHONE":
        n = sum(ch.isdigit() for ch in text)
        d = "".join(ch for ch in text if ch.isdigit())
        keep = 2 if d.startswith(("07", "01")) else (1 if n == 11 and d.startswith("1") else 0)
        new = d[:keep] + _digits(h, n - keep)
        if n - keep >= 10 or keep == 1:  # NANP: area and exchange cannot start with 0/1
            new = new[:keep] + str(2 + h % 8) + new[keep + 1 : keep + 3] + "5" + new[keep + 4 :]
        return _shape_like(text, new)
    if kind == "IP":
        if ":" in text:
            return f"fd00::{h & 0xFFFF:x}:{(h >> 16) & 0xFFFF:x}"
        return f"10.{h % 256}.{(h >> 8) % 256}.{1 + (h >> 16) % 254}"
    words = len(text.split())
    first, last = _FIRST[h % 10], _LAST[(h // 10) % 10]
    return first if words == 1 else f"{first} {last}"


def _valid(kind: str, text: str) -> bool:
    if kind == "CARD":
        return luhn_valid(text)
    if kind == "SIN":
        return luhn_valid(text) and text[0] not in "08"
    return True


def contains_pii(text: str) -> bool:
    """True when ``text`` holds at least one span free-text redaction would replace."""
    for m in _MASTER.finditer(text):
        kind = m.lastgroup or ""
        if kind == "NAMECUE" or _valid(kind, m.group(0)) or re.fullmatch(PHONE_RE, m.group(0)):
            return True
    return False


def redact_text(text: str, mode: str, keyed: Callable[[str], int]) -> str:
    """Replace every PII span in ``text``; ``keyed`` maps a matched string to a keyed int."""

    def replace(m: re.Match) -> str:
        kind = m.lastgroup or ""
        whole = m.group(0)
        if kind == "NAMECUE":
            name = m.group("name")
            start = m.start("name") - m.start(0)
            new = "[NAME]" if mode == "tag" else fake_for("NAME", name, keyed(name))
            return whole[:start] + new + whole[start + len(name) :]
        if not _valid(kind, whole):
            # a number that fails its checksum may still be a phone number
            if not re.fullmatch(PHONE_RE, whole):
                return whole
            kind = "PHONE"
        return f"[{kind}]" if mode == "tag" else fake_for(kind, whole, keyed(whole))

    return _MASTER.sub(replace, text)


def keyed_int(secret: bytes) -> Callable[[str], int]:
    key = hashlib.blake2b(b"free_text_redact", key=secret[:64] or b"\0", digest_size=32).digest()

    def f(text: str) -> int:
        return int.from_bytes(
            hashlib.blake2b(text.encode(), key=key, digest_size=8).digest(), "little"
        )

    return f


ENTITY_TAGS = tuple(f"[{k}]" for k in _ORDER)
