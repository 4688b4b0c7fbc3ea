"""Remember the language a signed-in user chose for the site (e-mails to them are written in it)."""

from __future__ import annotations

from django.conf import settings

from booking.tenancy.services import language_remember

SESSION_KEY = "park_language"


class RememberLanguageMiddleware:
    """After ``LocaleMiddleware`` and authentication: when a signed-in user reads the site in a
    language they chose (the language cookie the language menu sets) that this session has not
    recorded yet, store it. One write per change, no query otherwise."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        user = getattr(request, "user", None)
        language = getattr(request, "LANGUAGE_CODE", None)
        if chosen and language and user is not None and user.is_authenticated:
            if request.session.get(SESSION_KEY) != language:
                language_remember(user=user, language=language)
                request.session[SESSION_KEY] = language
        return self.get_response(request)
