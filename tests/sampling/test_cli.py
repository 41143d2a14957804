from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.sampling.models import SamplingRound

SHANGDIAN_VILLAGE = "371622101210"


def test_sample_prints_allocation(app, make):
    for _ in range(4):
        make.household(make.LAODIAN_VILLAGE, members=1)
    for _ in range(2):
        make.household(SHANGDIAN_VILLAGE, members=1)
    inspector = make.user("inspector", [make.YANGXIN])

    result = app.test_cli_runner().invoke(args=[
        "sample", "--division", make.YANGXIN, "--size", "3", "--seed", "8", "--name", "CLI round",
        "--assign-to", inspector.username,
    ])

    assert result.exit_code == 0, result.output
    assert "3 of 6 households, seed 8" in result.output
    rows = {line.split()[0]: line.split()[1:3] for line in result.output.splitlines() if line[:1].isdigit()}
    assert rows == {"371622101000": ["2", "1"], make.LAODIAN: ["4", "2"]}
    assert "Assigned 3 households." in result.output
    sampling_round = db.session.scalars(select(SamplingRound)).one()
    assert sampling_round.name == "CLI round"
    assert sampling_round.created_by_id is None
    assert {s.inspector_id for s in sampling_round.sampled_households} == {inspector.id}


def test_sample_too_large(app, make):
    make.household(make.LAODIAN_VILLAGE, members=1)
    result = app.test_cli_runner().invoke(args=[
        "sample", "--division", make.LAODIAN, "--size", "2", "--seed", "1", "--name", "X",
    ])
    assert result.exit_code == 1
    assert "fewer than the 2 requested" in result.output
    assert db.session.scalars(select(SamplingRound)).all() == []


def test_sample_unknown_inspector(app, make):
    make.household(make.LAODIAN_VILLAGE, members=1)
    result = app.test_cli_runner().invoke(args=[
        "sample", "--division", make.LAODIAN, "--size", "1", "--seed", "1", "--name", "X",
        "--assign-to", "nobody",
    ])
    assert result.exit_code == 1
    assert "User nobody was not found" in result.output
    assert db.session.scalars(select(SamplingRound)).all() == []
