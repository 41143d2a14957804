"""Forms of the check pages: problem filters, registry upload, ID column choice and rule settings."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from fieldapp.checks.models import STANDARD_KINDS
from fieldapp.checks.registries import EXTENSIONS as REGISTRY_EXTENSIONS
from fieldapp.checks.rules import HIGH, LOW, MEDIUM

CUSTOM_KIND = "custom"

SEVERITY_LABELS = {LOW: _l("Low"), MEDIUM: _l("Medium"), HIGH: _l("High")}

STATUS_LABELS = {
    "open": _l("Open"),
    "resolved_by_data": _l("No longer found"),
    "rule_disabled": _l("Rule switched off"),
}

# The choices of the problem list's status filter (``queries.STATUS_FILTERS``), in that order.
STATUS_FILTER_LABELS = {"open": _l("Open"), "resolved": _l("Resolved or set aside"), "all": _l("All")}


class ProblemFilterForm(FlaskForm):
    """The GET filters of the problem list; no CSRF token because it changes nothing."""

    class Meta:
        csrf = False

    rule = SelectField(_l("Rule"), choices=[], validate_choice=False, validators=[Optional()])
    severity = SelectField(_l("Severity"), choices=[], validate_choice=False, validators=[Optional()])
    township = SelectField(_l("Township"), choices=[], validate_choice=False, validators=[Optional()])
    village = SelectField(_l("Village"), choices=[], validate_choice=False, validators=[Optional()])
    status = SelectField(_l("Status"), choices=[], validate_choice=False, validators=[Optional()])


class RunForm(FlaskForm):
    """The run button: only the CSRF token."""


class RegistryUploadForm(FlaskForm):
    kind = SelectField(
        _l("Kind of registry"),
        choices=[SelectChoice(kind) for kind in STANDARD_KINDS]
        + [SelectChoice(CUSTOM_KIND, _l("Another kind (name it below)"))],
    )
    custom_kind = StringField(
        _l("Name of the other kind"),
        validators=[Optional(), Length(max=40)],
        description=_l("For example 残疾人 or 企业职工养老保险; used only with another kind."),
    )
    data_date = DateField(
        _l("Data as of"),
        validators=[Optional()],
        description=_l("The date the registry's data is as of, from 2000-01-01 to today. Empty: the date "
                       "in the file's title row, else today."),
    )
    file = FileField(
        _l("Registry file"),
        validators=[
            FileRequired(_l("Choose the registry file to import.")),
            FileAllowed([extension.lstrip(".") for extension in REGISTRY_EXTENSIONS],
                        _l("Only .xlsx, .xlsm, .xls, .ods and .csv files can be imported.")),
        ],
        description=_l("One row per person, with the ID number in a column of its own."),
    )
    skip_rejected = BooleanField(
        _l("Import the rows that can be read in full and skip the rejected ones"),
        description=_l("A row is rejected when its ID number is missing or not valid, or when any of its "
                       "cells cannot be read, such as an Excel error like #DIV/0!; such a row is never "
                       "imported in part. Without this, one rejected row stops the whole import."),
    )


class ColumnForm(FlaskForm):
    id_column = SelectField(_l("Column with the ID numbers"), choices=[])
    name_column = SelectField(_l("Column with the names"), choices=[], validators=[Optional()])


class BatchDeleteForm(FlaskForm):
    """The delete button of a registry batch: only the CSRF token."""


def settings_form(thresholds, rules, formdata=None, *, values: dict, enabled: set[str]) -> FlaskForm:
    """Build the settings form: a text field per threshold and a checkbox per rule."""

    class SettingsForm(FlaskForm):
        pass

    for threshold in thresholds:
        setattr(SettingsForm, f"threshold_{threshold.name}",
                StringField(threshold.label, description=threshold.description,
                            validators=[Length(max=40)]))
    for rule in rules:
        setattr(SettingsForm, f"rule_{rule.id}", BooleanField(rule.name, description=rule.description))

    data = {f"threshold_{name}": value for name, value in values.items()}
    data.update({f"rule_{rule.id}": rule.id in enabled for rule in rules})
    return SettingsForm(formdata=formdata, data=data)
