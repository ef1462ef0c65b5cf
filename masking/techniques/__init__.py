"""Masking techniques: a registry of vectorised column maskers, Django-free.

Usage::

    masker = make_masker("email", {"keep_domain": True}, MaskContext(secret=b"..."))
    masked = masker(pa.array(["ann@corp.example", None]))
"""

from masking.schema import ColumnSpec, TypeCategory
from masking.techniques.masker import ColumnMasker, make_masker, unmask
from masking.techniques.registry import (
    MaskContext,
    Param,
    Technique,
    all_techniques,
    catalogue,
    fits_column,
    get_technique,
    techniques_for,
    validate_params,
)

__all__ = [
    "ColumnMasker",
    "ColumnSpec",
    "MaskContext",
    "Param",
    "Technique",
    "TypeCategory",
    "all_techniques",
    "catalogue",
    "fits_column",
    "get_technique",
    "make_masker",
    "techniques_for",
    "unmask",
    "validate_params",
]
