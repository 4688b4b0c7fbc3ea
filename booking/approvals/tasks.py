"""Background work of approvals: requests nobody decided lapse at their start."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from booking.approvals.services import approvals_expire


@db_periodic_task(crontab(minute="*"))
def approvals_expire_task() -> int:
    """Every minute: refuse and free the requests still waiting for approval at their start."""
    return len(approvals_expire())
