"""Registry input: data dates, ID columns, rejected values, unreadable files, formats and stored files."""

import io
import os
from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from fieldapp import idnumbers
from fieldapp.checks import registries
from fieldapp.checks.models import RegistryBatch, RegistryRecord
from fieldapp.checks.settings import today
from fieldapp.errors import FieldError, ImportRejected
from fieldapp.extensions import db
from tests import factories
from tests.checks.builders import vehicle_file, write_csv, write_xlsx
from tests.conftest import login
from tests.register.builders import FormulaError

ID = factories.id_number("19800101", 11)
ID_X = "11010519491231002X"


@pytest.fixture
def english(app):
    with force_locale("en"):
        yield


def stored_records() -> list[RegistryRecord]:
    return list(db.session.scalars(select(RegistryRecord).order_by(RegistryRecord.row_no)))


# -- data dates --------------------------------------------------------------


@pytest.mark.parametrize(("data_date", "words"), [
    (date(2099, 1, 1), "is after today"), (date(1000, 1, 1), "is before 2000-01-01"),
    (date(1999, 12, 31), "is before 2000-01-01"),
])
def test_data_date_out_of_range_rejected(ctx, tmp_path, english, data_date, words):
    path = vehicle_file(tmp_path / "车辆.xlsx", [("张三", ID)])
    with pytest.raises(FieldError) as raised:
        registries.import_registry(path, "车辆", data_date=data_date)
    assert raised.value.field == "data_date"
    assert f"The data date {data_date.isoformat()} {words}" in raised.value.message
    assert "Enter the date the registry's data is as of." in raised.value.message
    assert db.session.scalars(select(RegistryBatch)).all() == []


def test_data_date_today_and_2000_accepted(ctx, tmp_path):
    path = vehicle_file(tmp_path / "车辆.xlsx", [("张三", ID)])
    assert registries.import_registry(path, "车辆", data_date=today()).data_date == today()
    assert registries.import_registry(path, "车辆", data_date=date(2000, 1, 1)).data_date == date(2000, 1, 1)


@pytest.mark.parametrize("title", ["低保名册（数据截至 2062年11月30日）",
                                   "低保名册（数据截至1999年12月31日）"])
def test_title_date_out_of_range_ignored(ctx, tmp_path, title):
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", ID]], title=title)
    assert registries.import_registry(path, "低保").data_date == today()


def test_title_date_tomorrow_ignored(ctx, tmp_path):
    tomorrow = today() + timedelta(days=1)
    title = f"低保名册（数据截至{tomorrow.year}年{tomorrow.month}月{tomorrow.day}日）"
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", ID]], title=title)
    assert registries.import_registry(path, "低保").data_date == today()


def test_cli_future_date_rejected(app, tmp_path):
    path = vehicle_file(tmp_path / "车辆.xlsx", [("张三", ID)])
    result = app.test_cli_runner().invoke(args=["import-registry", "车辆", path, "--date", "2099-01-01"])
    assert result.exit_code == 1
    assert "The data date 2099-01-01 is after today" in result.output
    assert db.session.scalars(select(RegistryBatch)).all() == []


# -- several ID columns ------------------------------------------------------


@pytest.mark.parametrize(("headers", "candidates"), [
    (["姓名", "身份证号码", "身份证号码"], "身份证号码、身份证号码 (2)"),
    (["姓名", "身份证号码", "证件号码"], "身份证号码、证件号码"),
])
def test_two_id_columns_need_a_choice(ctx, tmp_path, english, headers, candidates):
    path = write_xlsx(tmp_path / "r.xlsx", [headers, ["张三", ID, ID_X]])
    with pytest.raises(FieldError) as raised:
        registries.import_registry(path, "低保")
    assert raised.value.field == "id_column"
    assert f"more than one column that may hold the ID numbers: {candidates}." in raised.value.message
    assert stored_records() == []

    chosen = candidates.split("、")[1]
    batch = registries.import_registry(path, "低保", id_column=chosen)
    [record] = stored_records()
    assert (batch.id_column, record.id_number, record.details) == (chosen, ID_X, {headers[1]: ID})


def test_cli_two_id_columns(app, tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "身份证号码", "证件号码"], ["张三", ID, ID_X]])
    result = app.test_cli_runner().invoke(args=["import-registry", "低保", path])
    assert result.exit_code == 1
    assert "身份证号码、证件号码" in result.output
    assert "--id-column" in result.output


