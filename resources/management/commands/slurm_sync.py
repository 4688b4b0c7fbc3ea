"""manage.py slurm_sync [--apply]

Prints the drift between the park and Slurm (nodes, partitions, accounts, associations, limits,
reservations) and changes nothing; with --apply reconciles it. Either way the report is stored
(admin: Slurm drift reports). Exits 1 when the two disagree afterwards (usable in a cron check).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from resources.slurm_reconcile import SyncBusy, slurm_sync_run


class Command(BaseCommand):
    help = "Report (and with --apply reconcile) the differences between the park and Slurm."

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="change Slurm (and the catalogue)")
        parser.add_argument(
            "--cluster", default=None, help="only this registered cluster (default: every one)"
        )

    def handle(self, *args, apply: bool, cluster: str | None = None, **options):
        try:
            result = slurm_sync_run(
                apply=apply, trigger="manage.py slurm_sync", cluster=cluster or None
            )
        except SyncBusy as busy:
            raise CommandError("another slurm_sync is running; try again shortly") from busy
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        for line in result.as_text().splitlines():
            if line.startswith("error"):
                self.stdout.write(self.style.ERROR(line))
            elif line.startswith("drift"):
                self.stdout.write(self.style.WARNING(line))
            else:
                self.stdout.write(line)
        if not result.in_step:
            raise SystemExit(1)
