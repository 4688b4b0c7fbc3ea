"""Close every tenant's statement of a month: ``manage.py statements_close --month 2026-03``."""

from django.core.management.base import BaseCommand, CommandError

from booking.billing import services
from booking.errors import ParkError


class Command(BaseCommand):
    help = "Close (make final) every active tenant's statement of a month (YYYY-MM)."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="The month to close, YYYY-MM.")

    def handle(self, *args, month, **options):
        try:
            result = services.statements_close_month(month=services.parse_month(month))
        except ParkError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(
            f"{month}: closed {result['closed']} statements, "
            f"{result['already_final']} already final."
        )
