"""Background work of usage: the minute sweep (no-shows, bookings still in use at their end,
ended GPU bookings), the waitlist offer of freed time and the no-show e-mails."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from booking.leases import LeaseHeld, held
from booking.usage import daily, followup, services

# A sweep takes seconds; a worker killed mid-sweep frees the lease after this long.
SWEEP_LEASE_SECONDS = 120

logger = logging.getLogger(__name__)


@db_task()
def usage_offer_freed_time_task(booking_ids: list[int]) -> int:
    """Offer time freed by no-shows or early check-outs to the waitlist (a re-plan per round)."""
    return followup.usage_offer_freed_time(booking_ids=booking_ids)


@db_task()
def usage_notify_no_shows_task(booking_ids: list[int]) -> int:
    return followup.usage_notify_no_shows(booking_ids=booking_ids)


def usage_sweep() -> services.Sweep:
    """Run the sweep and start its follow-up work (also used by the benchmark and tests)."""
    sweep = services.usage_close_due()
    if sweep.no_shows:
        usage_notify_no_shows_task(sweep.no_shows)
    if sweep.freed():
        usage_offer_freed_time_task(sweep.freed())
    if sweep.no_shows or sweep.closed_at_end or sweep.completed:
        logger.info(
            "usage sweep: %s no-shows, %s closed at their end, %s completed",
            len(sweep.no_shows),
            len(sweep.closed_at_end),
            len(sweep.completed),
        )
    return sweep


@db_periodic_task(crontab(minute="*"))
def usage_sweep_task() -> int:
    """Every minute: release no-shows and close what has ended. One sweep at a time, under a
    lease (not huey's lock, which outlives a killed worker)."""
    try:
        with held("usage-sweep", seconds=SWEEP_LEASE_SECONDS):
            sweep = usage_sweep()
    except LeaseHeld:
        logger.info("usage sweep still running elsewhere; this tick does nothing")
        return 0
    return len(sweep.no_shows) + len(sweep.closed_at_end) + len(sweep.completed)


@db_periodic_task(crontab(minute="*"))
def usage_fold_task() -> int:
    """Every minute: fold the journal of booking and usage changes into the daily usage tables
    the reports read (under the fold's own lease; a killed fold leaves its journal rows)."""
    total = 0
    while (folded := daily.usage_fold()) > 0:
        total += folded
    return total
