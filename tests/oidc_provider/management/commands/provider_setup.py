"""Create the provider's users and registered clients from a JSON file (idempotent)."""

import json
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from oauth2_provider.models import Application

from tests.oidc_provider.validator import UNVERIFIED_GROUP


class Command(BaseCommand):
    help = "Create users and clients: {'users': [...], 'clients': [...]} in the given file."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file, **options):
        spec = json.loads(Path(file).read_text())
        unverified, _ = Group.objects.get_or_create(name=UNVERIFIED_GROUP)
        for item in spec["users"]:
            user, _ = User.objects.get_or_create(username=item["username"])
            user.email = item["email"]
            user.first_name = item.get("first_name", "")
            user.last_name = item.get("last_name", "")
            user.set_password(item["password"])
            user.save()
            if not item.get("email_verified", True):
                user.groups.add(unverified)
        for item in spec["clients"]:
            Application.objects.filter(client_id=item["client_id"]).delete()
            Application.objects.create(
                name=item["client_id"],
                client_id=item["client_id"],
                client_secret=item["client_secret"],
                client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
                redirect_uris=" ".join(item["redirect_uris"]),
                algorithm=Application.RS256_ALGORITHM,
                skip_authorization=True,
            )
