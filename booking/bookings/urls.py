"""Member pages: catalogue, resource calendars and booking, my bookings, the calendar feed."""

from django.urls import path

from booking.bookings import change_views, views

urlpatterns = [
    path("resources/", views.catalogue_view, name="catalogue"),
    path("resources/<slug:slug>/", views.resource_view, name="resource"),
    path("resources/<slug:slug>/book", views.booking_submit, name="booking_submit"),
    path("resources/<slug:slug>/validate", views.booking_validate, name="booking_validate"),
    path("bookings/", views.my_bookings, name="my_bookings"),
    path("bookings/<str:pk>/", views.booking_detail, name="booking_detail"),
    path("bookings/<str:pk>/cancel", views.booking_cancel_view, name="booking_cancel"),
    path("bookings/<str:pk>/change", change_views.booking_change_view, name="booking_change"),
    path(
        "bookings/<str:pk>/cancel-following",
        change_views.booking_cancel_following_view,
        name="booking_cancel_following",
    ),
    path("tenants/<slug:slug>/bookings/", views.tenant_bookings, name="tenant_bookings"),
    path("calendar/", views.calendar_feed_settings, name="calendar_feed_settings"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]
