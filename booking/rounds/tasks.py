"""Background work of allocation rounds. Tasks pass ids and call services."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task
from huey.exceptions import TaskLockedException

from booking.rounds import solving
from booking.rounds.lifecycle import rounds_close_due

logger = logging.getLogger(__name__)


def round_lock_name(round_id: int) -> str:
    return f"round-solve-{round_id}"


@db_task()
def round_solve_task(round_id: int) -> bool:
    """Plan one round. Guarded twice: the round must be SOLVING (set by ``round_run_planner``,
    which only one caller can win) and a huey lock per round keeps a duplicate task from
    running alongside. Returns True when this task stored a plan."""
    try:
        with HUEY.lock_task(round_lock_name(round_id)):
            return solving.round_plan_solve(round_id=round_id) is not None
    except TaskLockedException:
        logger.warning(
            "round %s is already being planned; this duplicate task does nothing", round_id
        )
        return False


@db_periodic_task(crontab(minute="*/5"))
def rounds_close_due_task() -> int:
    """Close open rounds whose cut-off has passed (every five minutes)."""
    return rounds_close_due()
