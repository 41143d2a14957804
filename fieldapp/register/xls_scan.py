"""Finding the size of each sheet of an .xls workbook from its records, before python-calamine reads it.

An .xls file is a Compound File (MS-CFB) whose "Workbook" stream ("Book" before Excel 97) contains
BIFF records. python-calamine 0.9.1 reads every sheet when it opens the file, and it sizes each
sheet's grid from the cell records. It also reserves room for the used range that a DIMENSIONS
record claims: a file of 4 KB that claims 4 billion rows, or one cell in row 65536 and column
65536, aborted the process. This module reads the Compound File's allocation tables, the record
headers of the workbook stream and the row and column of each cell record, and nothing else.
"""

import mmap
import struct
from dataclasses import dataclass

from fieldapp.register.sheet_size import SheetSize

SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
END_OF_CHAIN = 0xFFFFFFFE
_HEADER_BYTES = 512
_DIRECTORY_ENTRY_BYTES = 128
_STREAM_ENTRY, _ROOT_ENTRY = 2, 5

# BIFF record types.
_EOF, _BOF, _BOUNDSHEET, _SST, _CONTINUE, _DIMENSIONS = 0x000A, 0x0809, 0x0085, 0x00FC, 0x003C, 0x0200
_MULRK = 0x00BD
# Cell records that calamine 0.37 reads, each starting with its row and column (16 bits each).
_CELL_RECORDS = frozenset({0x0006, 0x0203, 0x0204, 0x0205, 0x027E, 0x00FD})


class DamagedFile(ValueError):
    """The file is not a Compound File, or its structure points outside itself."""


@dataclass(frozen=True)
class _Sheet:
    name: str
    offset: int  # where the sheet's BOF record starts in the workbook stream


