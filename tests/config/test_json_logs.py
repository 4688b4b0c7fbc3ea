"""Logs as JSON lines, and one access line per request."""

from __future__ import annotations

import json
import logging

from django.test import Client

from config.logging import JsonLineFormatter


def test_a_record_is_one_json_line_with_its_extra_fields():
    record = logging.LogRecord(
        "park.x", logging.WARNING, __file__, 1, "slot %s taken", ("a",), None
    )
    record.booking_id = 7
    line = JsonLineFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "park.x"
    assert entry["message"] == "slot a taken" and entry["booking_id"] == 7


def test_each_request_logs_an_access_line(db, caplog):
    with caplog.at_level(logging.INFO, logger="park.access"):
        Client().get("/healthz")
    records = [r for r in caplog.records if r.name == "park.access"]
    assert len(records) == 1
    assert records[0].status == 200 and records[0].path == "/healthz"
    assert json.loads(JsonLineFormatter().format(records[0]))["duration_ms"] >= 0
