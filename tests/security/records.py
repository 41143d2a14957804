"""Builders of problems, rounds, visits, photos, findings and imports, through the models and services."""

import io
import os
import uuid

from flask import current_app
from PIL import Image

from fieldapp.extensions import db
from fieldapp.sampling.models import SampledHousehold, SamplingRound
from fieldapp.visits.models import Photo, Visit


def jpeg_bytes(width=64, height=48, colour=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def make_problem(household, member=None, rule_id="id_check_character", detail="证件号码校验位错误"):
    from fieldapp.checks.models import SuspectedProblem

    problem = SuspectedProblem(
        key=f"{rule_id}:{household.id}:{member.id if member else ''}:{uuid.uuid4().hex[:8]}",
        rule_id=rule_id,
        household=household,
        member=member,
        detail=detail,
    )
    db.session.add(problem)
    db.session.flush()
    return problem


def make_round(name, households, inspector, creator):
    sampling_round = SamplingRound(
        name=name, method="stratified_srs", parameters={}, seed=20240601, created_by=creator,
        population_size=len(households),
    )
    for order, household in enumerate(households):
        sampling_round.sampled_households.append(
            SampledHousehold(
                household=household,
                stratum_code=household.township_code,
                draw_order=order,
                inspector=inspector,
            )
        )
    db.session.add(sampling_round)
    db.session.flush()
    return sampling_round


def make_visit(sampled, inspector, answers=None, latitude=None, longitude=None):
    from fieldapp.visits import questionnaires

    visit = Visit(
        client_uuid=str(uuid.uuid4()),
        content_sha256="0" * 64,
        sampled_household=sampled,
        household=sampled.household,
        inspector=inspector,
        questionnaire=questionnaires.current(),
        answers=answers or {},
        latitude=latitude,
        longitude=longitude,
        accuracy_m=10.0 if latitude is not None else None,
    )
    db.session.add(visit)
    db.session.flush()
    return visit


def make_photo(visit, image: bytes | None = None) -> Photo:
    """Store a JPEG for ``visit`` through the visits feature's photo processing and storage."""
    from fieldapp.visits import photos

    limits = photos.PhotoLimits.from_config(current_app.config)
    processed = photos.process_photo(image or jpeg_bytes(), "house.jpg", "photos", limits)
    stored_name, thumbnail_name = photos.write_photo_files(processed)
    photo = photos.new_photo_row(
        processed, client_uuid=str(uuid.uuid4()), question_key=None,
        stored_name=stored_name, thumbnail_name=thumbnail_name,
    )
    visit.photos.append(photo)
    visit.photos_expected = len(visit.photos)
    db.session.flush()
    return photo


def make_finding(household, user, description="屋顶漏雨，尚未维修", **links):
    from fieldapp.review import services

    return services.open_finding(
        household, source="on_site", category="住房安全", description=description, user=user, **links
    )


def make_register_import(admin):
    """Record an import by ``admin`` with a rejected-rows workbook on disk."""
    from fieldapp.register import jobs
    from fieldapp.register.models import RegisterImport

    report_name = f"{uuid.uuid4().hex}.rejected.xlsx"
    with open(os.path.join(jobs.imports_folder(), report_name), "wb") as handle:
        handle.write(b"PK\x03\x04 placeholder workbook")
    record = RegisterImport(
        filename="register.xlsx", sha256="0" * 64, imported_by_id=admin.id, status="done",
        report_name=report_name, rows_rejected=1,
    )
    db.session.add(record)
    db.session.flush()
    return record
