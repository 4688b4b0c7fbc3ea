from functools import partial

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from ninja.openapi.views import openapi_view

from booking.bookings import views as booking_views
from config import health
from config.api import api
from config.signin import ThrottledAdminAuthenticationForm

admin.site.site_header = _("Park booking — operations")
admin.site.site_title = _("Park booking")
admin.site.index_title = _("Catalogue, tenants, quotas and rounds")
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    # The sign-in page (password and single sign-on), the single sign-on steps.
    path("", include("booking.identity.urls")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", health.healthz, name="healthz"),
    path("", booking_views.home, name="home"),
    path("", include("booking.usage.urls")),
    # The member pages of each app, then the operator pages of rounds and the token pages.
    path("", include("booking.bookings.urls")),
    path("", include("booking.approvals.urls")),
    path("", include("booking.compute.urls")),
    path("", include("booking.billing.urls")),
    path("", include("booking.tenancy.urls")),
    path("rounds/", include("booking.rounds.urls")),
    path("account/tokens/", include("booking.tokens.urls")),
    path("account/reminders/", include("booking.notices.urls")),
    # The researcher API, and its docs also at the short, version-free address.
    path("api/v1/", api.urls),
    path("api/docs", partial(openapi_view, api=api), name="api-docs"),
]

if settings.BENCHMARK:
    # The ceiling for benchmarks/bench_api.py: the same server answering a constant.
    from config.bench import ceiling  # noqa: E402

    urlpatterns += [path("bench/ceiling", ceiling)]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()

handler400 = "config.http_errors.handler400"
handler403 = "config.http_errors.handler403"
handler404 = "config.http_errors.handler404"
handler500 = "config.http_errors.handler500"
