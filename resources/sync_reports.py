"""The drift reports that ``slurm_sync`` writes: one row per reconciliation."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SlurmSyncReport(models.Model):
    """The outcome of one park → Slurm reconciliation (``slurm_sync``): what differed, what was
    changed, what failed. The newest row is the current drift report."""

    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    applied = models.BooleanField(_("changes applied"), default=False)
    in_step = models.BooleanField(_("park and Slurm agree"), default=False)
    drift_count = models.PositiveIntegerField(_("differences left"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    trigger = models.CharField(_("trigger"), max_length=60, blank=True)
    report = models.JSONField(_("report"), default=dict)
    text = models.TextField(_("report text"), blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("Slurm drift report")
        verbose_name_plural = _("Slurm drift reports")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} · {self.drift_count} differences"
