"""JSON logs leave the event loop through a bounded queue and keep the request's trace id."""

from __future__ import annotations

import io
import json
import logging
import queue
import time

from reference_server.observability.logs import TracedQueueHandler, configure_json_logging
from reference_server.observability.tracecontext import TraceContext, current_trace


def _lines(buffer: io.StringIO, count: int) -> list[dict]:
    for _ in range(100):
        lines = buffer.getvalue().splitlines()
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.02)
    raise AssertionError(f"expected {count} log lines, got {buffer.getvalue()!r}")


def test_records_keep_the_trace_id_of_the_request_that_logged_them():
    buffer = io.StringIO()
    handler = configure_json_logging(stream=buffer)
    logger = logging.getLogger("reference_server.test")
    token = current_trace.set(TraceContext("e" * 32, "f" * 16))
    try:
        logger.info("answered %s in %d ms", "chat", 12, extra={"http_status": 200})
        try:
            raise ValueError("bad upstream")
        except ValueError:
            logger.exception("upstream failed")
    finally:
        current_trace.reset(token)
        logging.getLogger("reference_server").removeHandler(handler)
    first, second = _lines(buffer, 2)
    assert first["message"] == "answered chat in 12 ms" and first["http_status"] == 200
    assert first["trace_id"] == "e" * 32 and first["span_id"] == "f" * 16
    assert second["level"] == "error" and "ValueError: bad upstream" in second["exception"]


def test_a_full_queue_drops_and_counts_instead_of_blocking():
    handler = TracedQueueHandler(queue.Queue(maxsize=3))
    for i in range(10):
        handler.emit(
            logging.makeLogRecord({"msg": f"line {i}", "levelno": logging.INFO, "levelname": "INFO"})
        )
    assert handler.queue.qsize() == 3 and handler.dropped == 7
