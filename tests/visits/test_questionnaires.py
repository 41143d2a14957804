import copy
from datetime import date

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from fieldapp.extensions import db
from fieldapp.visits import questionnaires
from fieldapp.visits.models import Questionnaire, Visit
from fieldapp.visits.questionnaires import DefinitionError, check_definition, validate_answers
from tests.visits.support import HOUSEHOLD_ANSWERS, MEMBER_ANSWERS

TODAY = date(2026, 5, 1)


@pytest.fixture
def definition(ctx):
    return questionnaires.current().definition


@pytest.fixture
def household(make):
    return make.household(members=2)


def typed_answers(definition, household, **overrides):
    """Return valid typed answers for a household of adults, parsed from the form values the tests send."""
    form = MultiDict(HOUSEHOLD_ANSWERS)
    for member in household.members:
        for key, value in MEMBER_ANSWERS.items():
            form[f"member_checks.{member.id}.{key}"] = value
    answers, errors = questionnaires.parse_form(definition, form, household, {"house_photo": 1})
    assert errors == {}
    answers.update(overrides)
    return answers


def test_bundled_definition_is_valid():
    definitions = questionnaires.bundled_definitions()
    assert [(d["code"], d["version"]) for d in definitions] == [("household_visit", 1)]
    keys = [q["key"] for s in definitions[0]["sections"] for q in s["questions"]]
    types = {q["type"] for s in definitions[0]["sections"] for q in s["questions"]}
    assert len(keys) == len(set(keys))
    assert types == set(questionnaires.QUESTION_TYPES)
    assert len(definitions[0]["sections"]) == 14


def test_load_bundled_is_idempotent(ctx):
    assert questionnaires.load_bundled() == []
    assert questionnaires.load_bundled() == []
    count = db.session.scalar(select(func.count()).select_from(Questionnaire))
    assert count == 1
    assert questionnaires.current().version == 1


def test_load_bundled_rejects_changed_release(ctx):
    stored = questionnaires.current()
    changed = copy.deepcopy(stored.definition)
    changed["sections"][0]["questions"][0]["required"] = False
    stored.definition = changed
    db.session.flush()
    with pytest.raises(DefinitionError, match="new version"):
        questionnaires.load_bundled()


def test_check_definition_lists_problems(definition):
    broken = copy.deepcopy(definition)
    broken["sections"][0]["questions"][0]["type"] = "slider"
    broken["sections"][0]["questions"][1]["show_if"] = {"question": "satisfaction", "equals": "x"}
    del broken["sections"][1]["title"]["en"]
    with pytest.raises(DefinitionError) as raised:
        check_definition(broken)
    message = str(raised.value)
    assert "'slider'" in message
    assert "'satisfaction', which is not a question asked before it" in message
    assert "member_checks" in message


def test_valid_answers_pass(definition, household):
    assert validate_answers(definition, typed_answers(definition, household), household, TODAY) == {}


def test_required_answer_missing(definition, household):
    answers = typed_answers(definition, household)
    del answers["food_enough"]
    del answers["house_photo"]
    with force_locale("en"):
        errors = validate_answers(definition, answers, household, TODAY)
    assert set(errors) == {"food_enough", "house_photo"}
    assert "photo" in errors["house_photo"]


def test_show_if_makes_question_required(definition, household):
    answers = typed_answers(definition, household, safety_rating="C")
    del answers["safety_assurance"]
    errors = validate_answers(definition, answers, household, TODAY)
    assert set(errors) == {"unsafe_house_note"}


def test_hidden_answers_ignored_and_dropped(definition, household):
    answers = typed_answers(definition, household, member_list_changes="新增一人", unsafe_house_note="x")
    assert validate_answers(definition, answers, household, TODAY) == {}
    kept = questionnaires.visible_answers(definition, answers, household, TODAY)
    assert "member_list_changes" not in kept
    assert "unsafe_house_note" not in kept
    assert kept["safety_assurance"] == "appraised"


def test_show_if_in_and_text_length(definition, household):
    answers = typed_answers(definition, household, satisfaction="unsure", satisfaction_reason="x" * 1001)
    errors = validate_answers(definition, answers, household, TODAY)
    assert list(errors) == ["satisfaction_reason"]
    assert "1001" in errors["satisfaction_reason"]


