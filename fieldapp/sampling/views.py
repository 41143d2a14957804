"""Sampling pages for administrators: the rounds, drawing a new one, and assigning its households."""

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from fieldapp.auth.login import roles_required
from fieldapp.auth.models import User
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from fieldapp.register.models import Household
from fieldapp.sampling import services
from fieldapp.sampling.forms import AssignForm, AutoAssignForm, RoundForm
from fieldapp.sampling.methods import METHOD_LABELS
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.scope import get_scoped_or_404, scoped_select

bp = Blueprint("sampling", __name__, url_prefix="/sampling")

PER_PAGE = 50
DEFAULT_SEED_MAX = 999_999  # a random default short enough to write down


@bp.route("/")
@roles_required("admin")
def rounds():
    stmt = scoped_select(SamplingRound, current_user).order_by(SamplingRound.created_at.desc(),
                                                                SamplingRound.id.desc())
    sampling_rounds = db.session.execute(stmt).scalars().all()
    counts = _household_counts([r.id for r in sampling_rounds])
    return render_template("sampling/rounds.html", rounds=sampling_rounds, counts=counts)


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin")
def new():
    form = RoundForm()
    form.divisions.choices = _division_choices()
    if request.method == "GET":
        form.seed.data = secrets.randbelow(DEFAULT_SEED_MAX) + 1
    allocation = None
    if form.validate_on_submit():
        arguments = (form.divisions.data, form.size.data, form.seed.data)
        try:
            if form.create.data:
                sampling_round = services.create_round(form.name.data, *arguments, user=current_user,
                                                       is_demo=current_user.is_demo)
                db.session.commit()
                flash(_("Round \"%(name)s\" drawn: %(size)d of %(population)d households.",
                        name=sampling_round.name, size=form.size.data,
                        population=sampling_round.population_size), "success")
                return redirect(url_for("sampling.round", round_id=sampling_round.id))
            allocation = services.preview_round(*arguments, user=current_user, is_demo=current_user.is_demo)
        except FieldError as error:
            db.session.rollback()
            _add_error(form, error)
    return render_template("sampling/new.html", form=form, allocation=allocation)


@bp.route("/<int:round_id>", endpoint="round")
@roles_required("admin")
def round_detail(round_id: int):
    sampling_round = get_scoped_or_404(SamplingRound, round_id, current_user)
    in_round = scoped_select(SampledHousehold, current_user).where(
        SampledHousehold.sampling_round_id == round_id
    )
    counted = in_round.subquery()
    total, assigned = db.session.execute(
        select(func.count(), func.count(counted.c.inspector_id)).select_from(counted)
    ).one()
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    sampled = db.session.execute(
        in_round.order_by(SampledHousehold.draw_order)
        .options(selectinload(SampledHousehold.household).selectinload(Household.members),
                 selectinload(SampledHousehold.inspector))
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).scalars().all()

    inspectors = services.assignable_inspectors(sampling_round.is_demo)
    prefixes = services.inspector_prefixes(inspectors)
    rows = [
        (item, [i for i in inspectors if services.covers(prefixes[i.id], item.household.division_code)])
        for item in sampled
    ]
    return render_template(
        "sampling/round.html", round=sampling_round, rows=rows, page=page, pages=pages, total=total,
        assigned=assigned, method_label=METHOD_LABELS.get(sampling_round.method, sampling_round.method),
        assign_form=AssignForm(), auto_form=AutoAssignForm(),
    )


@bp.route("/<int:round_id>/households/<int:sampled_id>/inspector", methods=["POST"])
@roles_required("admin")
def assign(round_id: int, sampled_id: int):
    sampled = get_scoped_or_404(SampledHousehold, sampled_id, current_user)
    if sampled.sampling_round_id != round_id:
        abort(404)
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
        if inspector is None:
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
    if not AutoAssignForm().validate_on_submit():
        flash(_("Nothing was assigned because the form was invalid; try again."), "error")
        return redirect(target)
    inspectors = services.assignable_inspectors(sampling_round.is_demo)
    if not inspectors:
        flash(_("There are no active inspectors to assign households to; create inspector accounts first."),
              "error")
        return redirect(target)
    result = services.auto_assign(sampling_round, inspectors, user=current_user)
    db.session.commit()
    flash(_("%(count)d households assigned automatically.", count=result.assigned), "success")
    if result.villages_without_inspector:
        flash(_("No inspector's divisions include %(count)d villages, so their households are still "
                "unassigned: %(villages)s.", count=len(result.villages_without_inspector),
                villages=", ".join(result.villages_without_inspector)), "warning")
    return redirect(target)


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


def _household_counts(round_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Return (households, assigned) per round, counting only households in the user's scope."""
    if not round_ids:
        return {}
    stmt = scoped_select(
        SampledHousehold, current_user, SampledHousehold.sampling_round_id,
        func.count(SampledHousehold.id), func.count(SampledHousehold.inspector_id),
    ).where(SampledHousehold.sampling_round_id.in_(round_ids)).group_by(SampledHousehold.sampling_round_id)
    return {round_id: (count, assigned) for round_id, count, assigned in db.session.execute(stmt)}


def _add_error(form, error: FieldError) -> None:
    field = getattr(form, error.field, None)
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)
