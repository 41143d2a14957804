"""Helpers for the commands' output: errors, the time taken, and tables aligned in a terminal.

A Chinese character takes two columns in a terminal but counts as one in ``str.ljust``. So
``table_lines`` pads cells by terminal columns, and translated headers and names stay aligned.
"""

import time
import unicodedata
from collections.abc import Collection
from typing import IO

import click
from flask_babel import gettext as _

COLUMN_GAP = "  "


class CommandError(click.ClickException):
    """A command's error, printed as "Error: message" in the current locale ("错误：message" in Chinese).

    Click's own ``ClickException`` prints an English "Error:". Click prints the error after the
    command's application context has ended, so the line is translated here, when it is raised.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.line = _("Error: %(message)s", message=message)

    def show(self, file: IO | None = None) -> None:
        click.echo(self.line, file=file, err=file is None, color=self.show_color)


def display_width(text: str) -> int:
    """Return the terminal columns of ``text``: two for wide and full-width characters, else one."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def table_lines(rows: list[list[str]], right_aligned: Collection[int] = ()) -> list[str]:
    """Lay ``rows`` (the header first) out in columns, leaving the last column unpadded.

    The columns whose index is in ``right_aligned`` are aligned right, as numbers are.
    """
    if not rows:
        return []
    widths = [max(display_width(row[index]) for row in rows) for index in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            padding = " " * (widths[index] - display_width(cell))
            if index == len(row) - 1 and index not in right_aligned:
                cells.append(cell)
            elif index in right_aligned:
                cells.append(padding + cell)
            else:
                cells.append(cell + padding)
        lines.append(COLUMN_GAP.join(cells))
    return lines


def done_line(started: float) -> str:
    """Say, in the current locale, how long a command took since ``started`` (a ``time.monotonic()``)."""
    return _("Done in %(seconds).1f s.", seconds=time.monotonic() - started)
