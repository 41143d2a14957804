"""Builders of the records that pages and the API show, through the models and the features' services."""

import hashlib
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
    # Drawn over the households' counties, so that an administrator of them may repeat the draw.
    counties = sorted({household.county_code for household in households})
    sampling_round = SamplingRound(
        name=name, method="stratified_srs", parameters={"divisions": counties}, seed=20240601,
        created_by=creator, population_size=len(households),
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
    """Store a JPEG for ``visit`` through the visits feature's photo processing and storage.

    The visit's photo manifest declares it, as a phone's upload would.
    """
    from fieldapp.visits import photos

    data = image or jpeg_bytes()
    limits = photos.PhotoLimits.from_config(current_app.config)
    processed = photos.process_photo(data, "house.jpg", "photos", limits)
    stored_name, thumbnail_name = photos.write_photo_files(processed)
    photo = photos.new_photo_row(
        processed, client_uuid=str(uuid.uuid4()), question_key=None,
        stored_name=stored_name, thumbnail_name=thumbnail_name,
    )
    visit.photos.append(photo)
    entry = {"client_uuid": photo.client_uuid, "sha256": hashlib.sha256(data).hexdigest(), "field": "photos",
             "index": len(visit.photos) - 1, "question_key": None, "taken_at": None, "latitude": None,
             "longitude": None}
    visit.photo_manifest = [*(visit.photo_manifest or []), entry]
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


def make_corrected_finding(household, user, **links):
    from fieldapp.review import services

    finding = make_finding(household, user, description="危房已加固", **links)
    services.change_status(finding, "corrected", comment="已加固", user=user)
    db.session.flush()
    return finding


def make_check_run(user):
    from fieldapp.checks.models import CheckRun

    run = CheckRun(is_demo=user.is_demo, source="page", status="done", started_by_id=user.id)
    db.session.add(run)
    db.session.flush()
    return run


def make_registry_batch(admin, filename="车辆登记.xlsx"):
    from datetime import date

    from fieldapp.checks.models import RegistryBatch

    batch = RegistryBatch(
        kind="车辆", is_demo=admin.is_demo, data_date=date(2024, 6, 1), filename=filename, sha256="0" * 64,
        imported_by_id=admin.id, status="done", headers=["姓名", "证件号码"], id_column="证件号码",
    )
    db.session.add(batch)
    db.session.flush()
    return batch


def make_export_job(user):
    """Record a finished ledger export of ``user`` with its file on disk."""
    from fieldapp.reports import jobs
    from fieldapp.reports.models import ExportJob

    stored_name = f"{uuid.uuid4().hex}.xlsx"
    with open(os.path.join(jobs.export_folder(), stored_name), "wb") as handle:
        handle.write(b"PK\x03\x04 placeholder workbook")
    job = ExportJob(user_id=user.id, kind="ledger", format="xlsx", status="done", stored_name=stored_name)
    db.session.add(job)
    db.session.flush()
    return job


def make_evidence(finding, user, note=""):
    from fieldapp.review import evidence

    upload = evidence.EvidenceUpload("整改照片.jpg", jpeg_bytes(), note)
    result = evidence.add_evidence(finding, upload, user=user)
    db.session.flush()
    return result.evidence


def make_reinspection_task(finding, inspector, user, instructions=""):
    from fieldapp.review import reinspection

    [task] = reinspection.create_tasks([finding], inspector, instructions=instructions, user=user)
    return task


def make_team(name, division_code, inspectors, admin):
    from fieldapp.divisions.models import Division
    from fieldapp.sampling import teams

    division = db.session.get(Division, division_code)
    return teams.create_team(name, division, [inspector.id for inspector in inspectors], user=admin)
