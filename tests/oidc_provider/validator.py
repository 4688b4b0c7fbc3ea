from oauth2_provider.oauth2_validators import OAuth2Validator

# Users of this group have an e-mail address the provider has not verified.
UNVERIFIED_GROUP = "unverified-email"


class ClaimsValidator(OAuth2Validator):
    """The standard claims of the provider's users, released by scope (email, profile)."""

    def get_additional_claims(self, request):
        user = request.user
        return {
            "email": user.email,
            "email_verified": not user.groups.filter(name=UNVERIFIED_GROUP).exists(),
            "name": user.get_full_name(),
            "given_name": user.first_name,
            "family_name": user.last_name,
            "preferred_username": user.username,
        }
