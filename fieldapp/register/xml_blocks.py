"""Reading a large XML part of a workbook in blocks of bounded size that end between two tags.

A sheet of a register contains hundreds of megabytes of XML, and a few kilobytes of a zip file
can expand to gigabytes, so a part is never read whole. Each block ends just after a ``>``,
so no tag is split between two blocks.
"""

from collections.abc import Iterator

# Decompressed bytes read at a time.
CHUNK_BYTES = 4 << 20
# The maximum length of a stretch of XML without a ">". Excel limits a cell to 32,767
# characters, about 100 KB in UTF-8 even with every character escaped, so a longer stretch
# is a damaged part or a zip bomb, which python-calamine would also keep in memory whole.
MAX_GAP_BYTES = 16 << 20


class MalformedXml(ValueError):
    """A part has a stretch of more than ``MAX_GAP_BYTES`` without a tag end."""


def tag_blocks(stream, *, prefer: bytes, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Yield the bytes of ``stream`` in blocks that each end just after ``prefer`` or after a ``>``.

    A block ends after the last ``prefer`` (such as ``b"row>"``) read so far. When none has come
    for two chunks, it ends after the last ``>`` instead, so a block is at most about three chunks
    long. Raises ``MalformedXml`` for a stretch of more than ``MAX_GAP_BYTES`` without a ``>``.
    """
    pending = b""
    while chunk := stream.read(chunk_bytes):
        # Only the new bytes can contain a ``prefer``: an earlier one would have ended a block already.
        search_from = max(0, len(pending) - len(prefer) + 1)
        pending += chunk
        cut = pending.rfind(prefer, search_from)
        if cut >= 0:
            cut += len(prefer)
        elif len(pending) > 2 * chunk_bytes:
            cut = pending.rfind(b">") + 1
            if cut == 0 and len(pending) > MAX_GAP_BYTES:
                raise MalformedXml(f"more than {MAX_GAP_BYTES >> 20} MB without a tag")
        else:
            continue
        if cut > 0:
            yield pending[:cut]
            pending = pending[cut:]
    if pending:
        yield pending
