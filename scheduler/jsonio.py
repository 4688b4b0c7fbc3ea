"""JSON in and out for problems and plans. The format is described in ``scheduler/FORMAT.md``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from scheduler.plan import Assignment, Plan
from scheduler.problem import Problem, ProblemError, Request, Resource, Tenant, Training

PROBLEM_FORMAT = "park-booking/problem@2"
# Formats read: @1 has one time grid for all resources and GPUs only (no per-resource slot
# fields, no CPUs or memory).
PROBLEM_FORMATS = ("park-booking/problem@1", PROBLEM_FORMAT)
PLAN_FORMAT = "park-booking/plan@1"


def _load(data: str | bytes | dict) -> dict:
    if isinstance(data, dict):
        return data
    try:
        out = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ProblemError("bad_json", "document", f"not valid JSON: {exc}") from exc
    if not isinstance(out, dict):
        raise ProblemError("bad_json", "document", "must be a JSON object")
    return out


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    return {
        "format": PROBLEM_FORMAT,
        "name": problem.name,
        "horizon": problem.horizon,
        "slot_minutes": problem.slot_minutes,
        "round_start": problem.round_start.isoformat() if problem.round_start else None,
        "fairness": dict(problem.fairness),
        "resources": [
            {
                "id": r.id,
                "kind": r.kind,
                "capacity": r.capacity,
                "resource_class": r.resource_class,
                "open_periods": None
                if r.open_periods is None
                else [list(p) for p in r.open_periods],
                "maintenance": [list(p) for p in r.maintenance],
                "recipes": list(r.recipes),
                "changeovers": [list(c) for c in r.changeovers],
                "min_run": r.min_run,
                "required_training": r.required_training,
                "slot_minutes": r.slot_minutes,
                "slot_offset": r.slot_offset,
                "cpus": r.cpus,
                "memory": r.memory,
            }
            for r in problem.resources
        ],
        "tenants": [
            {"id": t.id, "weight": t.weight, "quotas": dict(t.quotas)} for t in problem.tenants
        ],
        "trainings": [
            {
                "user": t.user,
                "training": t.training,
                "valid_from": t.valid_from,
                "valid_until": t.valid_until,
            }
            for t in problem.trainings
        ],
        "requests": [
            {
                "id": q.id,
                "tenant": q.tenant,
                "user": q.user,
                "resources": list(q.resources),
                "duration": q.duration,
                "earliest": q.earliest,
                "deadline": q.deadline,
                "priority": q.priority,
                "units": q.units,
                "nodes": q.nodes,
                "recipe": q.recipe,
                "chain": q.chain,
                "chain_step": q.chain_step,
                "max_gap": q.max_gap,
                "cpus": q.cpus,
                "memory": q.memory,
            }
            for q in problem.requests
        ],
    }


def problem_to_json(problem: Problem, *, indent: int | None = None) -> str:
    """The problem as a JSON document (see FORMAT.md)."""
    return json.dumps(problem_to_dict(problem), indent=indent, ensure_ascii=False)


def _build(cls, item: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...]):
    if not isinstance(item, dict):
        raise ProblemError("bad_json", where, "must be an object")
    missing = [k for k in required if k not in item]
    if missing:
        raise ProblemError("missing_field", where, f"missing {', '.join(missing)}")
    unknown = set(item) - set(required) - set(optional)
    if unknown:
        raise ProblemError("unknown_field", where, f"unknown field(s) {sorted(unknown)}")
    try:
        return cls(**item)
    except (TypeError, ValueError) as exc:
        raise ProblemError("bad_json", where, str(exc)) from exc


def problem_from_json(data: str | bytes | dict) -> Problem:
    """A :class:`Problem` from a JSON document or an already parsed dict.

    Shape errors raise :class:`ProblemError`; the rules are checked when the problem is solved
    or validated (``check_problem``)."""
    d = _load(data)
    fmt = d.get("format", PROBLEM_FORMAT)
    if fmt not in PROBLEM_FORMATS:
        raise ProblemError("bad_format", "format", f"expected {PROBLEM_FORMAT!r}, got {fmt!r}")
    new = fmt == PROBLEM_FORMAT
    grid_fields = ("slot_minutes", "slot_offset", "cpus", "memory") if new else ()
    vector_fields = ("cpus", "memory") if new else ()
    if "horizon" not in d:
        raise ProblemError("missing_field", "horizon", "required")
    rs = d.get("round_start")
    try:
        round_start = datetime.fromisoformat(rs) if rs else None
    except ValueError as exc:
        raise ProblemError("bad_json", "round_start", "not an ISO 8601 datetime") from exc
    resources = [
        _build(
            Resource,
            r,
            f"resources[{i}]",
            ("id", "kind"),
            (
                "capacity",
                "resource_class",
                "open_periods",
                "maintenance",
                "recipes",
                "changeovers",
                "min_run",
                "required_training",
                *grid_fields,
            ),
        )
        for i, r in enumerate(d.get("resources", []))
    ]
    tenants = [
        _build(Tenant, t, f"tenants[{i}]", ("id",), ("weight", "quotas"))
        for i, t in enumerate(d.get("tenants", []))
    ]
    trainings = [
        _build(
            Training, t, f"trainings[{i}]", ("user", "training", "valid_from", "valid_until"), ()
        )
        for i, t in enumerate(d.get("trainings", []))
    ]
    requests = [
        _build(
            Request,
            q,
            f"requests[{i}]",
            ("id", "tenant", "user", "resources", "duration", "earliest", "deadline"),
            (
                "priority",
                "units",
                "nodes",
                "recipe",
                "chain",
                "chain_step",
                "max_gap",
                *vector_fields,
            ),
        )
        for i, q in enumerate(d.get("requests", []))
    ]
    fairness = d.get("fairness") or {}
    if not isinstance(fairness, dict) or not all(
        isinstance(c, str) and isinstance(m, str) for c, m in fairness.items()
    ):
        raise ProblemError(
            "bad_json", "fairness", "must be an object of resource class -> measure name"
        )
    return Problem(
        horizon=int(d["horizon"]),
        resources=tuple(resources),
        tenants=tuple(tenants),
        requests=tuple(requests),
        trainings=tuple(trainings),
        slot_minutes=int(d.get("slot_minutes", 60)),
        round_start=round_start,
        name=str(d.get("name", "")),
        fairness=fairness,
    )


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {
        "format": PLAN_FORMAT,
        "status": plan.status,
        "planner": plan.planner,
        "objectives": plan.objectives,
        "bounds": plan.bounds,
        "wall_time": round(plan.wall_time, 4),
        "figures": plan.figures,
        "stages": plan.stages,
        "assignments": [
            {
                "request": a.request,
                "granted": a.granted,
                "resources": list(a.resources),
                "start": a.start,
                "end": a.end,
                "reason": a.reason,
                "reason_text": a.reason_text,
                "params": a.params,
            }
            for a in plan.assignments.values()
        ],
    }


def plan_to_json(plan: Plan, *, indent: int | None = None) -> str:
    """The plan as a JSON document (see FORMAT.md)."""
    return json.dumps(plan_to_dict(plan), indent=indent, ensure_ascii=False)


def plan_from_json(data: str | bytes | dict) -> Plan:
    """A :class:`Plan` from a JSON document or an already parsed dict."""
    d = _load(data)
    fmt = d.get("format", PLAN_FORMAT)
    if fmt != PLAN_FORMAT:
        raise ProblemError("bad_format", "format", f"expected {PLAN_FORMAT!r}, got {fmt!r}")
    assignments = {}
    for i, a in enumerate(d.get("assignments", [])):
        a = dict(a)
        a["resources"] = tuple(a.get("resources", ()))
        a.setdefault("granted", False)
        item = _build(
            Assignment,
            a,
            f"assignments[{i}]",
            ("request", "granted"),
            ("resources", "start", "end", "reason", "reason_text", "params"),
        )
        assignments[item.request] = item
    return Plan(
        assignments=assignments,
        status=d.get("status", "unknown"),
        planner=d.get("planner", ""),
        objectives=d.get("objectives", {}),
        bounds=d.get("bounds", {}),
        wall_time=float(d.get("wall_time", 0.0)),
        figures=d.get("figures", {}),
        stages=d.get("stages", []),
    )
