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
