"""Forms of the reports pages: dashboard and map filters, and the export request."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField
from wtforms.validators import DataRequired, Optional

from fieldapp.review.labels import OVERDUE_LABEL, SOURCE_LABELS, STATUS_LABELS

EVERYTHING = [("", _l("All"))]


class DashboardFilterForm(FlaskForm):
    class Meta:
        csrf = False

    county = SelectField(_l("County"), validators=[Optional()])
    round = SelectField(_l("Sampling round"), validators=[Optional()])

    def __init__(self, *args, counties=(), rounds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.county.choices = EVERYTHING + list(counties)
        self.round.choices = EVERYTHING + [(str(round_id), name) for round_id, name in rounds]


class MapFilterForm(FlaskForm):
    class Meta:
        csrf = False

    township = SelectField(_l("Township"), validators=[Optional()])
    round = SelectField(_l("Sampling round"), validators=[Optional()])

    def __init__(self, *args, townships=(), rounds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.township.choices = EVERYTHING + list(townships)
        self.round.choices = EVERYTHING + [(str(round_id), name) for round_id, name in rounds]


class ExportForm(FlaskForm):
    kind = RadioField(_l("Export"), choices=[
        ("ledger", _l("Rectification ledger (one row per finding)")),
        ("visits", _l("Visits with their answers (one row per visit)")),
    ], default="ledger", validators=[DataRequired()])
    format = RadioField(_l("File format"), choices=[
        ("xlsx", _l("Excel workbook (.xlsx)")),
        ("csv", _l("CSV, UTF-8 (.csv; member answers only in the workbook)")),
    ], default="xlsx", validators=[DataRequired()])
    status = SelectField(_l("Finding status"), validators=[Optional()],
                         description=_l("Used by the rectification ledger only."))
    source = SelectField(_l("Source"), validators=[Optional()])
    township = SelectField(_l("Township"), validators=[Optional()])
    round = SelectField(_l("Sampling round"), validators=[Optional()])
    unmasked = BooleanField(_l("Full ID numbers (recorded in the audit log)"))

    def __init__(self, *args, townships=(), rounds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = EVERYTHING + list(STATUS_LABELS.items()) + [("overdue", OVERDUE_LABEL)]
        self.source.choices = EVERYTHING + list(SOURCE_LABELS.items())
        self.township.choices = EVERYTHING + list(townships)
        self.round.choices = EVERYTHING + [(str(round_id), name) for round_id, name in rounds]

    def filters(self) -> dict:
        values = {"status": self.status.data, "source": self.source.data, "township": self.township.data,
                  "round": self.round.data}
        return {name: value for name, value in values.items() if value}