def test_repeated_other_header_ignored(ctx, tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码", "备注", "备注"], ["张三", ID, "a", "b"]])
    assert registries.import_registry(path, "低保").id_column == "证件号码"


# -- rows with an unreadable cell ---------------------------------------------


def test_skip_rejected_error_cell_row(ctx, tmp_path):
    rows = [["姓名", "证件号码", "金额"], ["张三", ID, 300], ["李四", ID_X, FormulaError("#DIV/0!")]]
    batch = registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "低保", skip_rejected=True)
    assert [record.name for record in stored_records()] == ["张三"]
    assert [(item["row"], item["column"], item["value"]) for item in batch.rejections] == [
        (3, "金额", "#DIV/0!")]


def test_cli_help_texts(app):
    result = app.test_cli_runner().invoke(args=["import-registry", "--help"])
    text = " ".join(result.output.split())
    assert "any of its cells cannot be read (an Excel error such as #DIV/0!)" in text
    assert "usable ID number" not in text
    assert ".xlsx, .xlsm, .xls, .ods or .csv" in text
    assert "with the latest data date" in text


# -- rejected values as shown ------------------------------------------------


def test_rejected_names_shown_unmasked(ctx, tmp_path, english):
    rows = [["户主", "证件号码"], ["张三", "abc"], ["李四", "3716221980"], ["王五", ID]]
    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "低保")
    assert [item["value"] for item in raised.value.rejections] == ["abc", "**********"]
    assert 'value "abc"' in raised.value.message
    assert "not the ID number column" not in raised.value.message


@pytest.mark.parametrize("value", ["371-622-1980-0101-0011", "３７１６２２１９８０ab", "37162219800101001Y"])
def test_rejected_id_like_values_masked(ctx, tmp_path, value):
    rows = [["姓名", "证件号码"], ["张三", ID], ["李四", value], ["王五", ID_X]]
    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "低保")
    assert raised.value.rejections[0]["value"] == idnumbers.mask(value)


def test_wrong_id_column_hint(ctx, tmp_path, english):
    rows = [["户主", "号码"], ["张三", ID], ["李四", ID_X], ["王五", ID]]
    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "低保", id_column="户主")
    first_line = raised.value.message.split("\n")[0]
    assert "most values in the column 户主 are not ID numbers" in first_line
    assert "Choose the column that holds the ID numbers" in first_line
    assert "--id-column" not in raised.value.message  # the upload page shows it; the command line adds that
    assert 'Row 2, column 户主, value "张三"' in raised.value.message

    with pytest.raises(ImportRejected) as skipped:
        registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "低保", id_column="户主",
                                   skip_rejected=True)
    assert "most values in the column 户主 are not ID numbers" in skipped.value.message


def test_long_rejected_value_shortened(ctx, tmp_path):
    rows = [["姓名", "证件号码"], ["张三", ID], ["李四", "备" * 300], ["王五", ID_X]]
    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "低保")
    assert raised.value.rejections[0]["value"] == "备" * 100 + "…"


# -- unreadable and empty files ----------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02\x03" * 100])
def test_not_a_workbook(ctx, tmp_path, english, content):
    path = tmp_path / "r.xlsx"
    path.write_bytes(content)
    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(str(path), "低保")
    assert "The file could not be read: it is not a valid Excel workbook. It may be empty, damaged, or a " \
           "file of another type renamed to .xlsx." in raised.value.message
    assert "Zip" not in raised.value.message
    assert "EOCD" not in raised.value.message


def test_csv_named_xlsx_told_to_rename(ctx, tmp_path, english):
    path = tmp_path / "r.xlsx"
    path.write_bytes("姓名,证件号码\n张三,110105194912310021\n".encode())
    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(str(path), "低保")
    assert raised.value.message == (
        "The file could not be read: it is a text file, probably CSV, but its name ends in .xlsx. Rename it "
        "to end in .csv, or open it in Excel or WPS and save it as an .xlsx workbook, and import it again.")


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b",,,\n"])
def test_empty_csv(ctx, tmp_path, english, content):
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(str(path), "低保")
    assert raised.value.message.startswith("The file is empty.")


# -- invisible characters in ID cells ------------------------------------------


@pytest.mark.parametrize("mark", ["\u200b", "\ufeff", "\u200c", "\u200d", "\u2060"])
def test_invisible_characters_removed_from_id(ctx, tmp_path, mark):
    rows = [["姓名", "证件号码"], ["张三", ID[:9] + mark + ID[9:] + mark], ["李四", mark + "'" + ID_X]]
    registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "低保")
    assert [record.id_number for record in stored_records()] == [ID, ID_X]


