"""Gzip for pages, scripts, styles and JSON, so that a phone on a weak signal downloads less.

Text compresses to a fifth or less of its size. Responses are compressed when the browser
accepts gzip, the body has at least ``MIN_BYTES`` and no other encoding is set. A compressed
response keeps its ETag as a weak one, so a revalidation of a static file still gets 304.
Static files are compressed once per version and kept in memory.
"""

import gzip
import logging
from collections import OrderedDict
from threading import Lock

from flask import Flask, request

logger = logging.getLogger(__name__)

COMPRESSIBLE_TYPES = frozenset({
    "text/html",
    "text/css",
    "text/javascript",
    "text/plain",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "image/svg+xml",
})
MIN_BYTES = 512
LEVEL = 6
# Compressed static files kept in memory, by ETag; about 20 files serve the phone pages.
STATIC_CACHE_SIZE = 64

_static_cache: OrderedDict[str, bytes] = OrderedDict()
_static_lock = Lock()


def init_app(app: Flask) -> None:
    app.after_request(compress_response)


def compress_response(response):
    if response.mimetype not in COMPRESSIBLE_TYPES:
        return response
    response.vary.add("Accept-Encoding")
    if (
        response.status_code != 200
        or "Content-Encoding" in response.headers
        or "gzip" not in request.accept_encodings
        or (response.is_streamed and not response.direct_passthrough)
    ):
        return response

    etag, _weak = response.get_etag()
    is_file = response.direct_passthrough
    compressed = _cached(etag) if is_file and etag else None
    if compressed is None:
        response.direct_passthrough = False
        body = response.get_data()
        if len(body) < MIN_BYTES:
            return response
        compressed = gzip.compress(body, compresslevel=LEVEL, mtime=0)
        if is_file and etag:
            _remember(etag, compressed)
    else:
        response.direct_passthrough = False
        if hasattr(response.response, "close"):
            response.response.close()

    response.set_data(compressed)
    response.headers["Content-Encoding"] = "gzip"
    if etag:
        response.set_etag(etag, weak=True)
    return response


def _cached(etag: str) -> bytes | None:
    with _static_lock:
        data = _static_cache.get(etag)
        if data is not None:
            _static_cache.move_to_end(etag)
        return data


def _remember(etag: str, data: bytes) -> None:
    with _static_lock:
        _static_cache[etag] = data
        while len(_static_cache) > STATIC_CACHE_SIZE:
            _static_cache.popitem(last=False)
