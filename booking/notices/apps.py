from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NoticesConfig(AppConfig):
    """Reminders and notices: booking starts, expiring trainings, quota use, round cut-offs."""

    name = "booking.notices"
    label = "notices"
    verbose_name = _("Reminders and notices")
    default_auto_field = "django.db.models.BigAutoField"
