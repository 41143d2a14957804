"""Forms of the supervisor pages: findings filter, status change, edits, evidence, comments, bulk actions."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from fieldapp.review.labels import OVERDUE_LABEL, SOURCE_LABELS, STATUS_LABELS
from fieldapp.review.services import (
    MAX_CATEGORY_LENGTH,
    MAX_COMMENT_LENGTH,
    MAX_DESCRIPTION_LENGTH,
    MAX_MEASURES_LENGTH,
    MAX_PERSON_LENGTH,
    MAX_UNIT_LENGTH,
)

# The status filter's value for open findings past their deadline.
OVERDUE = "overdue"


def inspector_choices(inspectors) -> list[tuple[int, str]]:
    """Return select choices for ``inspectors`` after an empty first choice (-1)."""
    return [(-1, _l("Choose…"))] + [(user.id, user.display_name or user.username) for user in inspectors]


class VersionedForm(FlaskForm):
    """A form whose ``version`` is the finding's version when the page was loaded."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired(), NumberRange(min=1)])

    def set_version(self, version: int) -> None:
        """Base the next submission on ``version``, keeping everything else the user typed."""
        self.version.data = version
        self.version.raw_data = [str(version)]


class FindingFilterForm(FlaskForm):
    """Filters read from the query string; the view sets the township and round choices."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validators=[Optional()])
    source = SelectField(_l("Source"), validators=[Optional()])
    township = SelectField(_l("Township"), validators=[Optional()])
    round = SelectField(_l("Sampling round"), validators=[Optional()])

    def __init__(self, *args, townships=(), rounds=(), **kwargs):
        super().__init__(*args, **kwargs)
        everything = [("", _l("All"))]
        self.status.choices = everything + list(STATUS_LABELS.items()) + [(OVERDUE, OVERDUE_LABEL)]
        self.source.choices = everything + list(SOURCE_LABELS.items())
        self.township.choices = everything + [(code, name) for code, name in townships]
        self.round.choices = everything + [(str(round_id), name) for round_id, name in rounds]


class FindingStatusForm(VersionedForm):
    """Change of a finding's status."""

    status = SelectField(_l("New status"), validators=[DataRequired()])
    comment = TextAreaField(
        _l("Comment"),
        validators=[Length(max=MAX_COMMENT_LENGTH)],
        description=_l("What was done or found, e.g. the evidence seen. To close a finding without a "
                       "re-inspection, describe the check you made."),
    )
    next = HiddenField()

    def set_statuses(self, statuses) -> None:
        """Offer ``statuses``, after an empty first choice so that no status is chosen by accident."""
        self.status.choices = [("", _l("Choose…"))] + [(status, STATUS_LABELS[status]) for status in statuses]


class FindingEditForm(VersionedForm):
    """The details of a finding that supervisors keep up to date in the rectification ledger."""

    category = StringField(_l("Category"), validators=[Length(max=MAX_CATEGORY_LENGTH)])
    description = TextAreaField(_l("Description"), validators=[Length(max=MAX_DESCRIPTION_LENGTH)])
    responsible_unit = StringField(
        _l("Responsible unit"), validators=[Length(max=MAX_UNIT_LENGTH)],
        description=_l("The office that must correct the problem, e.g. the township government."),
    )
    responsible_person = StringField(_l("Responsible person"), validators=[Length(max=MAX_PERSON_LENGTH)])
    deadline = DateField(_l("Deadline"), validators=[Optional()])
    measures = TextAreaField(_l("Measures taken"), validators=[Length(max=MAX_MEASURES_LENGTH)])
    comment = TextAreaField(_l("Comment on this change"), validators=[Length(max=MAX_COMMENT_LENGTH)])

    FIELDS = ("category", "description", "responsible_unit", "responsible_person", "deadline", "measures")

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in self.FIELDS}


class EvidenceForm(FlaskForm):
    file = FileField(_l("Photo or document"), validators=[FileRequired(_l("Choose a file to upload."))])
    note = StringField(_l("Note"), validators=[Length(max=500)],
                       description=_l("What the file shows, e.g. the repaired roof."))


class CommentForm(FlaskForm):
    text = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=MAX_COMMENT_LENGTH)])


class ReinspectionRequestForm(FlaskForm):
    inspector = SelectField(_l("Inspector"), coerce=int, validators=[InputRequired()])
    instructions = TextAreaField(
        _l("Instructions"), validators=[Length(max=MAX_COMMENT_LENGTH)],
        description=_l("What the inspector should look at during the visit."),
    )

    def set_inspectors(self, inspectors) -> None:
        self.inspector.choices = inspector_choices(inspectors)


BULK_ACTIONS = {
    "edit": _l("Set responsible unit, person or deadline"),
    "reinspect": _l("Request a re-inspection (corrected findings)"),
}


class BulkForm(FlaskForm):
    """An action on the findings ticked in the list; the ids and versions come from the checkboxes."""

    action = SelectField(_l("Action"), choices=list(BULK_ACTIONS.items()), validators=[DataRequired()])
    responsible_unit = StringField(_l("Responsible unit"), validators=[Length(max=MAX_UNIT_LENGTH)])
    responsible_person = StringField(_l("Responsible person"), validators=[Length(max=MAX_PERSON_LENGTH)])
    deadline = DateField(_l("Deadline"), validators=[Optional()])
    comment = TextAreaField(_l("Comment"), validators=[Length(max=MAX_COMMENT_LENGTH)])
    inspector = SelectField(_l("Inspector"), coerce=int, validators=[Optional()])
    next = HiddenField()

    def set_inspectors(self, inspectors) -> None:
        self.inspector.choices = inspector_choices(inspectors)