def test_blank_custom_kind(app, english):
    with pytest.raises(FieldError) as raised:
        registries.check_kind("  ", custom=True)
    assert raised.value.message == "Enter the name of the other kind of registry, for example 残疾人."


# -- formats -----------------------------------------------------------------


def test_xlsm_accepted_txt_rejected(app, tmp_path):
    runner = app.test_cli_runner()
    xlsm = write_xlsx(tmp_path / "r.xlsm", [["姓名", "证件号码"], ["张三", ID]])
    assert runner.invoke(args=["import-registry", "低保", xlsm]).exit_code == 0
    txt = write_csv(tmp_path / "r.txt", [["姓名", "证件号码"], ["张三", ID]])
    result = runner.invoke(args=["import-registry", "低保", txt])
    assert result.exit_code == 1
    assert "The file type .txt is not supported; save the registry as .xlsx, .xlsm, .xls, .ods or .csv." \
        in result.output


# -- the web upload ----------------------------------------------------------


def upload(client, path, kind="低保", **fields):
    data = {"kind": kind, "file": (io.BytesIO(open(path, "rb").read()), os.path.basename(path)), **fields}
    return client.post("/checks/registries", data=data, content_type="multipart/form-data")


def stored_files(app) -> list[str]:
    folder = app.config["REGISTRY_IMPORT_FOLDER"]
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


@pytest.fixture
def admin_client(en_client, make):
    login(en_client, make.user("admin", [make.YANGXIN]))
    return en_client


def test_upload_future_date_rejected(app, admin_client, tmp_path, sync_jobs):
    response = upload(admin_client, vehicle_file(tmp_path / "车辆.xlsx", [("张三", ID)]), kind="车辆",
                      data_date="2099-01-01")
    assert response.status_code == 200
    assert "The data date 2099-01-01 is after today" in response.get_data(as_text=True)
    assert db.session.scalars(select(RegistryBatch)).all() == []
    assert stored_files(app) == []


def test_upload_xlsm(admin_client, tmp_path, sync_jobs):
    response = upload(admin_client, write_xlsx(tmp_path / "r.xlsm", [["姓名", "证件号码"], ["张三", ID]]))
    assert response.status_code == 302
    assert db.session.scalars(select(RegistryBatch.status)).one() == "done"


def test_upload_page_labels(admin_client):
    text = admin_client.get("/checks/registries").get_data(as_text=True)
    assert 'accept=".xlsx,.xlsm,.xls,.ods,.csv"' in text
    assert "Import the rows that can be read in full and skip the rejected ones" in text
    assert "such as an Excel error like #DIV/0!" in text


def test_upload_rejected_rows_message_for_the_page(admin_client, tmp_path, sync_jobs):
    response = upload(admin_client, write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", ID],
                                                                      ["李四", "123"]]))
    batch = db.session.scalars(select(RegistryBatch)).one()
    assert batch.status == "rejected"
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "or import with the rejected rows skipped." in page
    assert "--skip-rejected" not in page


def test_upload_two_id_columns(app, admin_client, tmp_path, sync_jobs):
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "身份证号码", "证件号码"], ["张三", ID, ID_X]])
    response = upload(admin_client, path)
    batch = db.session.scalars(select(RegistryBatch)).one()
    assert batch.status == "needs_column"
    assert response.headers["Location"] == f"/checks/registries/{batch.id}/columns"
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "more than one column that may hold the ID numbers: 身份证号码、证件号码" in page
    assert len(stored_files(app)) == 1

    admin_client.post(f"/checks/registries/{batch.id}/columns", data={"id_column": "证件号码",
                                                                      "name_column": "姓名"})
    db.session.refresh(batch)
    assert (batch.status, stored_records()[0].id_number) == ("done", ID_X)


