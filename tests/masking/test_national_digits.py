"""National phone digits: the C pass (_digits.national) against the numpy reference it
replaces, on any text, and the phone technique's outputs the same either way."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masking.schema import ColumnSpec, TypeCategory
from masking.techniques import MaskContext, fake, make_masker

# (width, trunk, prefix) of each locale's national numbers (see fake._NATIONAL)
FORMS = [(10, True, "1"), (11, False, "44"), (12, False, "49")]
PHONE_TEXT = st.text(alphabet="0123456789 +-().x1é\u0663", max_size=20)


def _native(src, width, trunk, prefix):
    if fake._digits is None:
        pytest.skip("masking.techniques._digits was not built (CI builds it)")
    return fake._national_native(src, width, trunk, prefix)


def test_the_c_extension_is_built_where_the_tests_run():
    if os.environ.get("CI") == "true":
        assert fake._digits is not None, "masking.techniques._digits was not built"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), PHONE_TEXT), max_size=40),
    st.sampled_from(FORMS),
    st.sampled_from([pa.string(), pa.large_string()]),
    st.integers(0, 3),
)
def test_c_and_numpy_national_digits_agree(values, form, kind, cut):
    src = pa.array(values, kind).slice(min(cut, len(values)))  # a slice: offsets from its offset
    mat, ok = _native(src, *form)
    ref_mat, ref_ok = fake.national_reference(src, *form)
    assert ok.dtype == bool and ok.tolist() == ref_ok.tolist()
    assert np.array_equal(mat[ok], ref_mat[ref_ok])
    assert not mat[~ok].any()  # rows not kept hold zeros, as the reference's do


@pytest.mark.parametrize(
    ("value", "form", "digits"),
    [
        ("+1 (416) 555-0199", FORMS[0], "4165550199"),  # trunk dropped
        ("(416) 555-0199", FORMS[0], "4165550199"),
        ("1416555019", FORMS[0], "1416555019"),  # ten digits: the 1 is not a trunk
        ("2 416 555 0199", FORMS[0], None),  # eleven digits, no trunk
        ("+44 7911 123456", FORMS[1], "07911123456"),  # country code to 0
        ("07911 123456", FORMS[1], "07911123456"),
        ("4479111234", FORMS[1], None),  # country code, one digit short once replaced
        ("+49 151 23456789", FORMS[2], "015123456789"),
        ("", FORMS[0], None),
        (None, FORMS[0], None),
    ],
)
def test_national_digits_of_known_numbers(value, form, digits):
    mat, ok = _native(pa.array([value], pa.string()), *form)
    assert ok.tolist() == [digits is not None]
    if digits is not None:
        assert mat[0].tobytes().decode() == digits


@pytest.mark.parametrize("locale", ["en_US", "en_CA", "fr_CA", "en_GB", "de_DE"])
def test_the_phone_technique_masks_the_same_without_the_c_pass(monkeypatch, locale):
    values = [
        "(416) 555-0199", "+1 212 555 0100", "+44 7911 123456", "07700 900123",
        "+49 151 23456789", "0151 2345 6789", "n/a", None, "", "555-0199",
    ]  # fmt: skip
    column = ColumnSpec(TypeCategory.STRING, max_length=40)
    ctx = MaskContext(secret=b"k" * 32, locale=locale, column=column)
    src = pa.array(values, pa.string())
    with_c = make_masker("phone", {}, ctx)(src).to_pylist()
    monkeypatch.setattr(fake, "_digits", None)
    assert make_masker("phone", {}, ctx)(src).to_pylist() == with_c
