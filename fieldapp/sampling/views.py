"""Sampling pages: rounds, drawing a new one, its report, assignment, replacement, lists and teams.

Administrators draw rounds and manage teams. Supervisors see the rounds in their divisions,
move households between inspectors, replace households that cannot be visited, and print or
export the lists. Each of these routes checks the record's scope.
"""

import io
import secrets

from babel.lists import format_list
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from fieldapp.audit.services import record
from fieldapp.auth.login import roles_required
from fieldapp.auth.models import User
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.pagination import requested_page
from fieldapp.register.models import Household
from fieldapp.sampling import export, report, services, teams
from fieldapp.sampling.forms import (
    STRATUM_LEVEL_LABELS,
    AssignForm,
    AutoAssignForm,
    MoveForm,
    ReplaceForm,
    RoundForm,
    TeamForm,
)
from fieldapp.sampling.methods import ALLOCATIONS, METHOD_LABELS
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.sampling.population import Exclusions
from fieldapp.sampling.replacement import REASON_LABELS, replace_household, unused_reserves
from fieldapp.scope import get_scoped_or_404, scoped_select
from fieldapp.web import can_unmask

bp = Blueprint("sampling", __name__, url_prefix="/sampling")

PER_PAGE = 50
DEFAULT_SEED_MAX = 999_999  # a random default short enough to write down
FIELD_ROLES = ("admin", "supervisor")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.app_context_processor
def inject_labels():
    return {"reason_labels": REASON_LABELS}


@bp.route("/")
@roles_required(*FIELD_ROLES)
def rounds():
    stmt = scoped_select(SamplingRound, current_user).order_by(SamplingRound.created_at.desc(),
                                                                SamplingRound.id.desc())
    sampling_rounds = db.session.execute(stmt).scalars().all()
    counts = services.round_counts([r.id for r in sampling_rounds], current_user)
    return render_template("sampling/rounds.html", rounds=sampling_rounds, counts=counts)


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin")
def new():
    form = RoundForm()
    _fill_round_choices(form)
    if request.method == "GET":
        form.seed.data = secrets.randbelow(DEFAULT_SEED_MAX) + 1
    allocation = None
    if form.validate_on_submit():
        arguments = (form.divisions.data, form.size.data, form.seed.data)
        keywords = {"user": current_user, "is_demo": current_user.is_demo, "method": form.method.data,
                    "options": _round_options(form)}
        try:
            if form.create.data:
                sampling_round = services.create_round(form.name.data, *arguments, **keywords)
                db.session.commit()
                flash(ngettext("Round \"%(name)s\" drawn: %(size)d of %(num)d household.",
                               "Round \"%(name)s\" drawn: %(size)d of %(num)d households.",
                               sampling_round.population_size, name=sampling_round.name, size=form.size.data),
                      "success")
                return redirect(url_for("sampling.round", round_id=sampling_round.id))
            allocation = [stratum.as_dict() for stratum in services.preview_round(*arguments, **keywords)]
        except FieldError as error:
            db.session.rollback()
            _add_error(form, error)
    return render_template("sampling/new.html", form=form, allocation=allocation)


def _fill_round_choices(form: RoundForm) -> None:
    form.divisions.choices = _division_choices()
    form.exclude_rounds.choices = [
        (r.id, f"{r.name} ({r.created_at:%Y-%m-%d})")
        for r in services.excludable_rounds(current_user, current_user.is_demo)
    ]
    form.exclude_types.choices = [(value, value)
                                  for value in services.household_types(current_user, current_user.is_demo)]


def _round_options(form: RoundForm) -> services.RoundOptions:
    return services.RoundOptions(
        stratum_level=form.stratum_level.data,
        allocation=form.allocation.data,
        minimum=form.minimum.data,
        control_percent=form.control_percent.data,
        reserves=form.reserves.data,
        exclusions=Exclusions(
            round_ids=tuple(form.exclude_rounds.data or ()),
            visited_days=form.exclude_visited_days.data,
            household_types=tuple(form.exclude_types.data or ()),
        ),
    )


