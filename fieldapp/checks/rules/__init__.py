"""Data-check rules over the register, registered by id in ``RULES``.

Each module below registers its rules when imported; a new rule module is
added to the import list here.
"""

from fieldapp.checks.rules import heads, id_numbers  # noqa: F401  (registers their rules)
from fieldapp.checks.rules.base import HIGH, LOW, MEDIUM, RULES, Rule, rule_name

__all__ = ["HIGH", "LOW", "MEDIUM", "RULES", "Rule", "rule_name"]
