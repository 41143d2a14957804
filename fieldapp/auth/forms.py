"""Login and user administration forms. The forms check shape; the services check meaning."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

ROLE_CHOICES = [
    SelectChoice("inspector", _l("Inspector")),
    SelectChoice("supervisor", _l("Supervisor")),
    SelectChoice("admin", _l("Administrator")),
]
ROLE_LABELS = {choice.value: choice.label for choice in ROLE_CHOICES}

# Letters (Chinese included), digits, dot, hyphen and underscore.
USERNAME_PATTERN = r"^[\w.-]+$"


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Stay logged in on this device"))


def _password_fields():
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("At least 8 characters."),
    )
    confirmation = PasswordField(
        _l("Repeat the password"),
        validators=[
            DataRequired(),
            EqualTo("password", message=_l("The two passwords differ; type the same password twice.")),
        ],
    )
    return password, confirmation


class UserProfileForm(FlaskForm):
    """Fields an administrator sets when creating and when editing a user.

    ``divisions.choices`` is set by the view to the divisions the administrator may give.
    """

    display_name = StringField(
        _l("Display name"),
        validators=[Optional(), Length(max=100)],
        description=_l("Shown in the pages; the user name is used when this is empty."),
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    divisions = SelectMultipleField(
        _l("Divisions"),
        validators=[DataRequired(message=_l("Choose at least one county or township."))],
        description=_l(
            "The user sees households in these divisions only. Hold Ctrl (⌘ on a Mac) to choose several."
        ),
    )


class UserCreateForm(UserProfileForm):
    username = StringField(
        _l("User name"),
        validators=[
            DataRequired(),
            Length(max=64),
            Regexp(USERNAME_PATTERN, message=_l("Use letters, digits, dots, hyphens and underscores only.")),
        ],
    )
    password, password_confirmation = _password_fields()


class UserEditForm(UserProfileForm):
    is_active = BooleanField(_l("Active (may log in)"))


class PasswordResetForm(FlaskForm):
    password, password_confirmation = _password_fields()
