"""Forms of the supervisor pages: the findings filter and the finding status change."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from fieldapp.review.labels import STATUS_LABELS
from fieldapp.review.services import MAX_COMMENT_LENGTH


class FindingFilterForm(FlaskForm):
    """Filters read from the query string; the view sets the township and round choices."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validators=[Optional()])
    township = SelectField(_l("Township"), validators=[Optional()])
    round = SelectField(_l("Sampling round"), validators=[Optional()])

    def __init__(self, *args, townships=(), rounds=(), **kwargs):
        super().__init__(*args, **kwargs)
        everything = [("", _l("All"))]
        self.status.choices = everything + list(STATUS_LABELS.items())
        self.township.choices = everything + [(code, name) for code, name in townships]
        self.round.choices = everything + [(str(round_id), name) for round_id, name in rounds]


class FindingStatusForm(FlaskForm):
    """Change of a finding's status. ``version`` is the finding's version when the page was loaded."""

    status = SelectField(_l("New status"), validators=[DataRequired()])
    comment = TextAreaField(
        _l("Comment"),
        validators=[Length(max=MAX_COMMENT_LENGTH)],
        description=_l("What was done or found, e.g. the evidence seen."),
    )
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired(), NumberRange(min=1)])
    next = HiddenField()

    def set_statuses(self, statuses) -> None:
        """Offer ``statuses``, after an empty first choice so that no status is chosen by accident."""
        self.status.choices = [("", _l("Choose…"))] + [(status, STATUS_LABELS[status]) for status in statuses]

    def set_version(self, version: int) -> None:
        """Base the next submission on ``version``, keeping everything else the user typed."""
        self.version.data = version
        self.version.raw_data = [str(version)]
