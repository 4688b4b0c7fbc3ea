"""Write an allocation round as a planning problem (JSON), to reproduce or audit it outside the app:

manage.py export_round 12 problem.json [--plan plan.json] [--fresh]
python -m scheduler solve problem.json --time-limit 10 --out plan.json
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

import scheduler
from booking.rounds.adapter import round_problem_build
from booking.rounds.models import AllocationRound
from booking.rounds.outcomes import stored_problem


class Command(BaseCommand):
    help = "Export a round's planning problem (and its stored plan) as JSON."

    def add_arguments(self, parser):
        parser.add_argument("round_id", type=int)
        parser.add_argument("out", help="file to write the problem to ('-' for standard output)")
        parser.add_argument("--plan", help="also write the stored plan to this file")
        parser.add_argument(
            "--fresh",
            action="store_true",
            help="build the problem from the database now, not the one the planner last solved",
        )

    def handle(self, *args, round_id, out, plan=None, fresh=False, **options):
        rnd = AllocationRound.objects.filter(pk=round_id).first()
        if rnd is None:
            raise CommandError(f"no allocation round {round_id}")
        stored = stored_problem(rnd)
        if stored is not None and not fresh:
            problem_doc = rnd.plan["problem"]
        else:
            problem_doc = json.loads(
                scheduler.problem_to_json(round_problem_build(allocation_round=rnd).problem)
            )
        text = json.dumps(problem_doc, indent=2, ensure_ascii=False) + "\n"
        if out == "-":
            self.stdout.write(text, ending="")
        else:
            Path(out).write_text(text, encoding="utf-8")
            self.stderr.write(
                f"round {rnd.pk} ({rnd.name}): {len(problem_doc['requests'])} requests, "
                f"{len(problem_doc['resources'])} resources, {len(problem_doc['tenants'])} tenants "
                f"→ {out}"
            )
        if plan:
            if stored is None:
                raise CommandError(f"round {round_id} has not been planned yet; no plan to write")
            Path(plan).write_text(
                json.dumps(rnd.plan["plan"], indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
