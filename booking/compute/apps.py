from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComputeConfig(AppConfig):
    name = "booking.compute"
    label = "compute"
    verbose_name = _("Compute jobs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Jobs outside bookings hold GPU-hours of the tenant's quota.
        from booking.compute.selectors import job_hours_held
        from booking.tenancy.usage import register_usage_source

        register_usage_source(job_hours_held)

        # Changes to tenants, memberships, quotas and bookings ask for a Slurm reconciliation.
        from booking.compute import slurm_hooks

        slurm_hooks.connect()
