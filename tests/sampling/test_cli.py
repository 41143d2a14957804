from flask_babel import force_locale
from sqlalchemy import select

from fieldapp.divisions.models import Division
from fieldapp.extensions import db
from fieldapp.sampling.models import SamplingRound
from fieldapp.terminal import display_width
from tests.sampling.conftest import add_problem

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


def test_sample_of_one_household_singular(app, make):
    make.household(make.LAODIAN_VILLAGE, members=1)
    inspector = make.user("inspector", [make.YANGXIN])

    result = app.test_cli_runner().invoke(args=[
        "sample", "--division", make.LAODIAN, "--size", "1", "--seed", "1", "--assign-to", inspector.username,
    ])

    assert result.exit_code == 0, result.output
    assert "1 of 1 household, seed 1." in result.output
    assert "1 eligible household." in result.output
    assert "Assigned 1 household." in result.output


def test_sample_too_large(app, make):
    make.household(make.LAODIAN_VILLAGE, members=1)
    with force_locale("en"):
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


def test_sample_with_options(app, make):
    laodian = [make.household(make.LAODIAN_VILLAGE, members=1) for _ in range(6)]
    for _ in range(4):
        make.household(SHANGDIAN_VILLAGE, members=1, household_type="监测对象")
    for household in laodian[:3]:
        add_problem(household, 2)
    earlier = app.test_cli_runner().invoke(args=["sample", "--divisions", make.LAODIAN, "--size", "1",
                                                 "--seed", "4"])
    assert earlier.exit_code == 0, earlier.output
    first = db.session.scalars(select(SamplingRound)).one()

    result = app.test_cli_runner().invoke(args=[
        "sample", "--divisions", f"{make.LAODIAN},371622101000", "--size", "4", "--seed", "9",
        "--method", "stratified_pps", "--allocation", "problems", "--stratum-level", "village",
        "--minimum", "1", "--control-share", "25", "--reserves", "2", "--exclude-round", str(first.id),
        "--exclude-visited-days", "30", "--exclude-type", "脱贫户",
    ])

    assert result.exit_code == 0, result.output
    assert ("Method: Stratified, probability proportional to the problem score within each stratum; "
            "allocation: In proportion to suspected problems; strata: Village;") in result.output
    second = db.session.scalars(select(SamplingRound).where(SamplingRound.id != first.id)).one()
    assert second.name == "Sample of 4, seed 9"
    parameters = second.parameters
    assert parameters["divisions"] == [make.LAODIAN, "371622101000"]
    assert parameters["minimum"] == 1
    assert parameters["control_percent"] == 25
    assert parameters["reserves"] == 2
    assert parameters["exclusions"] == {"rounds": [first.id], "visited_days": 30,
                                        "household_types": ["脱贫户"]}
    # Every 劳店镇 household is a 脱贫户, so only 商店镇's four 监测对象 households are eligible.
    assert {s.stratum_code for s in second.sampled_households} == {SHANGDIAN_VILLAGE}
    assert len(second.sampled_households) == 4


def test_sample_rejects_unknown_method(app, make):
    make.household(make.LAODIAN_VILLAGE, members=1)
    result = app.test_cli_runner().invoke(args=[
        "sample", "--division", make.LAODIAN, "--size", "1", "--seed", "1", "--method", "cluster",
    ])
    assert result.exit_code == 2
    assert "cluster" in result.output


def test_sample_chinese_by_default(app, make, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh_CN")
    households = [make.household(make.LAODIAN_VILLAGE, members=1) for _ in range(3)]
    add_problem(households[0], 2)
    inspector = make.user("inspector", [make.SHUIWAN])

    result = app.test_cli_runner().invoke(args=[
        "sample", "--division", make.LAODIAN, "--size", "2", "--seed", "3", "--assign-to", inspector.username,
    ])

    assert result.exit_code == 0, result.output
    sampling_round = db.session.scalars(select(SamplingRound)).one()
    assert sampling_round.name == "抽取 2 户（随机种子 3）"
    round_line = f"抽样批次 {sampling_round.id}“抽取 2 户（随机种子 3）”：从 3 户中抽取 2 户，随机种子 3。"
    assert round_line in result.output
    method_line = ("抽样方法：分层抽样，层内简单随机抽样；分配方式：按户数比例分配；"
                   "分层级别：乡（镇）；可抽 3 户。")
    assert method_line in result.output
    header, row = (line for line in result.output.splitlines() if line.startswith(("抽样层", make.LAODIAN)))
    assert header.split() == ["抽样层", "农户", "抽取户数", "备选户数", "疑似问题", "覆盖疑似问题数", "名称"]
    # The names start in the same terminal column as their header, Chinese characters taking two.
    name = sampling_round.parameters["allocation"][0]["name"]
    assert display_width(header[:header.index("名称")]) == display_width(row[:row.index(name)])
    assert "疑似问题覆盖情况：覆盖 " in result.output
    assert "已分配 0 户。" in result.output
    village = db.session.get(Division, make.LAODIAN_VILLAGE).name
    unassigned = ("有 1 个行政村不在所给核查员的管辖范围内，这些村的农户未分配："
                  f"{village}（{make.LAODIAN_VILLAGE}）。")
    assert unassigned in result.output
