"""structlog set-up: JSON lines for journald, a readable console renderer on a TTY.

Called once by the CLI before anything logs. Modules log through ``structlog.get_logger()``; the pure core
(optimize, predict, model) never logs. Libraries that log through the standard library (APScheduler's
"skipped: maximum number of running instances reached" when a cycle overruns) are rendered the same way, so
every line on stdout is one JSON object; their INFO chatter is left out unless the level is ``debug``. An
event carries only the fields that have values: a field given as
``None`` is dropped here, once for every caller, so no JSON line holds ``null``.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def drop_none(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """The event without the fields whose value is ``None`` (a structlog processor)."""
    return {key: value for key, value in event.items() if value is not None}


class _ForeignHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler this module installs (a class of its own so a second ``configure`` replaces it)."""


def _route_stdlib(renderer: structlog.typing.Processor, level: str, stream: TextIO) -> None:
    """Render standard-library log records (other libraries') with ``renderer`` on ``stream``."""
    handler = _ForeignHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _ForeignHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if level == "debug" else max(_LEVELS[level], logging.WARNING))


def configure(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Route structlog to stdout (or ``stream``: the benchmarks keep stdout for their JSON) as JSON (``json``),
    for people (``console``) or by TTY (``auto``)."""
    out = stream or sys.stdout
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if console else structlog.processors.JSONRenderer()
    )
    _route_stdlib(renderer, level, out)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            drop_none,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
