"""Deleting files that FieldApp stored: uploads, photos and evidence."""

import logging
import os

logger = logging.getLogger(__name__)


def remove_stored_file(path: str, description: str) -> None:
    """Delete a stored file. A file already gone is fine, and another failure is logged, not raised.

    ``description`` names the file's kind in the log line, e.g. "photo file".
    """
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        logger.warning("could not remove %s %s: %s", description, path, error)
