"""Managers keep their projects: add, edit, archive (the default stays); members and other
tenants get 404; the page speaks Chinese."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from booking.billing import services
from booking.billing.models import Project


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def bob(park):
    return client_for(park.bob)


def test_a_manager_adds_edits_and_archives_a_project(park, bob):
    page = bob.get("/tenants/acme/projects/")
    assert page.status_code == 200 and b"General" in page.content  # the default, made on demand
    data = {
        "name": "Wafer study",
        "principal_investigator": "Dr Chan",
        "funding_code": "ITF-123",
        "budget": "50000.00",
    }
    assert bob.post("/tenants/acme/projects/", data).status_code == 302
    project = Project.objects.get(tenant=park.acme, name="Wafer study")
    assert (project.funding_code, project.budget) == ("ITF-123", Decimal("50000.00"))
    page = bob.post("/tenants/acme/projects/", data)
    assert page.status_code == 422 and Project.objects.filter(name="Wafer study").count() == 1
    page = bob.post("/tenants/acme/projects/", {**data, "name": "Other", "budget": "-1"})
    assert page.status_code == 422 and not Project.objects.filter(name="Other").exists()
    url = f"/tenants/acme/projects/{project.pk}/"
    assert bob.get(url).status_code == 200
    assert bob.post(url, {**data, "principal_investigator": "Dr Wong"}).status_code == 302
    project.refresh_from_db()
    assert project.principal_investigator == "Dr Wong"
    assert bob.post(url, {"action": "archive"}).status_code == 302
    project.refresh_from_db()
    assert not project.active
    default = services.default_project(park.acme)
    bob.post(f"/tenants/acme/projects/{default.pk}/", {"action": "archive"})
    default.refresh_from_db()
    assert default.active


def test_members_and_other_tenants_get_404(park, bob):
    theirs = services.project_create(tenant=park.globex, name="Secret", principal_investigator="X")
    assert client_for(park.alice).get("/tenants/acme/projects/").status_code == 404
    assert client_for(park.charlie).get("/tenants/acme/projects/").status_code == 404
    assert bob.get("/tenants/globex/projects/").status_code == 404
    assert bob.get(f"/tenants/acme/projects/{theirs.pk}/").status_code == 404
    response = bob.post(f"/tenants/acme/projects/{theirs.pk}/", {"action": "archive"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.active
    assert bob.get("/tenants/acme/projects/1x/").status_code == 404


@pytest.mark.parametrize(
    ("language", "word"), [("zh-hant", "項目負責人"), ("zh-hans", "项目负责人")]
)
def test_the_projects_page_in_chinese(park, bob, language, word):
    page = bob.get("/tenants/acme/projects/", HTTP_ACCEPT_LANGUAGE=language)
    text = page.content.decode()
    assert word in text and "Principal investigator" not in text and "New project" not in text
