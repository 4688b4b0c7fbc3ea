"""Compute jobs submitted to Slurm on behalf of a tenant's member."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from booking.bookings.models import Booking
from booking.tenancy.models import Tenant
from resources.clusters import Cluster
from resources.models import ResourcePool
from resources.slurm_park import JOB_NAME_PREFIX


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
    # Where it runs (null only for jobs stored before clusters were registered: the default).
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    data_class = models.CharField(_("data class"), max_length=24, default="hk_only")
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
    # Which batch claim holds the job while it is sent (``sending.jobs_send_batch``): the claim
    # is this token plus the lease in ``next_attempt_at``; a dead worker's claim lapses with it.
    claim_token = models.CharField(max_length=32, blank=True, default="")
    last_error = models.TextField(blank=True)
    reason = models.CharField(_("reason"), max_length=400, blank=True)
    # Why it ended, as a code with parameters (booking.compute.reasons renders them).
    reason_code = models.CharField(_("reason code"), max_length=40, blank=True)
    reason_params = models.JSONField(_("reason parameters"), default=dict, blank=True)
    exit_code = models.IntegerField(_("exit code"), null=True, blank=True)
    # A cancel asked of a job in Slurm: recorded here, sent by a worker (``job_cancel_send``)
    # until Slurm takes it; the job is "cancelling" until Slurm reports it ended.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_sent_at = models.DateTimeField(null=True, blank=True)
    cancel_attempts = models.PositiveIntegerField(default=0)
    next_cancel_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    gpu_hours = models.DecimalField(_("GPU-hours used"), max_digits=12, decimal_places=4, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "booking_computejob"
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
            # Ids of two clusters collide: one row per Slurm job of one cluster.
            models.UniqueConstraint(
                fields=["cluster", "slurm_job_id"],
                condition=Q(slurm_job_id__isnull=False),
                name="job_one_row_per_cluster_slurm_job",
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="job_followup_lookup")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_state_display()})"

    @property
    def slurm_name(self) -> str:
        """Name given to the job in Slurm; carries our id so a lost reply can be reconciled."""
        return f"{JOB_NAME_PREFIX}{self.pk}"

    @property
    def cancelling(self) -> bool:
        """A cancel was asked and Slurm has not reported the job ended yet."""
        return self.cancel_requested_at is not None and self.state in LIVE_JOB_STATES

    def held_gpu_hours(self) -> float:
        return self.gpus * self.time_limit_minutes / 60


# The residency models live beside the rule that reads them.
from booking.compute.residency import CrossBoundaryApproval, TenantDataPolicy  # noqa: E402,F401
