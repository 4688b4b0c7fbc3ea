"""Fair allocation of a science park's GPU nodes, pilot lines and lab instruments.

Pure Python (no Django). Public interface::

    from scheduler import (Problem, Resource, Request, Tenant, Training, Plan, Assignment,
                           solve, validate, what_if, replan, problem_from_json, problem_to_json,
                           plan_from_json, plan_to_json, FAIRNESS_CONTRACT, REASON_TEXTS)

Time is in integer slots from the round start (see :mod:`scheduler.slots` for conversions);
the JSON format is described in ``scheduler/FORMAT.md``.
"""

from scheduler.fairness import FAIRNESS_CONTRACT, REASON_TEXTS, reason_text
from scheduler.jsonio import plan_from_json, plan_to_json, problem_from_json, problem_to_json
from scheduler.plan import Assignment, Plan
from scheduler.problem import (
    GPU_NODE,
    LAB_INSTRUMENT,
    PILOT_LINE,
    Problem,
    ProblemError,
    Request,
    Resource,
    Tenant,
    Training,
    check_problem,
)
from scheduler.replan import (
    Cancellation,
    Change,
    LineDown,
    MaintenanceAdded,
    Replan,
    TrainingExpired,
    replan,
)
from scheduler.slots import hours_to_slots, to_datetime, to_slot, window_to_slots
from scheduler.solve import solve
from scheduler.validate import Report, validate
from scheduler.whatif import WhatIf, what_if

__all__ = [
    "FAIRNESS_CONTRACT",
    "GPU_NODE",
    "LAB_INSTRUMENT",
    "PILOT_LINE",
    "REASON_TEXTS",
    "Assignment",
    "Cancellation",
    "Change",
    "LineDown",
    "MaintenanceAdded",
    "Replan",
    "TrainingExpired",
    "Plan",
    "Problem",
    "ProblemError",
    "Report",
    "Request",
    "Resource",
    "Tenant",
    "Training",
    "WhatIf",
    "check_problem",
    "hours_to_slots",
    "plan_from_json",
    "plan_to_json",
    "problem_from_json",
    "problem_to_json",
    "reason_text",
    "replan",
    "solve",
    "to_datetime",
    "to_slot",
    "validate",
    "what_if",
    "window_to_slots",
]
