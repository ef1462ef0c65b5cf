"""Subsetting: copy a part of the source that stays whole.

The subset starts from root rows (a condition and/or a deterministic sample), keeps the parent
of every kept row through every foreign key among the plan's tables (so the target has no
orphans), and follows children of rows reached from a root as each relationship says (all,
none, or a limited number per parent). The closure is computed in the source database, in
temporary key tables on the source connection; no key travels to Python."""

from masking.subset.spec import CHILD_POLICIES, Relationship, Subset, SubsetRoot

__all__ = ["CHILD_POLICIES", "Relationship", "Subset", "SubsetRoot"]
