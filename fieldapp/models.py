"""Import every model so that Alembic and ``db.metadata`` see the whole schema."""

from fieldapp.audit.models import AuditRecord
from fieldapp.auth.models import User, UserDivision
from fieldapp.checks.models import SuspectedProblem
from fieldapp.divisions.models import Division
from fieldapp.register.models import Household, Member, RegisterImport
from fieldapp.review.models import Finding, FindingEvent
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.visits.models import Photo, Questionnaire, VerificationOutcome, Visit

__all__ = [
    "AuditRecord",
    "Division",
    "Finding",
    "FindingEvent",
    "Household",
    "Member",
    "Photo",
    "Questionnaire",
    "RegisterImport",
    "SampledHousehold",
    "SamplingRound",
    "SuspectedProblem",
    "User",
    "UserDivision",
    "VerificationOutcome",
    "Visit",
]
