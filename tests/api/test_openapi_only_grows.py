"""The API only grows: everything in the recorded OpenAPI document is still there, unchanged.

``openapi_v1_baseline.json`` is the document as it was before the apps were split; new paths,
fields and statuses may be added, nothing may be removed or changed. Record a new baseline
only for a deliberate, announced change of the API.
"""

from __future__ import annotations

import json
from pathlib import Path

BASELINE = Path(__file__).with_name("openapi_v1_baseline.json")


def _missing(before, after, path="") -> list[str]:
    if isinstance(before, dict):
        if not isinstance(after, dict):
            return [f"{path}: no longer an object"]
        out = []
        for key, value in before.items():
            if key not in after:
                out.append(f"{path}/{key}: removed")
            else:
                out += _missing(value, after[key], f"{path}/{key}")
        return out
    if isinstance(before, list):
        scalars = all(not isinstance(x, dict | list) for x in before)
        if scalars and isinstance(after, list) and set(map(str, before)) <= set(map(str, after)):
            return []
        return [] if before == after else [f"{path}: {before!r} became {after!r}"]
    return [] if before == after else [f"{path}: {before!r} became {after!r}"]


def test_the_openapi_document_differs_from_the_baseline_only_by_additions():
    from config.api import api

    current = json.loads(json.dumps(api.get_openapi_schema(), default=str))
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    assert _missing(baseline, current) == []


def test_the_comparison_notices_a_removed_field():
    before = {"components": {"JobOut": {"properties": {"reason": {}, "state": {}}}}}
    after = {"components": {"JobOut": {"properties": {"state": {}, "reason_code": {}}}}}
    assert _missing(before, after) == ["/components/JobOut/properties/reason: removed"]