def test_upload_file_deleted_with_batch(app, admin_client, tmp_path, sync_jobs):
    upload(admin_client, write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", ID]]))
    batch = db.session.scalars(select(RegistryBatch)).one()
    assert stored_files(app) == [batch.stored_name]
    admin_client.post(f"/checks/registries/{batch.id}/delete")
    assert stored_files(app) == []


def test_needs_column_file_deleted(app, admin_client, tmp_path, sync_jobs):
    upload(admin_client, write_xlsx(tmp_path / "r.xlsx", [["户名", "号码"], ["张三", ID]]))
    batch = db.session.scalars(select(RegistryBatch)).one()
    assert (batch.status, stored_files(app)) == ("needs_column", [batch.stored_name])
    admin_client.post(f"/checks/registries/{batch.id}/delete")
    assert stored_files(app) == []


def test_rejected_upload_file_deleted(app, admin_client, tmp_path, sync_jobs):
    rows = [["姓名", "证件号码"], ["张三", ID], ["李四", "3716"], ["王五", ID_X]]
    upload(admin_client, write_xlsx(tmp_path / "r.xlsx", rows))
    batch = db.session.scalars(select(RegistryBatch)).one()
    assert batch.status == "rejected"
    assert stored_files(app) == []
    admin_client.post(f"/checks/registries/{batch.id}/delete")
    assert db.session.scalars(select(RegistryBatch)).all() == []


def test_failed_upload_file_deleted(app, admin_client, tmp_path, sync_jobs, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(registries, "insert_columns", broken)
    upload(admin_client, write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", ID]]))
    assert db.session.scalars(select(RegistryBatch.status)).one() == "failed"
    assert stored_files(app) == []


def test_upload_unreadable_workbook(app, admin_client, tmp_path, sync_jobs):
    path = tmp_path / "r.xlsx"
    path.write_bytes(b"")
    response = upload(admin_client, str(path))
    text = response.get_data(as_text=True)
    assert "it is not a valid Excel workbook" in text
    assert "EOCD" not in text
    assert stored_files(app) == []


def test_upload_wrong_column_choose_again(app, admin_client, tmp_path, sync_jobs):
    upload(admin_client, write_xlsx(tmp_path / "r.xlsx", [["户名", "号码"], ["张三", ID], ["李四", ID_X]]))
    batch = db.session.scalars(select(RegistryBatch)).one()
    admin_client.post(f"/checks/registries/{batch.id}/columns", data={"id_column": "户名", "name_column": ""})
    db.session.refresh(batch)
    assert batch.status == "needs_column"
    assert batch.records_count == 0
    page = admin_client.get(f"/checks/registries/{batch.id}").get_data(as_text=True)
    assert "most values in the column 户名 are not ID numbers" in page
    assert "户名「张三」" in page
    assert f"/checks/registries/{batch.id}/columns" in page
    assert len(stored_files(app)) == 1

    choice = admin_client.get(f"/checks/registries/{batch.id}/columns").get_data(as_text=True)
    assert "most values in the column 户名 are not ID numbers" in choice
    assert "--id-column" not in choice
    columns = {"id_column": "号码", "name_column": "户名"}
    admin_client.post(f"/checks/registries/{batch.id}/columns", data=columns)
    db.session.refresh(batch)
    assert batch.status == "done"
    assert batch.records_count == 2
    assert batch.message == ""
    assert batch.rejections == []
    assert batch.rows_rejected == 0


def test_recognised_wrong_column_returned(app, admin_client, tmp_path, sync_jobs):
    # The header names an ID column, but the file has the names there and the numbers in 备注.
    rows = [["身份证号", "备注"], ["张三", ID], ["李四", ID_X], ["王五", ID]]
    upload(admin_client, write_xlsx(tmp_path / "r.xlsx", rows))
    batch = db.session.scalars(select(RegistryBatch)).one()
    assert batch.status == "needs_column"
    assert batch.id_column == "身份证号"
    assert "most values in the column 身份证号 are not ID numbers" in batch.message
    assert batch.rows_rejected == 3

    admin_client.post(f"/checks/registries/{batch.id}/columns", data={"id_column": "备注", "name_column": ""})
    db.session.refresh(batch)
    assert batch.status == "done"
    assert batch.records_count == 3


def test_wrong_column_found_when_skipping_rows(ctx, tmp_path):
    # Nine names and one ID number: skipping the rejected rows would leave one record in use.
    rows = [["姓名", "身份证明号码"], *[[f"某{index}", f"张{index}"] for index in range(9)], ["李四", ID]]
    with pytest.raises(registries.WrongIdColumn):
        registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "车辆", skip_rejected=True)
    assert stored_records() == []


def test_mobile_numbers_mean_wrong_column(ctx, tmp_path):
    phones = ["13912345678", "139 1234 5679", "+8613912345670"]
    rows = [["姓名", "身份证号码"], *[[f"某{index}", phone] for index, phone in enumerate(phones)]]
    with pytest.raises(registries.WrongIdColumn):
        registries.import_registry(write_xlsx(tmp_path / "r.xlsx", rows), "车辆")
