"""CSV that a spreadsheet opens as text: a cell starting with = + - @, a tab or a carriage return
is read as a formula by Excel, LibreOffice and Google Sheets, and exports carry text anyone can
choose (a username typed at a failed login, a table name). OWASP's advice: prefix such cells
with a single quote."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose rows are neutralised cell by cell."""

    def __init__(self, out: Any):
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise_cell(v) for v in row])
