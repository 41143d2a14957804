from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from fieldapp.sampling.services import NAME_MAX, SEED_MAX


class RoundForm(FlaskForm):
    # The name is checked by the service, so that a preview works before it is filled in.
    name = StringField(_l("Name"), validators=[Length(max=NAME_MAX)],
                       description=_l("For example the month and the counties of the round."))
    divisions = SelectMultipleField(
        _l("Counties and townships"), validators=[DataRequired()],
        description=_l("Choose one or more; a county includes all its townships."),
    )
    size = IntegerField(_l("Number of households"), validators=[InputRequired(), NumberRange(min=1)])
    seed = IntegerField(
        _l("Random seed"), validators=[InputRequired(), NumberRange(min=0, max=SEED_MAX)],
        description=_l("Keep it with the round: the same seed and data draw the same households."),
    )
    preview = SubmitField(_l("Preview"))
    create = SubmitField(_l("Create"))


class AssignForm(FlaskForm):
    # Empty takes the household back from its inspector.
    inspector_id = IntegerField(_l("Inspector"), validators=[Optional()])
    page = HiddenField()


class AutoAssignForm(FlaskForm):
    submit = SubmitField(_l("Assign automatically"))