@bp.route("/<int:round_id>", endpoint="round")
@roles_required(*FIELD_ROLES)
def round_detail(round_id: int):
    sampling_round = get_scoped_or_404(SamplingRound, round_id, current_user)
    in_round = scoped_select(SampledHousehold, current_user).where(
        SampledHousehold.sampling_round_id == round_id
    )
    counted = in_round.where(SampledHousehold.status == "active").subquery()
    active, assigned = db.session.execute(
        select(func.count(), func.count(counted.c.inspector_id)).select_from(counted)
    ).one()
    total = db.session.execute(select(func.count()).select_from(in_round.subquery())).scalar_one()
    pages = max(1, -(-total // PER_PAGE))
    page = min(requested_page(), pages)
    sampled = db.session.execute(
        in_round.order_by(SampledHousehold.draw_order)
        .options(selectinload(SampledHousehold.household).selectinload(Household.members),
                 selectinload(SampledHousehold.inspector), selectinload(SampledHousehold.replaces),
                 selectinload(SampledHousehold.replaced_by), selectinload(SampledHousehold.team))
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).scalars().all()

    inspectors = services.assignable_inspectors(sampling_round.is_demo, current_user)
    prefixes = services.inspector_prefixes(inspectors)
    rows = [
        (item, [i for i in inspectors if services.covers(prefixes[i.id], item.household.division_code)])
        for item in sampled
    ]
    auto_form = AutoAssignForm()
    auto_form.teams.choices = [(team.id, team.name) for team in teams.teams_for(current_user)]
    move_form = MoveForm()
    _fill_move_choices(move_form, sampling_round, inspectors)
    figures = report.round_figures(sampling_round, current_user)
    return render_template(
        "sampling/round.html", round=sampling_round, rows=rows, page=page, pages=pages, total=total,
        active=active, assigned=assigned, figures=figures, coverage=figures.coverage,
        chart=report.coverage_chart(figures, _("All strata")),
        can_verify=current_user.role == "admin" and services.covers_round(sampling_round, current_user),
        reserves_left=unused_reserves(sampling_round.id, current_user), labels=_round_labels(sampling_round),
        assign_form=AssignForm(), auto_form=auto_form, move_form=move_form,
    )


def _round_labels(sampling_round: SamplingRound) -> dict:
    options = services.round_options(sampling_round)
    # An excluded round outside the user's scope is not named, because its page returns 404 to the user.
    excluded = options.exclusions.round_ids
    visible = set()
    if excluded:
        visible = {r.id for r in services.excludable_rounds(current_user, sampling_round.is_demo)}
    return {
        "method": METHOD_LABELS.get(sampling_round.method, sampling_round.method),
        "stratum_level": STRATUM_LEVEL_LABELS.get(options.stratum_level, options.stratum_level),
        "allocation": ALLOCATIONS.get(options.allocation, options.allocation),
        "options": options,
        "excluded_rounds": [round_id for round_id in excluded if round_id in visible],
        "has_hidden_excluded_rounds": any(round_id not in visible for round_id in excluded),
    }


@bp.route("/<int:round_id>/verify")
@roles_required("admin")
def verify(round_id: int):
    sampling_round = get_scoped_or_404(SamplingRound, round_id, current_user)
    try:
        result = services.verify_round(sampling_round, user=current_user)
    except FieldError as error:
        flash(error.message, "error")
        return redirect(url_for("sampling.round", round_id=round_id))
    return render_template("sampling/verify.html", round=sampling_round, result=result)


# -- assignment ----------------------------------------------------------------------


@bp.route("/<int:round_id>/households/<int:sampled_id>/inspector", methods=["POST"])
@roles_required(*FIELD_ROLES)
def assign(round_id: int, sampled_id: int):
    sampled = _sampled_in_round_or_404(round_id, sampled_id)
    form = AssignForm()
    page = request.form.get("page", 1, type=int)
    target = url_for("sampling.round", round_id=round_id, page=page, _anchor=f"household-{sampled.id}")
    if not form.validate_on_submit():
        flash(_("The inspector was not changed because the form was invalid; choose an inspector and "
                "try again."), "error")
        return redirect(target)

    inspector = None
    if form.inspector_id.data is not None:
        inspector = db.session.get(User, form.inspector_id.data)
        # A user outside the current user's divisions is reported as not found, so that no name is shown.
        if inspector is None or not services.shares_divisions(inspector, current_user):
            flash(_("Inspector %(id)d was not found; choose an inspector from the list.",
                    id=form.inspector_id.data), "error")
            return redirect(target)
    try:
        services.assign(sampled, inspector, user=current_user)
    except FieldError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(target)
    db.session.commit()
    if inspector is None:
        flash(_("Household %(number)d is no longer assigned.", number=sampled.draw_order), "success")
    else:
        flash(_("Household %(number)d assigned to %(inspector)s.", number=sampled.draw_order,
                inspector=inspector.display_name or inspector.username), "success")
    return redirect(target)


@bp.route("/<int:round_id>/auto-assign", methods=["POST"])
@roles_required("admin")
def auto_assign(round_id: int):
    sampling_round = get_scoped_or_404(SamplingRound, round_id, current_user)
    target = url_for("sampling.round", round_id=round_id)
    form = AutoAssignForm()
    visible_teams = {team.id: team for team in teams.teams_for(current_user)}
    form.teams.choices = [(team_id, team.name) for team_id, team in visible_teams.items()]
    if not form.validate_on_submit():
        flash(_("Nothing was assigned because the form was invalid; try again."), "error")
        return redirect(target)
    try:
        if form.teams.data:
            result = services.auto_assign_teams(sampling_round, [visible_teams[i] for i in form.teams.data],
                                                user=current_user)
        else:
            inspectors = services.assignable_inspectors(sampling_round.is_demo)
            if not inspectors:
                flash(_("There are no active inspectors to assign households to; create inspector accounts "
                        "first."), "error")
                return redirect(target)
            result = services.auto_assign(sampling_round, inspectors, user=current_user)
    except FieldError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(target)
    db.session.commit()
    flash(ngettext("%(num)d household assigned automatically.", "%(num)d households assigned automatically.",
                   result.assigned), "success")
    if result.villages_without_inspector:
        flash(ngettext("No inspector's divisions include %(num)d village, so its households are still "
                       "unassigned: %(villages)s.",
                       "No inspector's divisions include %(num)d villages, so their households are still "
                       "unassigned: %(villages)s.", len(result.villages_without_inspector),
                       villages=", ".join(result.villages_without_inspector)), "warning")
    return redirect(target)


@bp.route("/<int:round_id>/move", methods=["POST"])
@roles_required(*FIELD_ROLES)
def move(round_id: int):
    sampling_round = get_scoped_or_404(SamplingRound, round_id, current_user)
    target = url_for("sampling.round", round_id=round_id, _anchor="move")
    form = MoveForm()
    inspectors = services.assignable_inspectors(sampling_round.is_demo, current_user)
    _fill_move_choices(form, sampling_round, inspectors)
    if not form.validate_on_submit():
        flash(_("Nothing was moved because the form was invalid; choose two inspectors and try again."),
              "error")
        return redirect(target)
    try:
        result = services.move_households(sampling_round, db.session.get(User, form.from_inspector.data),
                                          db.session.get(User, form.to_inspector.data), user=current_user,
                                          village=form.village.data or None)
    except FieldError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(target)
    db.session.commit()
    flash(ngettext("%(num)d household moved.", "%(num)d households moved.", result.moved), "success")
    # One sentence per count, so that each noun agrees with its own count.
    stayed = []
    if result.skipped_visited:
        stayed.append(ngettext("%(num)d household was already visited, so it stayed with the first "
                               "inspector.",
                               "%(num)d households were already visited, so they stayed with the first "
                               "inspector.", result.skipped_visited))
    if result.skipped_outside:
        stayed.append(ngettext("%(num)d household is in a village outside the second inspector's "
                               "divisions, so it stayed with the first inspector.",
                               "%(num)d households are in villages outside the second inspector's "
                               "divisions, so they stayed with the first inspector.", result.skipped_outside))
    if stayed:
        flash("\n".join(stayed), "warning")
    return redirect(target)


def _fill_move_choices(form: MoveForm, sampling_round: SamplingRound, inspectors: list[User]) -> None:
    """Fill the choices. From: the inspectors holding the round's households in scope, deactivated ones
    included. To: ``inspectors``.
    """
    form.from_inspector.choices = [(i.id, i.display_name or i.username)
                                   for i in services.round_inspectors(sampling_round, current_user)]
    form.to_inspector.choices = [(i.id, i.display_name or i.username) for i in inspectors]
    form.village.choices = [("", _("All villages"))] + [
        (code, _("%(name)s (%(code)s)", name=name, code=code))
        for code, name in services.round_villages(sampling_round, current_user)
    ]


# -- replacement ---------------------------------------------------------------------


@bp.route("/<int:round_id>/households/<int:sampled_id>/replace", methods=["GET", "POST"])
@roles_required(*FIELD_ROLES)
def replace(round_id: int, sampled_id: int):
    sampled = _sampled_in_round_or_404(round_id, sampled_id)
    form = ReplaceForm()
    if form.validate_on_submit():
        try:
            result = replace_household(sampled, form.reason.data, form.note.data, user=current_user)
        except FieldError as error:
            db.session.rollback()
            _add_error(form, error)
        else:
            db.session.commit()
            if result.replacement is None:
                flash(_("Household %(number)d is recorded as not visitable. Its stratum has no reserve left, "
                        "so the round has one household fewer.", number=sampled.draw_order), "warning")
            else:
                flash(_("Household %(number)d is recorded as not visitable and reserve household %(reserve)d "
                        "takes its place.", number=sampled.draw_order,
                        reserve=result.replacement.draw_order), "success")
            anchor = f"household-{result.replacement.id if result.replacement else sampled.id}"
            return redirect(url_for("sampling.round", round_id=round_id, _anchor=anchor))
    return render_template("sampling/replace.html", sampled=sampled, form=form,
                           reserves_left=unused_reserves(round_id, current_user).get(sampled.stratum_code, 0))


# -- lists -----------------------------------------------------------------------------


@bp.route("/<int:round_id>/print")
@roles_required(*FIELD_ROLES)
def print_list(round_id: int):
    sampling_round = get_scoped_or_404(SamplingRound, round_id, current_user)
    choice = request.args.get("inspector", "")
    village = request.args.get("village", "").strip() or None
    inspector_id = int(choice) if choice.isdigit() else None
    rows = report.list_rows(sampling_round, current_user, inspector_id=inspector_id, village=village,
                            unassigned=choice == "none")
    return render_template("sampling/print.html", round=sampling_round, groups=report.list_groups(rows),
                           inspectors=services.round_inspectors(sampling_round, current_user),
                           villages=services.round_villages(sampling_round, current_user),
                           choice=choice, village=village or "")


@bp.route("/<int:round_id>/sample-list.xlsx")
@roles_required(*FIELD_ROLES)
def export_list(round_id: int):
    sampling_round = get_scoped_or_404(SamplingRound, round_id, current_user)
    unmasked = request.args.get("ids") == "full"
    if unmasked and not can_unmask(current_user):
        abort(404)
    rows = report.list_rows(sampling_round, current_user)
    strata = report.round_figures(sampling_round, current_user).strata
    content = export.write_sample_list(rows, strata, unmasked=unmasked)
    record("sampling.export", sampling_round, user=current_user, rows=len(rows), unmasked=unmasked)
    db.session.commit()
    response = send_file(io.BytesIO(content), mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=_("Sample households") + f" {sampling_round.id}.xlsx")
    response.headers["Cache-Control"] = "no-store"  # the list contains personal data
    return response


# -- teams -----------------------------------------------------------------------------


@bp.route("/teams")
@roles_required("admin")
def team_list():
    visible = teams.teams_for(current_user)
    # Joined as the locale joins a list: "张三、李四和王五" in Chinese, "A, B, and C" in English.
    member_names = {
        team.id: format_list([member.user.display_name or member.user.username for member in team.members],
                             locale=get_locale())
        for team in visible if team.members
    }
    return render_template("sampling/teams.html", teams=visible, member_names=member_names)


@bp.route("/teams/new", methods=["GET", "POST"], defaults={"team_id": None})
@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@roles_required("admin")
def team_edit(team_id: int | None):
    team = None
    if team_id is not None:
        team = teams.get_team_or_none(team_id, current_user)
        if team is None:
            abort(404)
    form = TeamForm()
    if team is None:
        divisions = {division.code: division for division in services.sampling_divisions(current_user)}
        division = divisions.get(form.division.data or request.args.get("division", ""))
        form.division.choices = [(code, label) for code, label in _division_choices()]
    else:
        division = team.division
        form.division.choices = [(team.division_code, team.division.name)]
    candidates = teams.candidates(division, current_user.is_demo) if division else []
    form.members.choices = [(i.id, i.display_name or i.username) for i in candidates]
    if request.method == "GET":
        form.division.data = division.code if division else None
        if team is not None:
            form.name.data = team.name
            form.members.data = [member.user_id for member in team.members]

    if form.validate_on_submit():
        try:
            if team is None:
                team = teams.create_team(form.name.data, division, form.members.data, user=current_user)
            else:
                teams.update_team(team, form.name.data, form.members.data, user=current_user)
        except FieldError as error:
            db.session.rollback()
            _add_error(form, error)
        else:
            db.session.commit()
            flash(ngettext("Team %(name)s saved with %(num)d member.",
                           "Team %(name)s saved with %(num)d members.", len(team.members), name=team.name),
                  "success")
            return redirect(url_for("sampling.team_list"))
    return render_template("sampling/team.html", form=form, team=team, division=division)


# -- helpers -----------------------------------------------------------------------------


def _sampled_in_round_or_404(round_id: int, sampled_id: int) -> SampledHousehold:
    sampled = get_scoped_or_404(SampledHousehold, sampled_id, current_user)
    if sampled.sampling_round_id != round_id:
        abort(404)
    return sampled


def _division_choices() -> list[tuple[str, str]]:
    """Counties and townships the user may sample, a township labelled with its county."""
    divisions = services.sampling_divisions(current_user)
    county_names = {d.code: d.name for d in divisions if d.level == "county"}
    choices = []
    for division in divisions:
        label = division.name
        if division.level == "township" and division.parent_code in county_names:
            label = f"{county_names[division.parent_code]} / {division.name}"
        choices.append((division.code, label))
    return choices


def _add_error(form, error: FieldError) -> None:
    field = getattr(form, error.field, None)
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)
