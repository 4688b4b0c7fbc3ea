"""Open a demo allocation round, fill it with requests from the demo members and plan it.

    manage.py demo_round [--requests 200] [--seed 11] [--time-limit 10] [--keep-open]

Prints the solve figures (requests, granted, floor, Jain's index, utilisation, times).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from booking.rounds.demo_rounds import demo_round_fill, demo_round_open
from booking.rounds.lifecycle import round_close
from booking.rounds.models import AllocationRound
from booking.rounds.solving import round_plan_solve


class Command(BaseCommand):
    help = "Open, fill and plan a demo allocation round on the demo park."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=200)
        parser.add_argument("--seed", type=int, default=11)
        parser.add_argument("--time-limit", type=int, default=10)
        parser.add_argument("--keep-open", action="store_true", help="fill it but do not plan it")
        parser.add_argument(
            "--mail", action="store_true", help="send the request e-mails (default: none)"
        )

    def handle(self, *args, requests, seed, time_limit, keep_open, mail, **options):
        rnd = demo_round_open(time_limit_seconds=time_limit)
        t0 = time.perf_counter()
        # Demo members are made up: their "request received" mails go nowhere unless asked.
        quiet = {"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}}
        with override_settings(**({} if mail else {"MAILERS": quiet})):
            made = demo_round_fill(allocation_round=rnd, requests=requests, seed=seed)
        self.stdout.write(
            f"round {rnd.pk} “{rnd.name}”: {made} requests ({time.perf_counter() - t0:.1f} s)"
        )
        if keep_open:
            return
        rnd = round_close(allocation_round=rnd)
        # Planned in this process (not through the queue) so the figures can be printed here.
        AllocationRound.objects.filter(pk=rnd.pk).update(status=AllocationRound.Status.SOLVING)
        t0 = time.perf_counter()
        rnd = round_plan_solve(round_id=rnd.pk)
        wall = time.perf_counter() - t0
        if rnd is None:
            self.stderr.write("the planner failed; see the round's error")
            return
        f = rnd.figures
        self.stdout.write(
            f"planned in {wall:.2f} s (build {f['build_time']:.2f} s, solver {f['wall_time']:.2f} s, "
            f"status {f['status']}): {f['granted']} granted ({f['moved']} moved), "
            f"{f['waitlisted']} waitlisted, {f['refused']} refused; floor {f['floor']:.3f}"
            f" (bound {f.get('bound_floor')}), Jain {f['jain']:.3f}, utilisation {f['utilisation']:.1%}"
        )
        self.stdout.write(f"review it at /rounds/{rnd.pk}/")