@pytest.mark.parametrize("value, ok", [(0, True), (366, True), (367, False), (-1, False), (2.5, False)])
def test_number_range(definition, household, value, ok):
    answers = typed_answers(definition, household, water_interruption_days=value)
    errors = validate_answers(definition, answers, household, TODAY)
    assert ("water_interruption_days" not in errors) is ok


def test_wrong_types_rejected(definition, household):
    answers = typed_answers(definition, household, food_enough="yes", house_structure="glass",
                            help_measures=["产业帮扶", "飞行"], resident_count="2")
    errors = validate_answers(definition, answers, household, TODAY)
    assert set(errors) == {"food_enough", "house_structure", "help_measures", "resident_count"}
    assert "glass" in errors["house_structure"]
    assert "飞行" in errors["help_measures"]


def test_date_after_today_rejected(definition, household):
    answers = typed_answers(definition, household, helper_last_visit="2026-05-02")
    assert "helper_last_visit" in validate_answers(definition, answers, household, TODAY)
    answers["helper_last_visit"] = "2026-05-01"
    assert validate_answers(definition, answers, household, TODAY) == {}
    answers["helper_last_visit"] = "2026-13-01"
    assert "YYYY-MM-DD" in validate_answers(definition, answers, household, TODAY)["helper_last_visit"]


def test_repeat_section_per_member(definition, household):
    first, second = household.members
    answers = typed_answers(definition, household)
    del answers["member_checks"][str(second.id)]["health"]
    answers["member_checks"][str(first.id)]["months_worked"] = 13
    errors = validate_answers(definition, answers, household, TODAY)
    assert errors.keys() == {
        f"member_checks.{second.id}.health",
        f"member_checks.{first.id}.months_worked",
    }


def test_repeat_section_rejects_other_member(definition, household, make):
    stranger = make.household(members=1).members[0]
    answers = typed_answers(definition, household)
    answers["member_checks"][str(stranger.id)] = {"health": "健康"}
    errors = validate_answers(definition, answers, household, TODAY)
    assert f"member_checks.{stranger.id}" in errors


def test_unknown_question_rejected(definition, household):
    answers = typed_answers(definition, household, favourite_colour="blue")
    assert "favourite_colour" in validate_answers(definition, answers, household, TODAY)


def test_school_question_only_for_children(definition, make):
    household = make.household(members=3)
    child = household.members[2]
    child.birth_date = date(2016, 9, 1)
    child.id_number = ""
    answers = typed_answers(definition, household)
    errors = validate_answers(definition, answers, household, TODAY)
    assert list(errors) == [f"education.{child.id}.in_school"]

    answers["education"] = {str(child.id): {"in_school": False}}
    errors = validate_answers(definition, answers, household, TODAY)
    assert list(errors) == [f"education.{child.id}.out_of_school_reason"]

    answers["education"][str(child.id)]["out_of_school_reason"] = "home_schooling"
    assert validate_answers(definition, answers, household, TODAY) == {}


def test_parse_form_reports_bad_values(definition, household):
    form = MultiDict({"resident_count": "三", "food_enough": "maybe", "wage_income": "１２０００，５"})
    answers, errors = questionnaires.parse_form(definition, form, household, {})
    assert set(errors) == {"resident_count", "food_enough"}
    assert answers["wage_income"] == 12000.5


def test_answer_rows_follow_locale(definition, household, ctx):
    typed = typed_answers(definition, household)
    answers = questionnaires.visible_answers(definition, typed, household, TODAY)
    visit = Visit(questionnaire=questionnaires.current(), household=household, answers=answers)
    with force_locale("en"):
        rows = questionnaires.answer_rows(visit)
        row = next(r for r in rows if r["label"] == "Structure of the main house")
        assert row == {"section": "7. Housing safety", "label": "Structure of the main house",
                       "value": "Brick and concrete"}
        head = household.members[0]
        assert any(r["label"] == f"{head.name}: Health" and r["value"] == "Healthy" for r in rows)
    with force_locale("zh_CN"):
        rows = questionnaires.answer_rows(visit)
        assert {"section": "七、住房安全", "label": "房屋结构", "value": "砖混"} in rows
        head = household.members[0]
        assert any(r["label"] == f"{head.name}：健康状况" and r["value"] == "健康" for r in rows)


def test_cli_loads_once(app):
    result = app.test_cli_runner().invoke(args=["load-questionnaires"])
    assert result.exit_code == 0
    assert "already loaded" in result.output
    assert db.session.scalar(select(func.count()).select_from(Questionnaire)) == 1
