"""Bookings (instant bookings and round requests) and their status history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from booking.tenancy.models import Tenant
from resources.models import Recipe, Resource, ResourcePool


class BookingStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    CONFIRMED = "confirmed", _("Confirmed")
    REFUSED = "refused", _("Refused")
    WAITLISTED = "waitlisted", _("Waitlisted")
    CANCELLED = "cancelled", _("Cancelled")
    COMPLETED = "completed", _("Completed")
    IN_USE = "in_use", _("In use")
    NO_SHOW = "no_show", _("No-show")
    # The resource needs approval (``Resource.approval``): the slot and the quota are held
    # while the request waits for the resource's approvers (or the tenant's managers).
    PENDING_APPROVAL = "pending_approval", _("Waiting for approval")


# Statuses that hold capacity on a resource.
# A request waiting for approval holds its slot and counts against the quota, so nobody books
# the time meanwhile and an approval never fails for lack of room.
HOLDING_STATUSES = (
    BookingStatus.CONFIRMED,
    BookingStatus.IN_USE,
    BookingStatus.COMPLETED,
    BookingStatus.PENDING_APPROVAL,
)

# The life cycle as data: from each status, the statuses a booking may move to. Every change
# goes through ``booking.bookings.services.booking_transition``, which refuses any other.
# A booking is created REQUESTED (a round request), CONFIRMED (an instant booking) or
# PENDING_APPROVAL (an instant booking of a resource that needs approval).
#   PENDING_APPROVAL → CONFIRMED (approved), REFUSED (denied with a reason, or nobody decided
#                before its start: ``booking.approvals``), or CANCELLED by its owner;
#   REQUESTED  → CONFIRMED / WAITLISTED / REFUSED by the planner when a round is published
#                (PENDING_APPROVAL instead of CONFIRMED on a resource that needs approval),
#                or CANCELLED by its owner;
#   WAITLISTED → CONFIRMED (or PENDING_APPROVAL) when a cancellation frees time (the waitlist
#                re-plan), REFUSED, or CANCELLED;
#   REFUSED    → WAITLISTED, or CANCELLED;
#   CONFIRMED  → CANCELLED before it starts, or COMPLETED once used;
#   CANCELLED and COMPLETED are final.
# COMPLETED (like the check-in states still to come) holds capacity and is reached by no code
# path yet: usage recording sets it.
TRANSITIONS: dict[str, frozenset[str]] = {
    BookingStatus.REQUESTED: frozenset(
        {
            BookingStatus.CONFIRMED,
            BookingStatus.PENDING_APPROVAL,
            BookingStatus.REFUSED,
            BookingStatus.WAITLISTED,
            BookingStatus.CANCELLED,
        }
    ),
    BookingStatus.WAITLISTED: frozenset(
        {
            BookingStatus.CONFIRMED,
            BookingStatus.PENDING_APPROVAL,
            BookingStatus.REFUSED,
            BookingStatus.CANCELLED,
        }
    ),
    BookingStatus.PENDING_APPROVAL: frozenset(
        {BookingStatus.CONFIRMED, BookingStatus.REFUSED, BookingStatus.CANCELLED}
    ),
    BookingStatus.REFUSED: frozenset({BookingStatus.WAITLISTED, BookingStatus.CANCELLED}),
    BookingStatus.CONFIRMED: frozenset(
        {
            BookingStatus.CANCELLED,
            BookingStatus.COMPLETED,
            BookingStatus.IN_USE,
            BookingStatus.NO_SHOW,
        }
    ),
    # Checked in; closed by check-out or at its end.
    BookingStatus.IN_USE: frozenset({BookingStatus.COMPLETED}),
    BookingStatus.CANCELLED: frozenset(),
    BookingStatus.COMPLETED: frozenset(),
    BookingStatus.NO_SHOW: frozenset(),
}


class BookingSeries(models.Model):
    """A recurring booking: the rule its occurrences (bookings linked to it) were made from.

    ``rule`` is the RFC 5545 RRULE text (the subset ``booking.bookings.recurrence`` reads);
    ``skipped`` lists the occurrences left out with ``skip_conflicts`` and why (start, end and
    the refusals, as answered when the series was booked).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="booking_series")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="booking_series"
    )
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=200)
    rule = models.CharField(_("repeat rule"), max_length=200)
    skipped = models.JSONField(_("skipped occurrences"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        db_table = "booking_bookingseries"
        ordering = ["-created_at", "-id"]
        verbose_name = _("booking series")
        verbose_name_plural = _("booking series")

    def __str__(self) -> str:
        return f"{self.title} ({self.rule})"


class Booking(models.Model):
    """An instant booking (start/end set at once) or a round request (window, planned later)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="bookings")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings"
    )
    resource = models.ForeignKey(
        Resource, null=True, blank=True, on_delete=models.PROTECT, related_name="bookings"
    )
    pool = models.ForeignKey(
        ResourcePool, null=True, blank=True, on_delete=models.PROTECT, related_name="bookings"
    )
    round = models.ForeignKey(
        "rounds.AllocationRound",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests",
    )
    title = models.CharField(_("title"), max_length=200)
    units = models.PositiveSmallIntegerField(
        _("units"), default=1, help_text=_("GPUs on a GPU node; 1 otherwise.")
    )
    # A round request for a GPU node may ask CPUs and memory on the node besides its GPUs (the
    # planner holds capacity in every dimension); 0 means not stated, so not counted there.
    cpus = models.PositiveIntegerField(
        _("CPUs"), default=0, help_text=_("A round request for a GPU node: CPUs per node.")
    )
    memory_gb = models.PositiveIntegerField(
        _("memory (GB)"),
        default=0,
        help_text=_("A round request for a GPU node: memory per node in GB."),
    )
    recipe = models.ForeignKey(
        Recipe, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    start = models.DateTimeField(_("start"), null=True, blank=True)
    end = models.DateTimeField(_("end"), null=True, blank=True)
    # A round request's wishes; the planner chooses start/end inside them.
    earliest_start = models.DateTimeField(_("earliest start"), null=True, blank=True)
    latest_end = models.DateTimeField(_("latest end"), null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), null=True, blank=True)
    priority = models.SmallIntegerField(_("priority"), default=0)
    follows = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="followed_by",
        help_text=_(
            "Chain: this request must start after the one it follows, within the maximum gap."
        ),
    )
    max_gap_minutes = models.PositiveIntegerField(_("maximum gap (minutes)"), null=True, blank=True)
    series = models.ForeignKey(
        BookingSeries,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="occurrences",
    )
    status = models.CharField(_("status"), max_length=20, choices=BookingStatus.choices)
    reason_code = models.CharField(_("reason code"), max_length=40, blank=True)
    reason_text = models.CharField(_("reason"), max_length=400, blank=True)
    # Denormalised from the resource: capacity-1 bookings are guarded by an
    # exclusion constraint on PostgreSQL.
    exclusive = models.BooleanField(default=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        db_table = "booking_booking"
        ordering = ["-created_at", "-id"]
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        constraints = [
            models.CheckConstraint(
                condition=Q(start__isnull=True) | Q(end__isnull=True) | Q(end__gt=F("start")),
                name="booking_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(earliest_start__isnull=True)
                | Q(latest_end__isnull=True)
                | Q(latest_end__gt=F("earliest_start")),
                name="booking_window_ends_after_start",
            ),
            models.CheckConstraint(condition=Q(units__gte=1), name="booking_units_positive"),
            # CPUs and memory are wishes the planner reads; an instant booking states none.
            models.CheckConstraint(
                condition=Q(round__isnull=False) | Q(cpus=0, memory_gb=0),
                name="booking_cpus_memory_only_on_round_requests",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__isnull=True) | Q(duration_minutes__gte=1),
                name="booking_duration_positive",
            ),
            models.CheckConstraint(
                condition=Q(resource__isnull=False) | Q(pool__isnull=False),
                name="booking_names_resource_or_pool",
            ),
            models.CheckConstraint(
                condition=~Q(
                    status__in=["confirmed", "in_use", "completed", "no_show", "pending_approval"]
                )
                | (Q(resource__isnull=False) & Q(start__isnull=False) & Q(end__isnull=False)),
                name="booking_confirmed_has_resource_and_times",
            ),
        ]
        indexes = [
            models.Index(fields=["resource", "start", "end"], name="booking_calendar_lookup"),
            models.Index(fields=["tenant", "status", "start"], name="booking_tenant_lookup"),
            models.Index(fields=["user", "-created_at"], name="booking_user_lookup"),
        ]

    def __str__(self) -> str:
        return self.title

    def hours(self) -> float:
        if self.start and self.end:
            return (self.end - self.start).total_seconds() / 3600
        return (self.duration_minutes or 0) / 60


class BookingEvent(models.Model):
    """Every status change of a booking, with who and when (an approval decision: the approver,
    and the reason given in ``note``)."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, choices=BookingStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=BookingStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=400, blank=True)

    class Meta:
        db_table = "booking_bookingevent"
        ordering = ["booking", "at", "id"]
        verbose_name = _("booking event")
        verbose_name_plural = _("booking events")

    def __str__(self) -> str:
        return f"{self.booking_id}: {self.from_status or '∅'} → {self.to_status}"
