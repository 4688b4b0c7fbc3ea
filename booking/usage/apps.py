from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsageConfig(AppConfig):
    """Use as it really happens: check-in/out, no-shows, line run records, usage reports."""

    name = "booking.usage"
    label = "usage"
    verbose_name = _("Usage")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from booking.rounds.weights import register_weight_factor
        from booking.tenancy.usage import register_usage_source
        from booking.usage.selectors import charged_hours_adjustment, no_show_weight_factor

        # Quotas count hours used once a booking is closed (booking.tenancy.usage).
        register_usage_source(charged_hours_adjustment)
        # No-shows may lower a tenant's weight in the next rounds (the usage policy says).
        register_weight_factor(no_show_weight_factor)
