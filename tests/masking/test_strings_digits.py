"""digits_only against a per-value reference: any text, NULLs, empty values, sliced arrays."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from masking.techniques.strings import digits_only


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.text(alphabet=st.sampled_from("0189 +-()aé٣"), max_size=8))
    ),
    start=st.integers(0, 3),
)
def test_keeps_exactly_the_ascii_digits(values, start) -> None:
    arr = pa.array(["x1"] * start + values, pa.string()).slice(start)
    expected = [None if v is None else "".join(c for c in v if "0" <= c <= "9") for v in values]
    assert digits_only(arr).to_pylist() == expected
