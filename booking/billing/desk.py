"""Billing's side of ``booking.bookings.hooks.ProjectDesk``: a booking or a job names the
project it is charged to; registered by ``BillingConfig.ready``."""

from __future__ import annotations

from django.utils.translation import gettext as _

from booking.billing import services
from booking.billing.models import Project
from booking.errors import ParkError


class BillingProjectDesk:
    def check(self, *, tenant, project: int | None) -> Project | None:
        if project is None:
            return None
        found = Project.objects.filter(tenant=tenant, pk=project).first()
        if found is None:  # another tenant's project is not named, just unknown
            raise ParkError(
                "unknown_project",
                _("Your tenant has no project with this id."),
                field="project",
                status=422,
            )
        if not found.active:
            raise ParkError(
                "project_inactive",
                _("The project is closed."),
                field="project",
                status=422,
            )
        return found

    def attach(self, *, project, booking=None, job=None) -> None:
        if project is None:
            return  # no link: the tenant's default project is charged
        if booking is not None:
            services.booking_project_set(booking=booking, project=project)
        if job is not None:
            services.job_project_set(job=job, project=project)

    def choices(self, *, tenants) -> list[tuple[int, int, str, bool]]:
        for tenant in tenants:
            services.default_project(tenant)  # every tenant can be charged to its default
        rows = Project.objects.filter(tenant__in=list(tenants), active=True).order_by(
            "tenant_id", "-is_default", "name"
        )
        return [(p.tenant_id, p.pk, p.name, p.is_default) for p in rows]
