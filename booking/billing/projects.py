"""Managers keeping their projects: edit and archive (creating one is
``services.project_create``)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from booking.billing.models import Project
from booking.errors import Conflict, ParkError


def project_update(*, project: Project, name: str, **fields) -> Project:
    """Change a project's name, principal investigator, funding code or budget."""
    if fields.get("budget") is not None and fields["budget"] < 0:
        raise ParkError("budget_negative", _("A budget is not negative."), field="budget")
    if Project.objects.filter(tenant=project.tenant_id, name=name).exclude(pk=project.pk).exists():
        raise Conflict("project_exists", _("The tenant has a project of this name."), field="name")
    for key, value in {"name": name, **fields}.items():
        setattr(project, key, value)
    project.save()
    return project


def project_archive(*, project: Project) -> Project:
    """Archive a project: no new bookings or jobs are charged to it (its lines stay)."""
    if project.is_default:
        raise ParkError(
            "default_project", _("The default project stays; archive another one."), field=""
        )
    project.active = False
    project.save(update_fields=["active"])
    return project
