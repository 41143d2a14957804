"""Errors that services raise for the views and the command line to show."""


class FieldError(ValueError):
    """A value the user entered is invalid; ``field`` names the form field it belongs to."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class ImportRejected(ValueError):
    """An import file was rejected; ``rejections`` lists each rejected row with its reason."""

    def __init__(self, message: str, rejections: list | None = None):
        super().__init__(message)
        self.message = message
        self.rejections = rejections or []


class RowsRejected(ImportRejected):
    """Rows of an import file were rejected, so nothing was imported.

    Importing again with the rejected rows skipped would store the others. The upload page and the
    command line word that advice differently, so the command line catches this class.
    """


class Conflict(RuntimeError):
    """A record changed after the user loaded it, so their change was not saved.

    ``expected`` is the version the user's form was based on, ``current`` the version stored now.
    """

    def __init__(self, message: str, *, expected: int | None = None, current: int | None = None):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.current = current


# Characters of a rejected cell value repeated in a message; a longer value is cut.
SHOWN_VALUE_LENGTH = 100


def shown_value(text: str) -> str:
    """Return a rejected cell value for a message, cut to ``SHOWN_VALUE_LENGTH`` characters and "…"."""
    return text if len(text) <= SHOWN_VALUE_LENGTH else text[:SHOWN_VALUE_LENGTH] + "…"
