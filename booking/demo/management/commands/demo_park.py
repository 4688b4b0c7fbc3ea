from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from booking.demo.build import demo_build
from booking.errors import ParkError


def _details(error: ValidationError) -> str:
    return "; ".join(
        f"{field}: {' '.join(messages)}"
        for field, messages in getattr(error, "message_dict", {"": error.messages}).items()
    )


class Command(BaseCommand):
    help = (
        "Build the demo park (catalogue, tenants, trainings, quotas, a month of bookings, jobs, "
        "rounds, usage and statements); whatever exists already is left as it is."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, seed: int, **options):
        try:
            report = demo_build(seed=seed)
        except ValidationError as error:  # built in one transaction: nothing was saved
            raise CommandError(
                f"The demo park was not built (nothing saved): {_details(error)}"
            ) from None
        except ParkError as error:
            raise CommandError(
                f"The demo park was not built (nothing saved): {error.code}: {error.message}"
            ) from None
        if not (report.built_catalogue or report.built_activity):
            self.stdout.write("The demo park exists already; nothing changed.")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo park built in {report.seconds:.1f} s ({report.cpu_seconds:.1f} s CPU)."
                )
            )
        if options["verbosity"] < 1:  # make run prints the logins itself, once, last
            return
        if options["verbosity"] >= 2:
            for name, value in report.counts.items():
                self.stdout.write(f"  {name}: {value}")
            for name, seconds in report.timings.items():
                self.stdout.write(f"  {name}: {seconds:.1f} s")
        logins = report.logins
        self.stdout.write(f"  operator (admin):         {logins.operator} / {logins.password}")
        self.stdout.write(
            f"  tenant manager ({logins.tenant}): {logins.manager} / {logins.password}"
        )
        self.stdout.write(
            f"  tenant member ({logins.tenant}):  {logins.member} / {logins.password}"
        )
