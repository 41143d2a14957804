from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from fieldapp.sampling.methods import ALLOCATIONS, METHOD_LABELS
from fieldapp.sampling.replacement import NOTE_MAX, REASON_LABELS
from fieldapp.sampling.services import (
    DEFAULT_RESERVES,
    NAME_MAX,
    RESERVES_MAX,
    SEED_MAX,
    STRATUM_LEVEL,
    VISITED_DAYS_MAX,
)

# WTForms' zh catalogue (3.3.2) translates its default NumberRange messages with 大于 and 小于
# ("greater than", "less than"), which contradicts the inclusive bounds, so every range here has its own.
AT_LEAST = _l("Enter a whole number of at least %(min)d.")
FROM_TO = _l("Enter a whole number from %(min)d to %(max)d.")

STRATUM_LEVEL_LABELS = {
    "county": _l("County"),
    "township": _l("Township"),
    "village": _l("Village"),
}


class RoundForm(FlaskForm):
    # The name is checked by the service, so that a preview works before it is filled in.
    name = StringField(_l("Name"), validators=[Length(max=NAME_MAX)],
                       description=_l("For example the month and the counties of the round."))
    divisions = SelectMultipleField(
        _l("Counties and townships"), validators=[DataRequired()],
        description=_l("Choose one or more; a county includes all its townships."),
    )
    size = IntegerField(_l("Number of households"),
                        validators=[InputRequired(), NumberRange(min=1, message=AT_LEAST)])
    seed = IntegerField(
        _l("Random seed"), validators=[InputRequired(), NumberRange(min=0, max=SEED_MAX, message=FROM_TO)],
        description=_l("Keep it with the round: the same seed and data draw the same households."),
    )
    # The fields below keep their defaults when a request leaves them out.
    stratum_level = SelectField(_l("Strata"), choices=list(STRATUM_LEVEL_LABELS.items()),
                                default=STRATUM_LEVEL,
                                description=_l("The sample is shared out over these divisions."))
    allocation = SelectField(_l("Allocation to strata"), choices=list(ALLOCATIONS.items()),
                             default="households")
    minimum = IntegerField(_l("Minimum per stratum"), default=0,
                           validators=[NumberRange(min=0, message=AT_LEAST)],
                           description=_l("A stratum with fewer households gets all of them."))
    method = SelectField(_l("Draw within a stratum"), choices=list(METHOD_LABELS.items()),
                         default="stratified_srs",
                         description=_l("The problem score of a household is the sum of the severities of "
                                        "its open suspected problems."))
    control_percent = IntegerField(
        _l("Control group (%)"), default=0, validators=[NumberRange(min=0, max=100, message=FROM_TO)],
        description=_l("Share of each stratum's sample drawn from households without an open suspected "
                       "problem."),
    )
    reserves = IntegerField(_l("Reserves per stratum"), default=DEFAULT_RESERVES,
                            validators=[NumberRange(min=0, max=RESERVES_MAX, message=FROM_TO)],
                            description=_l("Drawn in order after the sample; the next one replaces a "
                                           "household that cannot be visited."))
    exclude_rounds = SelectMultipleField(_l("Leave out households sampled in these rounds"), coerce=int,
                                         default=[])
    exclude_visited_days = IntegerField(
        _l("Leave out households visited within this many days"),
        validators=[Optional(), NumberRange(min=1, max=VISITED_DAYS_MAX, message=FROM_TO)],
    )
    exclude_types = SelectMultipleField(_l("Leave out these household types"), default=[])
    preview = SubmitField(_l("Preview"))
    create = SubmitField(_l("Create"))


class AssignForm(FlaskForm):
    # Empty takes the household back from its inspector.
    inspector_id = IntegerField(_l("Inspector"), validators=[Optional()])
    page = HiddenField()


class AutoAssignForm(FlaskForm):
    teams = SelectMultipleField(_l("Teams"), coerce=int, default=[],
                                description=_l("Leave empty to share the households among all active "
                                               "inspectors."))
    submit = SubmitField(_l("Assign automatically"))


class MoveForm(FlaskForm):
    from_inspector = SelectField(_l("From inspector"), coerce=int, validators=[InputRequired()])
    to_inspector = SelectField(_l("To inspector"), coerce=int, validators=[InputRequired()])
    village = SelectField(_l("Village"), default="",
                          description=_l("Choose \"All villages\" to move the inspector's households in "
                                         "every village."))
    submit = SubmitField(_l("Move households"))


class ReplaceForm(FlaskForm):
    reason = RadioField(_l("Why can the household not be visited?"), choices=list(REASON_LABELS.items()),
                        validators=[InputRequired()])
    note = TextAreaField(_l("Note"), validators=[Length(max=NOTE_MAX)],
                         description=_l("Required for \"Other reason\". Do not write ID numbers or phone "
                                        "numbers here."))
    submit = SubmitField(_l("Replace with the next reserve"))


class TeamForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=100)])
    division = SelectField(_l("Works in"), validators=[InputRequired()])
    members = SelectMultipleField(_l("Members"), coerce=int, default=[])
    submit = SubmitField(_l("Save"))
