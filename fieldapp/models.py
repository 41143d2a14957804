"""Import every model so that Alembic and ``db.metadata`` see the whole schema."""

from fieldapp.api.models import ApiToken
from fieldapp.audit.models import AuditRecord
from fieldapp.auth.models import User, UserDivision
from fieldapp.checks.models import (
    CheckRuleSetting,
    CheckRun,
    CheckThreshold,
    RegistryBatch,
    RegistryRecord,
    SuspectedProblem,
)
from fieldapp.divisions.models import Division
from fieldapp.register.models import Household, Member, RegisterImport
from fieldapp.reports.models import ExportJob
from fieldapp.review.models import (
    Finding,
    FindingEvent,
    FindingEvidence,
    ReinspectionItem,
    ReinspectionTask,
)
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.visits.models import Photo, Questionnaire, VerificationOutcome, Visit

__all__ = [
    "ApiToken",
    "AuditRecord",
    "CheckRuleSetting",
    "CheckRun",
    "CheckThreshold",
    "Division",
    "ExportJob",
    "Finding",
    "FindingEvent",
    "FindingEvidence",
    "Household",
    "Member",
    "Photo",
    "Questionnaire",
    "RegisterImport",
    "ReinspectionItem",
    "ReinspectionTask",
    "RegistryBatch",
    "RegistryRecord",
    "SampledHousehold",
    "SamplingRound",
    "SuspectedProblem",
    "User",
    "UserDivision",
    "VerificationOutcome",
    "Visit",
]