def stream_names(path: str) -> list[str]:
    """Return the names in a Compound File's directory, for telling an .xls from other Office files."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return [name for name, _kind, _start, _size in _CompoundFile(data).entries]


def sheet_sizes(path: str) -> list[SheetSize]:
    """Return the size of every sheet of the .xls file at ``path``, as calamine would load it.

    A sheet's size covers both its cells and the used range its DIMENSIONS record claims, counted
    the way calamine counts it (with 32-bit arithmetic that wraps). Raises ``DamagedFile`` for a
    file whose structure is broken, including a shared string table that claims more strings than
    its records can contain.
    """
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        compound = _CompoundFile(data)
        stream = compound.stream("Workbook") or compound.stream("Book")
    if stream is None:
        raise DamagedFile("the file contains no workbook stream")
    return [_sheet_size(stream, sheet) for sheet in _sheets(stream)]


def _sheets(stream: bytes) -> list[_Sheet]:
    """Read the workbook globals up to their EOF record: the sheets, and a check of the shared strings."""
    sheets = []
    is_biff8 = True
    for kind, start, length in _records(stream, 0):
        data = stream[start:start + length]
        if kind == _EOF:
            break
        if kind == _BOF and length >= 2:
            is_biff8 = struct.unpack_from("<H", data)[0] == 0x0600
        elif kind == _BOUNDSHEET and length >= 7:
            offset = struct.unpack_from("<I", data)[0]
            if offset >= len(stream):
                raise DamagedFile(f"a sheet starts at byte {offset}, after the end of the workbook stream")
            sheets.append(_Sheet(_sheet_name(data, is_biff8), offset))
        elif kind == _SST and length >= 8:
            _check_shared_strings(stream, start, length)
    return sheets


def _sheet_name(data: bytes, is_biff8: bool) -> str:
    count = data[6]
    if is_biff8 and len(data) >= 8:
        text = data[8:]
        return (text[:2 * count].decode("utf-16-le", "replace") if data[7] & 1
                else text[:count].decode("latin-1"))
    return data[7:7 + count].decode("gbk", "replace")


def _check_shared_strings(stream: bytes, start: int, length: int) -> None:
    """Reject a shared string table that claims more strings than its record and CONTINUE records contain.

    calamine reserves room for the claimed count before it reads a string. Each string takes at
    least 3 bytes.
    """
    unique = struct.unpack_from("<i", stream, start + 4)[0]
    available = length - 8
    for kind, _start, continued in _records(stream, start + length):
        if kind != _CONTINUE:
            break
        available += continued
    if not 0 <= unique <= available // 3:
        raise DamagedFile(f"the shared string table claims {unique} strings in {available} bytes")


def _sheet_size(stream: bytes, sheet: _Sheet) -> SheetSize:
    rows = columns = 0
    claimed_rows = claimed_columns = 0
    for kind, start, length in _records(stream, sheet.offset):
        if kind in _CELL_RECORDS and length >= 4:
            row, column = struct.unpack_from("<HH", stream, start)
            rows, columns = max(rows, row + 1), max(columns, column + 1)
        elif kind == _MULRK and length >= 6:
            row, first = struct.unpack_from("<HH", stream, start)
            last = struct.unpack_from("<H", stream, start + length - 2)[0]
            rows, columns = max(rows, row + 1), max(columns, first + 1, last + 1)
        elif kind == _DIMENSIONS:
            claimed_rows, claimed_columns = _claimed_range(stream[start:start + length])
        elif kind == _EOF:
            break
    return SheetSize(sheet.name, max(rows, claimed_rows), max(columns, claimed_columns))


def _claimed_range(data: bytes) -> tuple[int, int]:
    """Return the rows and columns for which calamine 0.37 reserves room after a DIMENSIONS record.

    The record gives the first row and column and one past the last. calamine computes
    ``last - first + 1`` in 32 bits, so a first row after the last wraps round to 4 billion rows.
    """
    if len(data) >= 14:
        first_row, end_row, first_column, end_column = struct.unpack_from("<IIHH", data)
    elif len(data) >= 10:
        first_row, end_row, first_column, end_column = struct.unpack_from("<HHHH", data)
    else:
        return 0, 0
    if end_row < 1 or end_column < 1:
        return 1, 1
    return (end_row - 1 - first_row + 1) & 0xFFFFFFFF, (end_column - 1 - first_column + 1) & 0xFFFFFFFF


def _records(stream: bytes, offset: int):
    """Yield (type, start of data, length) for each BIFF record from ``offset`` to the end of the stream."""
    end = len(stream)
    while offset + 4 <= end:
        kind, length = struct.unpack_from("<HH", stream, offset)
        start = offset + 4
        yield kind, start, min(length, end - start)
        offset = start + length


class _CompoundFile:
    """The directory and streams of a Compound File (MS-CFB), checked against the file's size.

    Every sector chain is followed for at most as many sectors as the file has, so a chain that loops
    or points outside the file raises ``DamagedFile`` instead of reading forever.
    """

    def __init__(self, data):
        if len(data) < _HEADER_BYTES or data[:8] != SIGNATURE:
            raise DamagedFile("not a Compound File")
        (sector_shift, mini_shift) = struct.unpack_from("<HH", data, 30)
        if sector_shift not in (9, 12) or mini_shift != 6:
            raise DamagedFile("unknown sector size")
        self.data = data
        self.sector_bytes = 1 << sector_shift
        self.sector_count = (len(data) - 1) // self.sector_bytes  # sectors after the header
        (fat_sectors, directory_start, _signature, self.mini_cutoff, mini_fat_start, _mini_fat_sectors,
         difat_start, difat_sectors) = struct.unpack_from("<IIIIIIII", data, 44)
        if fat_sectors > self.sector_count or difat_sectors > self.sector_count:
            raise DamagedFile("the allocation table is larger than the file")
        self.fat = self._allocation_table(fat_sectors, difat_start)
        self.entries = list(self._directory(self._chain(directory_start)))
        root = next((entry for entry in self.entries if entry[1] == _ROOT_ENTRY), None)
        self.mini_stream = self._chain(root[2]) if root else b""
        self.mini_fat = self._table(self._chain(mini_fat_start))

    def stream(self, name: str) -> bytes | None:
        """Return the first stream called ``name`` (as calamine finds it), or None."""
        for entry_name, kind, start, size in self.entries:
            if entry_name == name and kind == _STREAM_ENTRY:
                if size < self.mini_cutoff:
                    return self._read_chain(start, self.mini_fat, 64, self._mini_sector)[:size]
                return self._chain(start)[:size]
        return None

    def _allocation_table(self, fat_sectors: int, difat_start: int) -> list[int]:
        locations = list(struct.unpack_from("<109I", self.data, 76))
        sector = difat_start
        per_sector = self.sector_bytes // 4 - 1
        for _step in range(self.sector_count):
            if len(locations) >= fat_sectors or sector >= END_OF_CHAIN - 1:
                break
            block = self._sector(sector)
            locations.extend(struct.unpack_from(f"<{per_sector}I", block))
            sector = struct.unpack_from("<I", block, per_sector * 4)[0]
        return self._table(b"".join(self._sector(location) for location in locations[:fat_sectors]))

    def _sector(self, number: int) -> bytes:
        if number >= self.sector_count:
            raise DamagedFile(f"sector {number} is outside the file")
        start = (number + 1) * self.sector_bytes
        return bytes(self.data[start:start + self.sector_bytes])

    def _mini_sector(self, number: int) -> bytes:
        start = number * 64
        if start + 64 > len(self.mini_stream):
            raise DamagedFile(f"mini sector {number} is outside the mini stream")
        return self.mini_stream[start:start + 64]

    def _chain(self, start: int) -> bytes:
        """Return the bytes of the chain of regular sectors that starts at sector ``start``."""
        return self._read_chain(start, self.fat, self.sector_bytes, self._sector)

    def _read_chain(self, start: int, table: list[int], sector_bytes: int, read) -> bytes:
        parts = []
        sector = start
        # A valid chain visits each sector at most once, so one with more steps than sectors loops.
        for _step in range(min(len(table), len(self.data) // sector_bytes) + 1):
            if sector >= END_OF_CHAIN - 1:
                return b"".join(parts)
            if sector >= len(table):
                raise DamagedFile(f"a chain points to sector {sector}, outside the allocation table")
            parts.append(read(sector))
            sector = table[sector]
        raise DamagedFile("a sector chain loops")

    @staticmethod
    def _table(data: bytes) -> list[int]:
        return list(struct.unpack_from(f"<{len(data) // 4}I", data))

    @staticmethod
    def _directory(data: bytes):
        for offset in range(0, len(data) - _DIRECTORY_ENTRY_BYTES + 1, _DIRECTORY_ENTRY_BYTES):
            name_bytes, kind = struct.unpack_from("<H", data, offset + 64)[0], data[offset + 66]
            name = data[offset:offset + min(name_bytes, 64)].decode("utf-16-le", "replace").rstrip("\0")
            start, size = struct.unpack_from("<II", data, offset + 116)
            yield name, kind, start, size
