"""Allocation rounds: a period of round-booked resources planned together at a cut-off."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


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
        db_table = "booking_allocationround"
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


class WhatIfPreview(models.Model):
    """A what-if asked by an operator: the changes asked for, and the changed outcomes once a
    worker has planned them (``rounds.tasks.what_if_preview_task``). ``plan_digest`` is the
    round's plan when it was asked; a preview of a plan that has changed since is stale."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting for the planner")
        RUNNING = "running", _("Planner running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        STALE = "stale", _("Out of date")

    allocation_round = models.ForeignKey(
        AllocationRound, on_delete=models.CASCADE, related_name="what_if_previews"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    weights = models.JSONField(default=dict)
    quotas = models.JSONField(default=dict)
    plan_digest = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # The changed outcomes: [{"booking": pk, "kind": ..., "before": {...}, "after": {...}}].
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("what-if preview")
        verbose_name_plural = _("what-if previews")

    def __str__(self) -> str:
        return f"{self.allocation_round} · {self.pk}"
