"""Member pages (catalogue, resource calendars, booking, my bookings, compute jobs, calendar
feed) and the pages other parts of the booking app include under their own prefixes."""

from importlib.util import find_spec

from django.urls import include, path

from booking import views, views_jobs

urlpatterns = [
    path("resources/", views.catalogue_view, name="catalogue"),
    path("resources/<slug:slug>/", views.resource_view, name="resource"),
    path("resources/<slug:slug>/book", views.booking_submit, name="booking_submit"),
    path("resources/<slug:slug>/validate", views.booking_validate, name="booking_validate"),
    path("bookings/", views.my_bookings, name="my_bookings"),
    path("bookings/<str:pk>/", views.booking_detail, name="booking_detail"),
    path("bookings/<str:pk>/cancel", views.booking_cancel_view, name="booking_cancel"),
    path("tenants/<slug:slug>/bookings/", views.tenant_bookings, name="tenant_bookings"),
    path("jobs/", views_jobs.my_jobs, name="my_jobs"),
    path("jobs/<str:pk>/", views_jobs.job_detail, name="job_detail"),
    path("jobs/<str:pk>/cancel", views_jobs.job_cancel_view, name="job_cancel"),
    path("tenants/<slug:slug>/jobs/", views_jobs.tenant_jobs, name="tenant_jobs"),
    path("calendar/", views.calendar_feed_settings, name="calendar_feed_settings"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("rounds/", include("booking.urls_rounds")),
]

# The API-token pages are written alongside; include them once their module exists.
if find_spec("booking.urls_tokens") is not None:
    urlpatterns.append(path("account/tokens/", include("booking.urls_tokens")))
