"""Registry files that once gave a server error, left their upload on disk, or broke PostgreSQL."""

import zipfile

import pytest
from sqlalchemy import select

from fieldapp.checks import registries
from fieldapp.checks.models import RegistryBatch, RegistryRecord
from fieldapp.errors import FieldError, ImportRejected
from fieldapp.extensions import db
from tests import factories
from tests.checks.builders import write_csv, write_xlsx
from tests.checks.test_registry_input import admin_client, english, stored_files, upload  # noqa: F401
from tests.register import builders

ID = factories.id_number("19800101", 11)


def test_upload_long_csv_cell(app, admin_client, tmp_path, sync_jobs):  # noqa: F811
    """A CSV cell of more than 131,072 characters gave a 500, and the uploaded file stayed on disk."""
    path = write_csv(tmp_path / "long.csv", [["姓名", "证件号码", "备注"], ["张三", ID, "x" * 200_000]])

    response = upload(admin_client, path)

    assert response.status_code == 200
    assert "Line 2 of the CSV file could not be read" in response.get_data(as_text=True)
    assert db.session.scalars(select(RegistryBatch)).all() == []
    assert stored_files(app) == []


def test_upload_file_removed_after_unexpected_error(app, admin_client, tmp_path, sync_jobs,  # noqa: F811
                                                    monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(registries, "file_sha256", broken)
    path = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", ID]])

    with pytest.raises(RuntimeError):
        upload(admin_client, path)

    assert stored_files(app) == []


def test_damaged_sheet_xml_rejected(ctx, tmp_path, english):  # noqa: F811
    """A sheet whose XML is cut short raised python_calamine.XmlError from get_sheet_by_name."""
    path = write_xlsx(tmp_path / "good.xlsx", [["姓名", "证件号码"], ["张三", ID]])
    damaged = str(tmp_path / "damaged.xlsx")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[:-40]
            target.writestr(item, data)

    with pytest.raises(ImportRejected) as raised:
        registries.open_sheet(damaged)

    assert raised.value.message.startswith("The sheet registry could not be read (")


def test_far_cell_rejected(app, ctx, tmp_path, english, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "REGISTER_MAX_ROWS", 20)
    rows = '<row r="1">' + builders.text_cell("A1", "姓名") + builders.text_cell("B1", "证件号码") + "</row>"
    rows += f'<row r="2">{builders.text_cell("A2", "张三")}{builders.text_cell("B2", ID)}</row>'
    rows += f'<row r="3000">{builders.text_cell("B3000", "")}</row>'
    path = builders.write_parts_xlsx(tmp_path / "far.xlsx", [("低保", builders.sheet_xml(rows))])

    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(path, "低保")

    assert "its cells reach row 3000 and column 2 (cell B3000)" in raised.value.message


def test_hidden_sheet_skipped(ctx, tmp_path):
    hidden = factories.id_number("19700101", 13)
    sheets = [(name, builders.sheet_xml(
        '<row r="1">' + builders.text_cell("A1", "姓名") + builders.text_cell("B1", "证件号码") + "</row>"
        f'<row r="2">{builders.text_cell("A2", "张三")}{builders.text_cell("B2", number)}</row>'))
        for name, number in (("旧", hidden), ("低保", ID))]
    path = builders.write_parts_xlsx(tmp_path / "hidden.xlsx", sheets, hidden=("旧",))

    registries.import_registry(path, "低保")

    assert db.session.scalars(select(RegistryRecord.id_number)).all() == [ID]


def test_not_a_number_details_stored(ctx, tmp_path):
    """{"备注":Infinity} is no JSON PostgreSQL accepts."""
    headers = zip("ABCD", ["姓名", "证件号码", "金额", "备注"], strict=True)
    cells = "".join(builders.text_cell(f"{column}1", header) for column, header in headers)
    rows = f'<row r="1">{cells}</row>'
    rows += (f'<row r="2">{builders.text_cell("A2", "张三")}{builders.text_cell("B2", ID)}'
             '<c r="C2"><v>NaN</v></c><c r="D2"><v>-inf</v></c></row>')
    path = builders.write_parts_xlsx(tmp_path / "nan.xlsx", [("低保", builders.sheet_xml(rows))])

    registries.import_registry(path, "低保")
    db.session.flush()

    record = db.session.scalars(select(RegistryRecord)).one()
    assert record.details == {"金额": "nan", "备注": "-inf"}


def test_nul_characters_removed(ctx, tmp_path, english):  # noqa: F811
    path = tmp_path / "nul.csv"
    path.write_bytes(f"姓名,证件号码,备注\n张\x00三,{ID},a\x00b\n".encode())

    batch = registries.import_registry(str(path), "低保")
    db.session.flush()

    record = db.session.scalars(select(RegistryRecord)).one()
    assert (record.name, record.details) == ("张三", {"备注": "ab"})
    assert batch.message.startswith("2 NUL characters (byte 0) were removed from the cells of the file")


def test_long_header_cut_and_chosen(ctx, tmp_path):
    """A header of more than 100 characters chosen as the ID column did not fit RegistryBatch.id_column."""
    long_header = "号码" + "很长" * 80
    path = write_csv(tmp_path / "long.csv", [["户主名", long_header, long_header], ["张三", ID, "x"]])

    with pytest.raises(FieldError):
        registries.import_registry(path, "低保")
    batch = registries.import_registry(path, "低保", id_column=long_header[:100])
    db.session.flush()

    assert batch.headers == ["户主名", long_header[:100], long_header[:96] + " (2)"]
    assert db.session.scalars(select(RegistryRecord.id_number)).all() == [ID]


def test_xlsx_named_csv(ctx, tmp_path, english):  # noqa: F811
    source = write_xlsx(tmp_path / "r.xlsx", [["姓名", "证件号码"], ["张三", ID]])
    path = tmp_path / "r.csv"
    with open(source, "rb") as handle:
        path.write_bytes(handle.read())

    with pytest.raises(ImportRejected) as raised:
        registries.import_registry(str(path), "低保")

    assert "it is an Excel workbook (.xlsx), but its name ends in .csv. Rename it to end in .xlsx" \
        in raised.value.message
