"""What really happened with a booking: check-in and check-out, no-shows, line run records,
and the operator's usage policy (check-in windows, what a no-show costs)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from resources.models import Recipe, Resource

# The booking, named by its app label (bookings) and model.
BOOKING_MODEL = "bookings.Booking"


class CheckInRule(models.Model):
    """The check-in window of one resource, set by the operator.

    A resource without a row uses the defaults: instruments and lines need a check-in from
    15 minutes before to 15 minutes after the start; GPU bookings are measured from their jobs.
    """

    resource = models.OneToOneField(
        Resource, on_delete=models.CASCADE, related_name="check_in_rule", verbose_name=_("resource")
    )
    check_in_required = models.BooleanField(
        _("check-in required"),
        default=True,
        help_text=_("A booking not checked in by the end of its window is released as a no-show."),
    )
    opens_minutes_before = models.PositiveIntegerField(
        _("check-in opens (minutes before the start)"), default=15
    )
    closes_minutes_after = models.PositiveIntegerField(
        _("check-in closes (minutes after the start)"), default=15
    )

    class Meta:
        verbose_name = _("check-in rule")
        verbose_name_plural = _("check-in rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(opens_minutes_before__lte=24 * 60)
                & Q(closes_minutes_after__lte=24 * 60),
                name="check_in_window_at_most_a_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource}: −{self.opens_minutes_before} / +{self.closes_minutes_after} min"


class UsagePolicy(models.Model):
    """The park's one usage policy (row 1): what a no-show costs. Shown in the fairness contract."""

    no_show_charged = models.BooleanField(
        _("charge no-shows at the booked hours"),
        default=True,
        help_text=_("A no-show counts against the tenant's quota as if the time had been used."),
    )
    notify_manager = models.BooleanField(_("tell the tenant's managers of no-shows"), default=True)
    no_show_weight_penalty = models.DecimalField(
        _("weight penalty per no-show (%)"),
        max_digits=4,
        decimal_places=1,
        default=0,
        help_text=_(
            "Each no-show in the days before a round lowers the tenant's weight in that round "
            "by this share; 0 turns the penalty off."
        ),
    )
    no_show_penalty_days = models.PositiveSmallIntegerField(
        _("no-shows counted over (days before the round)"), default=28
    )
    no_show_penalty_cap = models.DecimalField(
        _("largest weight penalty (%)"), max_digits=4, decimal_places=1, default=50
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("usage policy")
        verbose_name_plural = _("usage policy")
        constraints = [
            models.CheckConstraint(
                condition=Q(no_show_weight_penalty__gte=0)
                & Q(no_show_weight_penalty__lte=100)
                & Q(no_show_penalty_cap__gte=0)
                & Q(no_show_penalty_cap__lt=100)
                & Q(no_show_penalty_days__gte=1)
                & Q(no_show_penalty_days__lte=366),
                name="usage_policy_penalty_in_range",
                violation_error_message=_(
                    "The penalty per no-show is 0 to 100 per cent, the largest penalty below 100 "
                    "per cent (a weight never reaches 0) and the days counted 1 to 366."
                ),
            ),
        ]

    def __str__(self) -> str:
        return str(_("Usage policy"))


class UsageSource(models.TextChoices):
    CHECK_IN = "check_in", _("Check-in and check-out")
    JOBS = "jobs", _("GPU-hours of the booking's jobs")
    RUN_RECORD = "run_record", _("Line run record")
    NO_SHOW = "no_show", _("No-show")
    BOOKED = "booked", _("Booked time (no usage recorded)")


class BookingUsage(models.Model):
    """The usage of one booking. ``used_hours`` are capacity-hours (GPU-hours on a GPU node);
    ``charged_hours``, set once the booking is closed, are what its tenant's quota counts."""

    booking = models.OneToOneField(
        BOOKING_MODEL, on_delete=models.CASCADE, related_name="usage", verbose_name=_("booking")
    )
    source = models.CharField(_("measured from"), max_length=12, choices=UsageSource.choices)
    checked_in_at = models.DateTimeField(_("checked in"), null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    checked_out_at = models.DateTimeField(_("checked out"), null=True, blank=True)
    checked_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The end as booked, kept when an early check-out shortened the booking.
    booked_end = models.DateTimeField(_("booked end"), null=True, blank=True)
    closed_at_end = models.BooleanField(
        _("closed at its end"),
        default=False,
        help_text=_("Still checked in when the booking ended; closed by the park."),
    )
    no_show = models.BooleanField(_("no-show"), default=False)
    used_hours = models.DecimalField(
        _("hours used"), max_digits=12, decimal_places=4, null=True, blank=True
    )
    charged_hours = models.DecimalField(
        _("hours charged"), max_digits=12, decimal_places=4, null=True, blank=True
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("booking usage")
        verbose_name_plural = _("booking usage")
        constraints = [
            models.CheckConstraint(
                condition=Q(used_hours__isnull=True) | Q(used_hours__gte=0),
                name="usage_used_hours_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(charged_hours__isnull=True) | Q(charged_hours__gte=0),
                name="usage_charged_hours_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True)
                | Q(checked_in_at__isnull=True)
                | Q(checked_out_at__gte=F("checked_in_at")),
                name="usage_check_out_after_check_in",
            ),
        ]

    def __str__(self) -> str:
        return f"usage of booking {self.booking_id}"


class LineRun(models.Model):
    """The technician's record of a pilot-line run: what really ran, and when."""

    booking = models.OneToOneField(
        BOOKING_MODEL, on_delete=models.CASCADE, related_name="line_run", verbose_name=_("booking")
    )
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("technician"),
    )
    actual_start = models.DateTimeField(_("actual start"))
    actual_end = models.DateTimeField(_("actual end"))
    recipe = models.ForeignKey(
        Recipe, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lots = models.CharField(_("lots"), max_length=200, blank=True)
    wafers = models.PositiveIntegerField(_("wafers"), default=0)
    notes = models.TextField(_("notes"), blank=True)
    completed_at = models.DateTimeField(_("completed"), auto_now_add=True)

    class Meta:
        verbose_name = _("line run record")
        verbose_name_plural = _("line run records")
        constraints = [
            models.CheckConstraint(
                condition=Q(actual_end__gt=F("actual_start")), name="line_run_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"run of booking {self.booking_id}"


class KioskPin(models.Model):
    """A member's short personal PIN for the instrument kiosks. Stored only as a hash."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kiosk_pin"
    )
    pin_hash = models.CharField(max_length=128, editable=False)
    failed_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("kiosk PIN")
        verbose_name_plural = _("kiosk PINs")

    def __str__(self) -> str:
        return f"kiosk PIN of {self.user}"


class UserLanguage(models.Model):
    """The language a user last read the park's pages in; their e-mails are written in it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="park_language"
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("user language")
        verbose_name_plural = _("user languages")

    def __str__(self) -> str:
        return f"{self.user}: {self.language}"


class _DailyFigures(models.Model):
    """Sums over the measured bookings (confirmed, in use, completed, no-show) that start on
    ``day`` (the park's local day). Hours are kept exactly: booked time in unit-seconds (GPU
    bookings count GPU-seconds), used hours as the sum of the usage records' decimals."""

    day = models.DateField(_("day"))
    bookings = models.PositiveIntegerField(default=0)
    no_shows = models.PositiveIntegerField(default=0)
    booked_seconds = models.BigIntegerField(default=0)
    no_show_seconds = models.BigIntegerField(default=0)
    used_hours = models.DecimalField(max_digits=16, decimal_places=4, default=0)

    class Meta:
        abstract = True


class ResourceDayUsage(_DailyFigures):
    """The daily usage figures of one resource (the reports by resource and class)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("daily usage of a resource")
        verbose_name_plural = _("daily usage of resources")
        constraints = [
            models.UniqueConstraint(fields=["day", "resource"], name="resource_day_usage_once"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} on {self.day}"


class TenantDayUsage(_DailyFigures):
    """The daily usage figures of one member of one tenant (the funder report's active users;
    the sums of a tenant's members are ``TenantDayTotal``)."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("daily usage of a tenant member")
        verbose_name_plural = _("daily usage of tenant members")
        constraints = [
            models.UniqueConstraint(fields=["day", "tenant", "user"], name="tenant_day_usage_once"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.user_id} on {self.day}"


class TenantDayTotal(_DailyFigures):
    """The daily usage figures of one tenant (the reports by tenant, tier and home park)."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("daily usage of a tenant")
        verbose_name_plural = _("daily usage of tenants")
        constraints = [
            models.UniqueConstraint(fields=["day", "tenant"], name="tenant_day_total_once"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} on {self.day}"


class UsageChange(models.Model):
    """A journal row written by the database itself (triggers on bookings and usage records,
    in the writer's transaction) naming a daily cell to recompute: the booking's resource,
    tenant, user and start before or after the change, or only the booking (a usage record
    changed). Folded into the daily tables and deleted by ``booking.usage.daily``."""

    booking_id = models.BigIntegerField(null=True)
    resource_id = models.BigIntegerField(null=True)
    tenant_id = models.BigIntegerField(null=True)
    user_id = models.BigIntegerField(null=True)
    start = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("usage change")
        verbose_name_plural = _("usage changes")

    def __str__(self) -> str:
        return f"usage change {self.pk}"
