"""Where the apps above ``bookings`` plug in, so ``bookings`` never imports them.

Dependencies run one way: ``rounds`` (and ``compute``) import ``bookings``, never the reverse.
Two things ``bookings`` must nevertheless hand upwards are registered here at start-up, by
``RoundsConfig.ready`` (``booking/rounds/apps.py``):

- **After a cancellation**: ``booking_cancel`` calls every function registered with
  ``on_booking_cancelled`` (with the booking's id and round id, once the cancellation has
  committed). Rounds registers the waitlist re-plan there.
- **The round desk**: a booking page or ``POST /bookings`` for a round-booked resource or a pool
  becomes a round request. ``bookings`` asks the registered desk (``round_desk()``) to find the
  open round and to create the request; rounds owns both rules.

A missing registration is an error (``ImproperlyConfigured``), never silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

CancelHandler = Callable[..., None]

_cancel_handlers: list[CancelHandler] = []


def on_booking_cancelled(handler: CancelHandler) -> CancelHandler:
    """Register ``handler(booking_id=…, round_id=…, was_holding=…)``, called after a booking's
    cancellation has committed. Registering the same function twice has no effect."""
    if handler not in _cancel_handlers:
        _cancel_handlers.append(handler)
    return handler


def booking_cancelled(*, booking_id: int, round_id: int | None, was_holding: bool) -> None:
    """Tell every registered handler that a booking was cancelled (called on commit)."""
    for handler in list(_cancel_handlers):
        handler(booking_id=booking_id, round_id=round_id, was_holding=was_holding)


class RoundDesk(Protocol):
    """What ``bookings`` needs from allocation rounds."""

    def open_round(self):
        """The open round a member's booking page offers, or None."""

    def round_get(self, pk: int):
        """A round by id, or None."""

    def request_create(self, **kwargs):
        """Create a round request (``booking.rounds.requests.round_request_create``)."""

    def request_change(self, **kwargs):
        """Change a round request's window or duration before the cut-off
        (``booking.rounds.request_changes.round_request_change``)."""


_desk: list[RoundDesk] = []


def register_round_desk(desk: RoundDesk) -> None:
    _desk[:] = [desk]


def round_desk() -> RoundDesk:
    if not _desk:
        raise ImproperlyConfigured(
            "No round desk is registered: add booking.rounds to INSTALLED_APPS."
        )
    return _desk[0]


class ProjectDesk(Protocol):
    """What ``bookings`` and ``compute`` need from billing: the project a booking or a job is
    charged to (billing owns projects)."""

    def check(self, *, tenant, project: int | None):
        """The tenant's project of that id (None: the tenant's default applies); a project of
        another tenant, an unknown or a closed one is refused with a ``project`` field error."""

    def attach(self, *, project, booking=None, job=None) -> None:
        """Charge the booking or job to ``project`` (a checked one; None: the default)."""

    def choices(self, *, tenants) -> list[tuple[int, int, str, bool]]:
        """The open projects of ``tenants`` as (tenant id, project id, name, is default)."""


_projects: list[ProjectDesk] = []


def register_project_desk(desk: ProjectDesk) -> None:
    _projects[:] = [desk]


def project_desk() -> ProjectDesk:
    if not _projects:
        raise ImproperlyConfigured(
            "No project desk is registered: add booking.billing to INSTALLED_APPS."
        )
    return _projects[0]
