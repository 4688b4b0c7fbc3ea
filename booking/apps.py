from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = _("Tenants and bookings")

    def ready(self) -> None:
        from booking import slurm_hooks

        slurm_hooks.connect()
