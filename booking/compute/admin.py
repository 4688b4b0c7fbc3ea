"""Admin of compute jobs (state fields are Slurm's, read-only)."""

from __future__ import annotations

from django.contrib import admin

from booking.compute.models import ComputeJob


@admin.register(ComputeJob)
class ComputeJobAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "tenant",
        "user",
        "partition",
        "gpus",
        "state",
        "slurm_job_id",
        "gpu_hours",
        "created_at",
    ]
    list_filter = ["state", "partition"]
    search_fields = ["name", "tenant__name", "user__username", "slurm_job_id"]
    readonly_fields = [
        "state",
        "slurm_job_id",
        "submit_attempts",
        "last_error",
        "exit_code",
        "submitted_at",
        "started_at",
        "ended_at",
        "gpu_hours",
    ]
