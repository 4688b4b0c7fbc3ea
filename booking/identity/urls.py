from django.urls import path

from booking.identity import views

# The names are global: mozilla-django-oidc reverses the callback by the name in
# settings.OIDC_AUTHENTICATION_CALLBACK_URL.
urlpatterns = [
    path("accounts/login/", views.signin, name="login"),
    path("accounts/sso/start/", views.OidcStartView.as_view(), name="oidc_start"),
    path("accounts/sso/callback/", views.OidcCallbackView.as_view(), name="oidc_callback"),
    path("accounts/no-tenant/", views.no_tenant, name="no_tenant"),
]
