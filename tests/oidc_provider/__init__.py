"""A real OpenID Connect provider for the sign-in tests: a tiny Django project running
django-oauth-toolkit (discovery, authorize with a login form, token, userinfo, JWKS, RS256) in
its own process, with its own settings and SQLite file. See ``server.py``."""
