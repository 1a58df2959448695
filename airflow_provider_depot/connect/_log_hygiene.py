"""Keep header values out of third-party debug logs.

hpack (under h2, which both httpx and hypercorn use for HTTP/2) logs every header it encodes
and decodes at DEBUG, ``authorization: Bearer <token>`` included. A task log at DEBUG level
would then carry the token before any masking sees it, so that logger never goes below INFO.
"""

from __future__ import annotations

import logging

_HEADER_LOGGERS = ("hpack", "hpack.hpack", "hpack.table")


def silence_header_debug_logs() -> None:
    for name in _HEADER_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
