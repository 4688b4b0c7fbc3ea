from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from booking.rounds.demo import DEMO_PASSWORD, demo_exists, demo_park_build


class Command(BaseCommand):
    help = "Build the demo park (catalogue, tenants, members, trainings, quotas) unless it exists."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, seed: int, **options):
        if demo_exists():
            self.stdout.write("The demo park exists already; nothing changed.")
            self.stdout.write(f"Demo logins (password {DEMO_PASSWORD}): operator, manager, member")
            return
        try:
            logins = demo_park_build(seed=seed)
        except ValidationError as error:  # built in one transaction: nothing was saved
            details = "; ".join(
                f"{field}: {' '.join(messages)}"
                for field, messages in getattr(error, "message_dict", {"": error.messages}).items()
            )
            raise CommandError(f"The demo park was not built (nothing saved): {details}") from None
        self.stdout.write(self.style.SUCCESS("Demo park built."))
        self.stdout.write(f"  operator (admin):         {logins.operator} / {logins.password}")
        self.stdout.write(
            f"  tenant manager ({logins.tenant}): {logins.manager} / {logins.password}"
        )
        self.stdout.write(
            f"  tenant member ({logins.tenant}):  {logins.member} / {logins.password}"
        )
