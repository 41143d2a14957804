""".xls workbooks for the tests: BIFF8 records in a Compound File, written record by record.

No library that writes .xls is installed, and the tests need files no spreadsheet program
writes, such as a DIMENSIONS record claiming billions of rows.
"""

import struct

from fieldapp.register.xls_scan import SIGNATURE

_SECTOR = 512
_FREE, _END_OF_CHAIN, _FAT_SECTOR, _NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def record(kind: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def label(row: int, column: int, text: str) -> bytes:
    """A LABEL record: text in UTF-16."""
    return record(0x0204, struct.pack("<HHHHB", row, column, 15, len(text), 1) + text.encode("utf-16-le"))


def number(row: int, column: int, value: float) -> bytes:
    return record(0x0203, struct.pack("<HHHd", row, column, 15, value))


def dimensions(first_row: int, end_row: int, first_column: int, end_column: int) -> bytes:
    """A DIMENSIONS record: the first row and column, and one past the last."""
    return record(0x0200, struct.pack("<IIHHH", first_row, end_row, first_column, end_column, 0))


def sheet_stream(cells: list[tuple[int, int, object]], claimed: bytes | None = None) -> bytes:
    """Return a worksheet's records: BOF, DIMENSIONS (``claimed``, or the cells' range), the cells, EOF."""
    rows = [row for row, _column, _value in cells] or [0]
    columns = [column for _row, column, _value in cells] or [0]
    body = _bof(0x0010) + (claimed or dimensions(0, max(rows) + 1, 0, max(columns) + 1))
    for row, column, value in cells:
        body += label(row, column, value) if isinstance(value, str) else number(row, column, value)
    return body + record(0x000A)


def workbook_stream(sheets: list[tuple[str, bytes]], *, hidden: tuple[str, ...] = (),
                    globals_extra: bytes = b"") -> bytes:
    """Return the Workbook stream: the globals (with ``globals_extra``), then each (name, sheet stream)."""
    head = _bof(0x0005) + record(0x0042, struct.pack("<H", 1200)) + record(0x00E0, bytes(20)) * 16
    head += globals_extra
    bounds_length = sum(len(_boundsheet(0, name, 0)) for name, _stream in sheets)
    offset = len(head) + bounds_length + 4
    bounds = b""
    for name, stream in sheets:
        bounds += _boundsheet(offset, name, 1 if name in hidden else 0)
        offset += len(stream)
    return head + bounds + record(0x000A) + b"".join(stream for _name, stream in sheets)


def write_xls(path, sheets: list[tuple[str, bytes]], **options) -> str:
    """Write an .xls file of ``sheets``, each a (name, sheet stream) pair; see ``workbook_stream``."""
    with open(path, "wb") as handle:
        handle.write(compound_file(workbook_stream(sheets, **options)))
    return str(path)


def compound_file(stream: bytes, name: str = "Workbook") -> bytes:
    """Wrap one stream in a Compound File (version 3) with regular sectors only.

    A stream shorter than 4,096 bytes is padded with a record after its end, so that it is not
    kept in the mini stream, which this writer does not write.
    """
    if len(stream) < 4096:
        stream += record(0x0000, bytes(4096 - len(stream)))
    stream_sectors = -(-len(stream) // _SECTOR)
    fat_sectors = 1
    while 2 + fat_sectors + stream_sectors > fat_sectors * 128:
        fat_sectors += 1
    if fat_sectors > 109:
        raise ValueError("the stream is too long for a Compound File without DIFAT sectors")
    directory_sector = fat_sectors
    first_data = fat_sectors + 1
    fat = [_FAT_SECTOR] * fat_sectors + [_END_OF_CHAIN]
    fat += [first_data + index + 1 for index in range(stream_sectors - 1)] + [_END_OF_CHAIN]
    fat += [_FREE] * (fat_sectors * 128 - len(fat))
    header = SIGNATURE + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
    header += struct.pack("<9I", 0, fat_sectors, directory_sector, 0, 4096, _END_OF_CHAIN, 0,
                          _END_OF_CHAIN, 0)
    difat = list(range(fat_sectors)) + [_FREE] * (109 - fat_sectors)
    header += struct.pack("<109I", *difat)
    directory = (_entry("Root Entry", 5, 1, _END_OF_CHAIN, 0)
                 + _entry(name, 2, _NO_STREAM, first_data, len(stream)) + _entry("", 0, _NO_STREAM, 0, 0) * 2)
    body = struct.pack(f"<{len(fat)}I", *fat) + directory + stream
    return header + body + bytes(-len(body) % _SECTOR)


def _bof(kind: int) -> bytes:
    return record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 0x0406))


def _boundsheet(offset: int, name: str, state: int) -> bytes:
    return record(0x0085, struct.pack("<IBBBB", offset, state, 0, len(name), 1) + name.encode("utf-16-le"))


def _entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
    raw = (name.encode("utf-16-le") + b"\0\0") if name else b""
    return (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), kind, 1)
            + struct.pack("<III", _NO_STREAM, _NO_STREAM, child) + bytes(36)
            + struct.pack("<IQ", start, size))
