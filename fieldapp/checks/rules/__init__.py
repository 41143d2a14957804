"""Data-check rules over the register, registered by id in ``RULES``.

Each module below registers its rules when imported; a new rule module is added
to the import list here. Pages list the rules by family, see ``ordered_rules``.
"""

from fieldapp.checks.rules import (  # noqa: F401  (registers their rules)
    cross_checks,
    education,
    heads,
    id_numbers,
    income,
    labour,
    living,
    risks,
)
from fieldapp.checks.rules.base import (
    FAMILIES,
    HIGH,
    LOW,
    MEDIUM,
    RULES,
    Rule,
    RunContext,
    ordered_rules,
    rule_name,
)

__all__ = ["FAMILIES", "HIGH", "LOW", "MEDIUM", "RULES", "Rule", "RunContext", "ordered_rules", "rule_name"]
