"""Structured JSON logs, one object per line, each carrying the current request's trace id.

Handlers on the event loop only enqueue records (bounded; a full queue drops and counts);
a background thread formats and writes them, so a slow stderr or log shipper never blocks
the loop. Trace ids are taken when the record is made, on the request's own context.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import sys
import time
from logging.handlers import QueueHandler, QueueListener
from typing import Any, TextIO

from reference_server.observability.tracecontext import current_trace

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
QUEUE_SIZE = 10_000


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "trace_id", "span_id", ...extra}`` per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace = current_trace.get()
        if trace is not None:
            entry["trace_id"] = trace.trace_id
            entry["span_id"] = trace.span_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class TracedQueueHandler(QueueHandler):
    """Enqueue without blocking: stamp the trace ids, pre-render arguments, drop when full."""

    def __init__(self, log_queue: queue.Queue[logging.LogRecord]) -> None:
        super().__init__(log_queue)
        self.dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        trace = current_trace.get()
        if trace is not None and not hasattr(record, "trace_id"):
            record.trace_id = trace.trace_id
            record.span_id = trace.span_id
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = record.getMessage()
        record.args = None
        record.exc_info = None
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


_listener: QueueListener | None = None


def configure_json_logging(
    level: int | str = logging.INFO, stream: TextIO | None = None
) -> TracedQueueHandler:
    """Send the ``reference_server`` loggers to ``stream`` (stderr) as JSON lines; returns the handler."""
    global _listener
    logger = logging.getLogger("reference_server")
    for existing in [h for h in logger.handlers if isinstance(h, TracedQueueHandler)]:
        logger.removeHandler(existing)
    if _listener is not None:
        _listener.stop()
    writer = logging.StreamHandler(stream or sys.stderr)
    writer.setFormatter(JsonFormatter())
    log_queue: queue.Queue[logging.LogRecord] = queue.Queue(QUEUE_SIZE)
    handler = TracedQueueHandler(log_queue)
    _listener = QueueListener(log_queue, writer)
    _listener.start()
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler


@atexit.register
def _flush_on_exit() -> None:
    if _listener is not None:
        _listener.stop()
