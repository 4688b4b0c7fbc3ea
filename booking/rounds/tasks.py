"""Background work of allocation rounds. Tasks pass ids and call services.

One planner run per round at a time: solving a round and re-planning its waitlist both hold the
round's lease (``booking.leases``, holder + expiry), so a worker that dies mid-run cannot block
the round for longer than the lease.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from booking.leases import LeaseHeld, held, lease_acquire, lease_release, lease_renew, want_again
from booking.rounds import solving
from booking.rounds.lifecycle import rounds_close_due, solve_stale_after
from booking.rounds.models import AllocationRound, WhatIfPreview
from booking.rounds.preview import PREVIEW_STALE_AFTER, what_if_preview_run
from booking.rounds.waitlist import WAITLIST_TIME_LIMIT, round_lease_name, waitlist_replan

logger = logging.getLogger(__name__)

# A waitlist re-plan: the planner's limit, plus reading the round and writing the promotions.
REPLAN_LEASE_SECONDS = WAITLIST_TIME_LIMIT + 60
# A lease taken by someone else is asked for again after this many seconds.
REPLAN_RETRY_SECONDS = 5


def round_lock_name(round_id: int) -> str:
    return round_lease_name(round_id)


@db_task()
def round_solve_task(round_id: int) -> bool:
    """Plan one round. Guarded twice: the round must be SOLVING (set by ``round_run_planner``,
    which only one caller can win) and the round's lease keeps a duplicate task from running
    alongside. Returns True when this task stored a plan."""
    rnd = AllocationRound.objects.filter(pk=round_id).first()
    if rnd is None:
        return False
    try:
        with held(round_lease_name(round_id), seconds=solve_stale_after(rnd).total_seconds()):
            return solving.round_plan_solve(round_id=round_id) is not None
    except LeaseHeld:
        logger.warning(
            "round %s is already being planned; this duplicate task does nothing", round_id
        )
        return False


@db_task()
def waitlist_replan_task(round_id: int, cancelled_booking_id: int | None = None) -> int:
    """Re-plan a round's waitlist after a cancellation; returns how many requests were promoted
    (-1 when the run was left to the lease's holder or to a retry)."""
    name = round_lease_name(round_id)
    holder = lease_acquire(name=name, seconds=REPLAN_LEASE_SECONDS)
    if holder is None:
        if want_again(name=name):
            return -1  # the running re-plan runs once more and sees this cancellation too
        holder = lease_acquire(name=name, seconds=REPLAN_LEASE_SECONDS)
        if holder is None:
            waitlist_replan_task.schedule(
                (round_id, cancelled_booking_id), delay=REPLAN_RETRY_SECONDS
            )
            return -1
    promoted = 0
    while True:
        promoted += len(
            waitlist_replan(round_id=round_id, cancelled_booking_id=cancelled_booking_id)
        )
        if lease_release(name=name, holder=holder):
            return promoted
        lease_renew(name=name, holder=holder, seconds=REPLAN_LEASE_SECONDS)


def what_if_lease_name(round_id: int) -> str:
    # Apart from the round's lease: a preview only reads the plan (a plan changed meanwhile
    # makes it stale), so it must not hold up a solve or a waitlist re-plan.
    return f"round-what-if:{round_id}"


@db_task()
def what_if_preview_task(preview_id: int) -> bool:
    """Plan one stored what-if preview; one preview per round at a time (the round's what-if
    lease), the next waits and is asked for again. Returns True when this task ran it."""
    round_id = (
        WhatIfPreview.objects.filter(pk=preview_id)
        .values_list("allocation_round_id", flat=True)
        .first()
    )
    if round_id is None:
        return False
    try:
        with held(what_if_lease_name(round_id), seconds=PREVIEW_STALE_AFTER.total_seconds()):
            return what_if_preview_run(preview_id=preview_id) is not None
    except LeaseHeld:
        what_if_preview_task.schedule((preview_id,), delay=REPLAN_RETRY_SECONDS)
        return False


@db_periodic_task(crontab(minute="*/5"))
def rounds_close_due_task() -> int:
    """Close open rounds whose cut-off has passed (every five minutes)."""
    return rounds_close_due()
