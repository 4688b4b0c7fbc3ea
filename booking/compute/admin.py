"""Admin of compute jobs (state fields are Slurm's, read-only)."""

from __future__ import annotations

from django.contrib import admin

from booking.compute.models import ComputeJob
from booking.compute.residency import CrossBoundaryApproval, TenantDataPolicy


@admin.register(ComputeJob)
class ComputeJobAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "tenant",
        "user",
        "cluster",
        "data_class",
        "partition",
        "gpus",
        "state",
        "slurm_job_id",
        "gpu_hours",
        "created_at",
    ]
    list_filter = ["state", "cluster", "data_class", "partition"]
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


@admin.register(TenantDataPolicy)
class TenantDataPolicyAdmin(admin.ModelAdmin):
    list_display = ["tenant", "default_data_class", "open_data_on_mainland"]
    filter_horizontal = ["allowed_clusters"]


@admin.register(CrossBoundaryApproval)
class CrossBoundaryApprovalAdmin(admin.ModelAdmin):
    """Granted by an operator (recorded), revoked by setting the revocation; never deleted, so
    the rows are the audit trail."""

    list_display = ["tenant", "reference", "granted_by", "granted_at", "expires_at", "revoked_at"]
    list_filter = ["tenant"]
    readonly_fields = ["granted_by", "granted_at", "revoked_by"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            obj.granted_by = request.user
        elif "revoked_at" in form.changed_data and obj.revoked_at:
            obj.revoked_by = request.user
        super().save_model(request, obj, form, change)
