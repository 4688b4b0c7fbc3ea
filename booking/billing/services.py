"""Billing writes: projects and their links, rate card versions, statements (refresh, close,
adjust). Pricing rules are in ``charges``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.billing import charges, monthly
from booking.billing.factors import cluster_factors
from booking.billing.factors import pool_clusters as _pool_clusters
from booking.billing.models import (
    BookingProject,
    JobProject,
    LineKind,
    Project,
    RateCard,
    Statement,
    StatementLine,
    StatementStatus,
)
from booking.bookings.models import Booking
from booking.compute.models import LIVE_JOB_STATES, ComputeJob
from booking.errors import Conflict, ParkError
from booking.tenancy.models import Tenant

# --------------------------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------------------------


def default_project(tenant: Tenant) -> Project:
    """The tenant's default project (created on first use, named after the tenant)."""
    project = Project.objects.filter(tenant=tenant, is_default=True).first()
    if project is None:
        project, _created = Project.objects.get_or_create(
            tenant=tenant,
            is_default=True,
            defaults={"name": _("General"), "principal_investigator": tenant.name[:120]},
        )
    return project


def project_create(
    *,
    tenant: Tenant,
    name: str,
    principal_investigator: str,
    funding_code: str = "",
    budget: Decimal | None = None,
    is_default: bool = False,
) -> Project:
    if budget is not None and budget < 0:
        raise ParkError("budget_negative", _("A budget is not negative."), field="budget")
    if Project.objects.filter(tenant=tenant, name=name).exists():
        raise Conflict("project_exists", _("The tenant has a project of this name."), field="name")
    with transaction.atomic():
        if is_default:
            Project.objects.filter(tenant=tenant, is_default=True).update(is_default=False)
        return Project.objects.create(
            tenant=tenant,
            name=name,
            principal_investigator=principal_investigator,
            funding_code=funding_code,
            budget=budget,
            is_default=is_default,
        )


def _check_project(project: Project, tenant_id: int) -> None:
    if project.tenant_id != tenant_id:
        raise ParkError(
            "project_of_other_tenant",
            _("The project belongs to another tenant."),
            field="project",
        )
    if not project.active:
        raise ParkError("project_inactive", _("The project is closed."), field="project")


def booking_project_set(*, booking: Booking, project: Project | None) -> Project:
    """Charge a booking to a project of its tenant (None: the tenant's default)."""
    project = project or default_project(booking.tenant)
    _check_project(project, booking.tenant_id)
    BookingProject.objects.update_or_create(booking=booking, defaults={"project": project})
    return project


def job_project_set(*, job: ComputeJob, project: Project | None) -> Project:
    """Charge a job to a project of its tenant (None: the tenant's default)."""
    project = project or default_project(job.tenant)
    _check_project(project, job.tenant_id)
    JobProject.objects.update_or_create(job=job, defaults={"project": project})
    return project


# --------------------------------------------------------------------------------------------
# Rate cards
# --------------------------------------------------------------------------------------------


def rate_card_publish(*, by=None, **fields) -> RateCard:
    """A new rate card version. Versions are never edited: a change is a new version with a
    later ``valid_from``; a version whose date has been used on a final statement is final too,
    so a new version may not start on or before the last closed month."""
    card = RateCard(created_by=by, **fields)
    card.full_clean()
    rate_card_check_date(card.valid_from)
    card.save()
    return card


def rate_card_check_date(valid_from: dt.date) -> None:
    """A new version may not start in (or before) a month already closed."""
    last_closed = (
        Statement.objects.filter(status=StatementStatus.FINAL)
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )
    if last_closed is not None and valid_from < _next_month(last_closed):
        raise ParkError(
            "rate_in_closed_month",
            _("%(month)s is closed; a new rate starts after it."),
            params={"month": f"{last_closed:%Y-%m}"},
            field="valid_from",
        )


def rate_book() -> charges.RateBook:
    return charges.RateBook(RateCard.objects.all())


# --------------------------------------------------------------------------------------------
# Statements
# --------------------------------------------------------------------------------------------


def month_start(value: dt.date) -> dt.date:
    return value.replace(day=1)


