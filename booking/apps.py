from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingConfig(AppConfig):
    """The ``booking`` package itself: the pieces every app shares (errors, ids, mail, API
    basics) and the migration history of the tables, which the apps below now own."""

    name = "booking"
    verbose_name = _("Park booking")
