"""Register upload and household search forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional


class UploadForm(FlaskForm):
    file = FileField(
        _l("Register file"),
        validators=[
            FileRequired(_l("Choose the register file to import.")),
            FileAllowed(
                ["xlsx", "xlsm", "xls", "ods", "csv"],
                _l("Only .xlsx, .xlsm, .xls, .ods and .csv files can be imported."),
            ),
        ],
        description=_l("The member export of the monitoring system: one row per member, the household "
                       "columns repeated on each row."),
    )
    skip_rejected = BooleanField(
        _l("Import the valid households and skip rejected rows"),
        description=_l("Without this, one rejected row stops the whole import. With it, the rejected rows "
                       "are listed in a workbook you can download, correct and import again."),
    )


class HouseholdSearchForm(FlaskForm):
    """The GET filters of the household list; no CSRF token because it changes nothing."""

    class Meta:
        csrf = False

    q = StringField(_l("Household number, head or village"),
                    validators=[Optional(), Length(max=100)])
    township = SelectField(_l("Township"), choices=[], validate_choice=False, validators=[Optional()])