def _next_month(value: dt.date) -> dt.date:
    return (value.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def parse_month(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()
    except (TypeError, ValueError):
        raise ParkError("bad_month", _("Write the month as YYYY-MM."), field="month") from None


def _local(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def rmb_rate() -> Decimal | None:
    value = getattr(settings, "BILLING_RMB_PER_HKD", None)
    return Decimal(str(value)) if value not in (None, "") else None


def _job_rows(tenant, month: dt.date, pools: dict[int, str]):
    """Finished jobs without a booking: a list for one tenant, or for ``tenant=None`` a dict
    of lists by tenant."""
    rows = (
        ComputeJob.objects.filter(
            booking__isnull=True,
            ended_at__gte=_local(month),
            ended_at__lt=_local(_next_month(month)),
            gpu_hours__gt=0,
        )
        .exclude(state__in=LIVE_JOB_STATES)
        .values_list(
            "tenant_id",
            "started_at",
            "ended_at",
            "gpu_hours",
            "pool_id",
            "billing_link__project_id",
            "cluster__name",
        )
    )
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    default_cluster = getattr(settings, "SLURM_CLUSTER", "park")
    by_tenant: dict[int, list[charges.Job]] = {}
    for t, s, e, h, pool, project, ran_on in rows:
        by_tenant.setdefault(t, []).append(
            charges.Job(
                started_at=s,
                ended_at=e,
                gpu_hours=h,
                # Where the job ran (every job records it); older rows: its pool's cluster.
                cluster=ran_on or pools.get(pool, default_cluster),
                project_id=project,
            )
        )
    return by_tenant.get(tenant.pk, []) if tenant is not None else by_tenant


def _price_tenant(tenant, month, rates, factors, pools, groups, jobs=None) -> charges.Pricer:
    """A tenant's month priced: its bookings (summed up by the database, or row by row when
    ``groups`` is None), then its finished jobs."""
    pricer = charges.Pricer(rates=rates, tier=tenant.tier, factors=factors)
    with charges.pricing_zone():
        if groups is None:
            for usage in monthly.usage_rows(tenant, month):
                pricer.add_usage(usage)
        else:
            for group in groups.get(tenant.pk, ()):
                pricer.add_group(group)
        for job in jobs if jobs is not None else _job_rows(tenant, month, pools):
            pricer.add_job(job)
    return pricer


def _check_open(statement: Statement) -> None:
    if statement.is_final:
        raise Conflict(
            "statement_closed",
            _("This statement is closed and never changes; add an adjustment to an open month."),
        )


def statement_for(*, tenant: Tenant, month: dt.date) -> Statement:
    statement, _created = Statement.objects.get_or_create(tenant=tenant, month=month_start(month))
    return statement


def statement_refresh(
    *,
    statement: Statement,
    rates: charges.RateBook | None = None,
    factors: dict[str, Decimal] | None = None,
    pools: dict[int, str] | None = None,
    now: dt.datetime | None = None,
) -> Statement:
    """Rebuild a draft's charge lines from the usage records and finished jobs of its month
    (adjustment lines stay); the total is the sum of all lines. A final statement: refused."""
    tenant = statement.tenant
    with transaction.atomic():
        statement = Statement.objects.select_for_update().get(pk=statement.pk)
        _check_open(statement)
        rates = rates or rate_book()
        factors = factors if factors is not None else cluster_factors()
        pools = pools if pools is not None else _pool_clusters()
        groups = monthly.price_usage(
            month=statement.month, rates=rates, factors=factors, tenant_ids=[tenant.pk]
        )
        pricer = _price_tenant(tenant, statement.month, rates, factors, pools, groups)
        lines = pricer.lines()
        default_id = None
        if any(line.project_id is None for line in lines):
            default_id = default_project(tenant).pk
        StatementLine.objects.filter(statement=statement).exclude(kind=LineKind.ADJUSTMENT).delete()
        StatementLine.objects.bulk_create(
            [
                StatementLine(
                    statement=statement,
                    project_id=line.project_id or default_id,
                    kind=line.kind,
                    description=line.description,
                    resource_id=line.resource_id,
                    band=line.band,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    amount=line.amount,
                    items=line.items,
                )
                for line in lines
            ],
            batch_size=1000,
        )
        statement.total = _lines_total(statement)
        statement.rmb_rate = rmb_rate()
        statement.refreshed_at = now or timezone.now()
        statement.save(update_fields=["total", "rmb_rate", "refreshed_at"])
    return statement


def _lines_total(statement: Statement) -> Decimal:
    total = StatementLine.objects.filter(statement=statement).aggregate(t=Sum("amount"))["t"]
    return charges.money(total or Decimal(0))


def statement_close(
    *, statement: Statement, by=None, now: dt.datetime | None = None, **context
) -> Statement:
    """Refresh a draft one last time and make it final. It never changes afterwards."""
    now = now or timezone.now()
    if _local(_next_month(statement.month)) > now:
        raise ParkError(
            "month_not_over",
            _("%(month)s is not over yet."),
            params={"month": f"{statement.month:%Y-%m}"},
            field="month",
        )
    with transaction.atomic():
        statement = statement_refresh(statement=statement, now=now, **context)
        Statement.objects.filter(pk=statement.pk, status=StatementStatus.DRAFT).update(
            status=StatementStatus.FINAL, closed_at=now, closed_by=by
        )
        statement.refresh_from_db()
    return statement


def statements_close_month(*, month: dt.date, by=None, now: dt.datetime | None = None) -> dict:
    """Close every active tenant's statement of ``month`` in one transaction: the month closes
    for all tenants or, on any failure, for none. Already final ones are left alone, so a rerun
    is harmless. The bookings of all tenants are summed up in one query (``monthly``) and the
    lines written in one INSERT."""
    from booking.bulk import insert_rows

    month = month_start(month)
    now = now or timezone.now()
    if _local(_next_month(month)) > now:
        raise ParkError(
            "month_not_over",
            _("%(month)s is not over yet."),
            params={"month": f"{month:%Y-%m}"},
            field="month",
        )
    rates, factors, pools = rate_book(), cluster_factors(), _pool_clusters()
    with transaction.atomic():
        tenants = list(Tenant.objects.filter(active=True).order_by("pk"))
        have = set(Statement.objects.filter(month=month).values_list("tenant_id", flat=True))
        Statement.objects.bulk_create(
            [Statement(tenant=t, month=month) for t in tenants if t.pk not in have]
        )
        drafts = {
            s.tenant_id: s
            for s in Statement.objects.select_for_update().filter(
                month=month, status=StatementStatus.DRAFT, tenant__in=tenants
            )
        }
        groups = monthly.price_usage(month=month, rates=rates, factors=factors)
        jobs = _job_rows(None, month, pools)
        defaults = _default_projects([t for t in tenants if t.pk in drafts])
        StatementLine.objects.filter(statement__in=list(drafts.values())).exclude(
            kind=LineKind.ADJUSTMENT
        ).delete()
        totals = dict(
            StatementLine.objects.filter(statement__in=list(drafts.values()))
            .values_list("statement_id")
            .annotate(t=Sum("amount"))
            .values_list("statement_id", "t")
        )
        fields = [
            "statement_id", "project_id", "kind", "description", "resource_id", "band",
            "quantity", "unit_price", "amount", "items", "reason", "corrects_id",
            "created_by_id", "created_at",
        ]  # fmt: skip
        rows = []
        for tenant in tenants:
            statement = drafts.get(tenant.pk)
            if statement is None:
                continue
            pricer = _price_tenant(
                tenant, month, rates, factors, pools, groups, jobs.get(tenant.pk, [])
            )
            lines = pricer.lines()
            total = totals.get(statement.pk) or Decimal(0)
            for line in lines:
                total += line.amount
                rows.append(
                    (statement.pk, line.project_id or defaults[tenant.pk], line.kind,
                     line.description, line.resource_id, line.band, line.quantity,
                     line.unit_price, line.amount, line.items, "", None, None, now)
                )  # fmt: skip
            statement.total = charges.money(total)
        insert_rows(StatementLine, fields, rows)
        _totals_set(drafts.values())
        Statement.objects.filter(pk__in=[s.pk for s in drafts.values()]).update(
            rmb_rate=rmb_rate(),
            refreshed_at=now,
            status=StatementStatus.FINAL,
            closed_at=now,
            closed_by=by,
        )
    return {"closed": len(drafts), "already_final": len(tenants) - len(drafts)}


def _default_projects(tenants: list[Tenant]) -> dict[int, int]:
    """Each tenant's default project id, the missing ones created in one INSERT."""
    defaults = dict(
        Project.objects.filter(tenant_id__in=[t.pk for t in tenants], is_default=True).values_list(
            "tenant_id", "pk"
        )
    )
    missing = [t for t in tenants if t.pk not in defaults]
    if missing:
        Project.objects.bulk_create(
            [
                Project(
                    tenant=t,
                    is_default=True,
                    name=_("General"),
                    principal_investigator=t.name[:120],
                )
                for t in missing
            ]
        )
        defaults.update(
            Project.objects.filter(
                tenant_id__in=[t.pk for t in missing], is_default=True
            ).values_list("tenant_id", "pk")
        )
    return defaults


def _totals_set(statements) -> None:
    """Write each statement's ``total`` (one prepared UPDATE sent for all of them)."""
    table = connection.ops.quote_name(Statement._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET total = %s WHERE id = %s",
            [(s.total, s.pk) for s in statements],
        )


def adjustment_add(
    *, statement: Statement, amount: Decimal, reason: str, by, project: Project | None = None
) -> StatementLine:
    """A correction with who and why. On a draft it is a line of that draft; a final statement
    never changes, so its correction goes on the tenant's next open month, naming it."""
    reason = (reason or "").strip()
    if not reason:
        raise ParkError("reason_required", _("Say why the amount is corrected."), field="reason")
    amount = Decimal(amount)
    if amount != charges.money(amount) or not amount:
        raise ParkError(
            "bad_amount",
            _("A non-zero amount in HKD with at most two decimals."),
            field="amount",
        )
    tenant = statement.tenant
    project = project or default_project(tenant)
    _check_project(project, tenant.pk)
    with transaction.atomic():
        target, corrects = statement, None
        if statement.is_final:
            corrects = statement
            month = _next_month(statement.month)
            target = statement_for(tenant=tenant, month=month)
            while target.is_final:
                month = _next_month(month)
                target = statement_for(tenant=tenant, month=month)
        target = Statement.objects.select_for_update().get(pk=target.pk)
        _check_open(target)
        line = StatementLine.objects.create(
            statement=target,
            project=project,
            kind=LineKind.ADJUSTMENT,
            description=(
                _("Correction of %(month)s") % {"month": f"{corrects.month:%Y-%m}"}
                if corrects
                else _("Adjustment")
            ),
            amount=amount,
            reason=reason[:300],
            corrects=corrects,
            created_by=by,
        )
        target.total = _lines_total(target)
        target.save(update_fields=["total"])
    return line
