from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    """Projects (cost centres), rate cards, charges from usage and monthly statements in HKD."""

    name = "booking.billing"
    label = "billing"
    verbose_name = _("Billing")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from booking.billing.desk import BillingProjectDesk
        from booking.bookings.hooks import register_project_desk

        register_project_desk(BillingProjectDesk())
