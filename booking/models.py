"""Tenants, memberships, quotas and their audit history, bookings, allocation rounds and compute jobs."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from resources.models import Park, Recipe, Resource, ResourceKind, ResourcePool


class Tier(models.TextChoices):
    STARTUP = "startup", _("Start-up")
    ENTERPRISE = "enterprise", _("Enterprise")
    ACADEMIC = "academic", _("Academic / institute")


class Period(models.TextChoices):
    WEEK = "week", _("Week")
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")


class Tenant(models.Model):
    name = models.CharField(_("name"), max_length=160, unique=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    tier = models.CharField(_("tier"), max_length=12, choices=Tier.choices)
    home_park = models.CharField(_("home park"), max_length=2, choices=Park.choices)
    weight = models.DecimalField(
        _("fair-share weight"),
        max_digits=8,
        decimal_places=3,
        default=1,
        help_text=_(
            "Relative share of contended capacity; entitlement = weight / Σ weights × capacity."
        ),
    )
    slurm_account = models.SlugField(_("Slurm account"), max_length=60, unique=True)
    active = models.BooleanField(_("active"), default=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        related_name="tenants",
        verbose_name=_("members"),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gt=0),
                name="tenant_weight_positive",
                violation_error_message=_("A fair-share weight must be above 0."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        MANAGER = "manager", _("Manager")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=8, choices=Role.choices, default=Role.MEMBER)
    cluster_username = models.CharField(
        _("cluster user name"),
        max_length=60,
        blank=True,
        help_text=_("The user's identity on the compute cluster; needed to submit jobs."),
    )
    joined_at = models.DateTimeField(_("joined"), auto_now_add=True)

    class Meta:
        ordering = ["tenant", "user"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "tenant"], name="membership_one_per_user_and_tenant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.get_role_display()})"


class Quota(models.Model):
    """A hard cap on a tenant's hours of one resource class per period."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="quotas")
    resource_class = models.CharField(
        _("resource class"), max_length=12, choices=ResourceKind.choices
    )
    period = models.CharField(_("period"), max_length=8, choices=Period.choices)
    hours = models.DecimalField(_("hours"), max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["tenant", "resource_class", "period"]
        verbose_name = _("quota")
        verbose_name_plural = _("quotas")
        constraints = [
            models.CheckConstraint(
                condition=Q(hours__gte=0),
                name="quota_hours_not_negative",
                violation_error_message=_("A quota cannot be negative."),
            ),
            models.UniqueConstraint(
                fields=["tenant", "resource_class", "period"],
                name="quota_one_per_tenant_class_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.hours} h {self.get_resource_class_display()} / {self.get_period_display()}"

    def clean(self) -> None:
        if self.hours is not None and self.hours < 0:
            raise ValidationError({"hours": _("A quota cannot be negative.")})


class QuotaChange(models.Model):
    """Audit history of quota and weight changes: who, when, what, old → new. Append-only."""

    class Field(models.TextChoices):
        QUOTA = "quota", _("Quota")
        WEIGHT = "weight", _("Fair-share weight")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="quota_changes")
    field = models.CharField(_("what"), max_length=8, choices=Field.choices)
    resource_class = models.CharField(
        _("resource class"), max_length=12, choices=ResourceKind.choices, blank=True
    )
    period = models.CharField(_("period"), max_length=8, choices=Period.choices, blank=True)
    old_value = models.DecimalField(
        _("old value"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    new_value = models.DecimalField(
        _("new value"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("quota and weight change")
        verbose_name_plural = _("quota and weight history")

    def __str__(self) -> str:
        return f"{self.tenant} {self.field}: {self.old_value} → {self.new_value}"


class AllocationRound(models.Model):
    """A planning round for round-booked resources over ``period_start``–``period_end``."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open for requests")
        CLOSED = "closed", _("Closed, waiting for the planner")
        SOLVING = "solving", _("Planner running")
        SOLVED = "solved", _("Planned, under review")
        PUBLISHED = "published", _("Published")

    name = models.CharField(_("name"), max_length=120)
    period_start = models.DateTimeField(_("period start"))
    period_end = models.DateTimeField(_("period end"))
    cutoff = models.DateTimeField(_("cut-off"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    time_limit_seconds = models.PositiveIntegerField(_("planner time limit (s)"), default=10)
    plan = models.JSONField(_("plan"), null=True, blank=True, editable=False)
    figures = models.JSONField(_("fairness figures"), null=True, blank=True, editable=False)
    # Progress of the planner, shown to the operator while the huey task runs.
    solve_started_at = models.DateTimeField(
        _("planner started at"), null=True, blank=True, editable=False
    )
    solve_error = models.TextField(_("planner error"), blank=True, editable=False)
    solved_at = models.DateTimeField(_("solved at"), null=True, blank=True, editable=False)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start"]
        verbose_name = _("allocation round")
        verbose_name_plural = _("allocation rounds")
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gt=F("period_start")), name="round_period_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(cutoff__lte=F("period_start")),
                name="round_cutoff_not_after_period_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.period_start and self.period_end and self.period_end <= self.period_start:
            errors["period_end"] = _("The period must end after it starts.")
        if self.cutoff and self.period_start and self.cutoff > self.period_start:
            errors["cutoff"] = _("The cut-off must not be after the period starts.")
        if errors:
            raise ValidationError(errors)


class BookingStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    CONFIRMED = "confirmed", _("Confirmed")
    REFUSED = "refused", _("Refused")
    WAITLISTED = "waitlisted", _("Waitlisted")
    CANCELLED = "cancelled", _("Cancelled")
    COMPLETED = "completed", _("Completed")
    IN_USE = "in_use", _("In use")
    NO_SHOW = "no_show", _("No-show")


# Statuses that hold capacity on a resource.
HOLDING_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.IN_USE, BookingStatus.COMPLETED)


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
        AllocationRound, null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    title = models.CharField(_("title"), max_length=200)
    units = models.PositiveSmallIntegerField(
        _("units"), default=1, help_text=_("GPUs on a GPU node; 1 otherwise.")
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
    status = models.CharField(_("status"), max_length=10, choices=BookingStatus.choices)
    reason_code = models.CharField(_("reason code"), max_length=40, blank=True)
    reason_text = models.CharField(_("reason"), max_length=400, blank=True)
    # Denormalised from the resource: capacity-1 bookings are guarded by an
    # exclusion constraint on PostgreSQL.
    exclusive = models.BooleanField(default=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
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
            models.CheckConstraint(
                condition=Q(duration_minutes__isnull=True) | Q(duration_minutes__gte=1),
                name="booking_duration_positive",
            ),
            models.CheckConstraint(
                condition=Q(resource__isnull=False) | Q(pool__isnull=False),
                name="booking_names_resource_or_pool",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["confirmed", "in_use", "completed", "no_show"])
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
    """Every status change of a booking, with who and when."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, choices=BookingStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=BookingStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["booking", "at", "id"]
        verbose_name = _("booking event")
        verbose_name_plural = _("booking events")

    def __str__(self) -> str:
        return f"{self.booking_id}: {self.from_status or '∅'} → {self.to_status}"


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued for submission")
    PENDING = "pending", _("Pending in Slurm")
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    TIMEOUT = "timeout", _("Timed out")


LIVE_JOB_STATES = (JobState.QUEUED, JobState.PENDING, JobState.RUNNING)


class ComputeJob(models.Model):
    """A batch job submitted to Slurm on behalf of a tenant's member."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="jobs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs"
    )
    booking = models.ForeignKey(
        Booking, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    pool = models.ForeignKey(
        ResourcePool, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(_("name"), max_length=120)
    script = models.TextField(_("batch script"))
    partition = models.CharField(_("partition"), max_length=60)
    gpus = models.PositiveSmallIntegerField(_("GPUs"), default=0)
    cpus = models.PositiveSmallIntegerField(_("CPUs"), default=1)
    memory_mb = models.PositiveIntegerField(_("memory (MB)"), default=1024)
    time_limit_minutes = models.PositiveIntegerField(_("time limit (minutes)"))
    state = models.CharField(
        _("state"), max_length=10, choices=JobState.choices, default=JobState.QUEUED
    )
    slurm_job_id = models.PositiveBigIntegerField(_("Slurm job id"), null=True, blank=True)
    submit_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    reason = models.CharField(_("reason"), max_length=400, blank=True)
    exit_code = models.IntegerField(_("exit code"), null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    gpu_hours = models.DecimalField(_("GPU-hours used"), max_digits=12, decimal_places=4, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("compute job")
        verbose_name_plural = _("compute jobs")
        constraints = [
            models.CheckConstraint(condition=Q(cpus__gte=1), name="job_cpus_positive"),
            models.CheckConstraint(condition=Q(memory_mb__gte=1), name="job_memory_positive"),
            models.CheckConstraint(
                condition=Q(time_limit_minutes__gte=1), name="job_time_limit_positive"
            ),
            models.CheckConstraint(
                condition=Q(gpu_hours__gte=0), name="job_gpu_hours_not_negative"
            ),
            models.UniqueConstraint(
                fields=["slurm_job_id"],
                condition=Q(slurm_job_id__isnull=False),
                name="job_one_row_per_slurm_job",
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="job_followup_lookup")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_state_display()})"

    @property
    def slurm_name(self) -> str:
        """Name given to the job in Slurm; carries our id so a lost reply can be reconciled."""
        return f"park-{self.pk}"

    def held_gpu_hours(self) -> float:
        return self.gpus * self.time_limit_minutes / 60


class ApiScope(models.TextChoices):
    READ = "read", _("Read catalogue, bookings, rounds, quotas and jobs")
    BOOK = "book", _("Create and cancel bookings and round requests")
    JOBS = "jobs", _("Submit and cancel compute jobs")


class ApiToken(models.Model):
    """A researcher's personal API token, scoped to one tenant.

    Only a SHA-256 hash of the secret is stored; ``prefix`` is the public part of the token
    used to find the row and to show the token in lists.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=80)
    scopes = models.JSONField(_("scopes"), default=list)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    expires_at = models.DateTimeField(_("expires"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyRecord(models.Model):
    """The first answer to a create request sent with an ``Idempotency-Key``, replayed on retries.

    The row is inserted first in the request's transaction, so a concurrent retry with the same
    key waits on the unique index and then reads the committed answer.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class CalendarFeedToken(models.Model):
    """The secret in a user's private iCal feed URL. Only a SHA-256 hash is stored, so a leaked
    database does not leak feeds; regenerating replaces the row and the old URL stops working."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("calendar feed link")
        verbose_name_plural = _("calendar feed links")

    def __str__(self) -> str:
        return f"{self.user} calendar feed"
