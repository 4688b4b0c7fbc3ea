"""manage.py slurm_sync_nodes [--apply] [--cluster NAME] [--location ID]

Reports drift between Slurm's GPU nodes and the catalogue; with --apply imports missing nodes,
sets drifted fields to Slurm's values and groups nodes into "any <model>" pools. Exits 1 when,
without --apply, the catalogue and Slurm disagree (usable in a cron check).
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from resources.models import Location
from resources.slurm import SlurmError, client_from_settings
from resources.slurm_sync import slurm_nodes_sync


class Command(BaseCommand):
    help = "Import the Slurm cluster's GPU nodes and partitions into the catalogue; report drift."

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="change the catalogue")
        parser.add_argument(
            "--cluster",
            default=None,
            help="cluster name in the catalogue (default: the SLURM_CLUSTER setting)",
        )
        parser.add_argument("--location", type=int, default=None, help="location id for new nodes")

    def handle(self, *args, apply: bool, cluster: str | None, location: int | None, **options):
        cluster = cluster or getattr(settings, "SLURM_CLUSTER", "") or ""
        if not cluster:
            raise CommandError("no cluster name: pass --cluster or set SLURM_CLUSTER")
        where = None
        if location is not None:
            where = Location.objects.filter(pk=location).first()
            if where is None:
                raise CommandError(f"no location with id {location}")
        try:
            with client_from_settings() as client:
                report = slurm_nodes_sync(
                    client=client, cluster=cluster, apply=apply, location=where
                )
        except SlurmError as error:
            raise CommandError(f"Slurm: {error}") from error
        out = self.stdout
        out.write(f"cluster {cluster}")
        for title, lines in (
            ("partitions", report.partitions),
            ("created", report.created),
            ("updated", report.updated),
            ("drift", report.drift),
            ("missing in Slurm", report.missing_in_slurm),
            ("unavailable in Slurm", report.unavailable),
            ("pools", report.pools),
        ):
            if lines:
                out.write(f"{title}:")
                for line in lines:
                    out.write(f"  {line}")
        if report.in_step:
            out.write(self.style.SUCCESS("catalogue and Slurm agree"))
        elif not apply:
            out.write(self.style.WARNING("catalogue and Slurm disagree (run with --apply to fix)"))
            raise SystemExit(1)
