"""Engine errors. Messages carry identifiers (table, column, row key, rule), never data values."""

from __future__ import annotations


class MaskingError(Exception):
    """Base class for every error the engine raises on purpose."""


class TerminalError(MaskingError):
    """Retrying will not help: the plan, the schema or the data is wrong."""


class TransientError(MaskingError):
    """A retry may succeed: a network blip, a deadlock, a lost connection."""


class ParamError(TerminalError):
    """A technique's parameters are invalid; `errors` maps parameter name to message."""

    def __init__(self, technique: str, errors: dict[str, str]):
        self.technique = technique
        self.errors = errors
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items())
        super().__init__(f"invalid parameters for technique '{technique}': {detail}")


class UniquenessError(TerminalError):
    """A unique column cannot receive unique masked values."""

    def __init__(self, column: str, technique: str, reason: str):
        self.column = column
        self.technique = technique
        super().__init__(
            f"column '{column}': technique '{technique}' cannot produce unique values ({reason})"
        )


class ConnectionFailed(MaskingError):
    """A database connection failed. `category` is one of CONNECTION_ERROR_CATEGORIES."""

    def __init__(self, category: str, message: str):
        self.category = category
        self.message = message
        super().__init__(f"{category}: {message}")


CONNECTION_ERROR_CATEGORIES = (
    "unreachable",  # host unreachable, refused or timed out
    "login_failed",
    "database_not_found",
    "driver_missing",
    "tls",
    "permission_denied",
    "unknown",
)


class Cancelled(MaskingError):
    """The run was cancelled between batches; the target transaction was rolled back."""

    def __init__(self, table: str = ""):
        self.table = table
        where = f" while loading table '{table}'" if table else ""
        super().__init__(f"run cancelled{where}; the target was rolled back")


class ValidationFailed(TerminalError):
    """A row broke a rule of the target. `row_key` is an ordinal such as 'row #12 (batch 3)'."""

    def __init__(self, table: str, column: str, row_key: str, rule: str, detail: str = ""):
        self.table = table
        self.column = column
        self.row_key = row_key
        self.rule = rule
        self.detail = detail
        parts = [f"table '{table}'"]
        if column:
            parts.append(f"column '{column}'")
        if row_key:
            parts.append(row_key)
        text = ", ".join(parts) + f": rule '{rule}' failed"
        super().__init__(text + (f" ({detail})" if detail else ""))


class PreflightFailed(TerminalError):
    """The plan cannot run; `problems` lists every problem found (not just the first)."""

    def __init__(self, problems: list):  # list[masking.checks.Problem]
        self.problems = list(problems)
        lines = "; ".join(str(p) for p in self.problems[:20])
        more = f" (+{len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        super().__init__(f"preflight found {len(self.problems)} problem(s): {lines}{more}")
