"""Operator pages for allocation rounds (staff only), included under ``rounds/``."""

from django.urls import path

from booking.rounds import views

app_name = "rounds"

urlpatterns = [
    path("", views.round_list, name="list"),
    path("new/", views.round_new, name="new"),
    path("<int:pk>/", views.round_detail, name="detail"),
    path("<int:pk>/progress/", views.round_progress, name="progress"),
    path("<int:pk>/close/", views.round_close, name="close"),
    path("<int:pk>/run/", views.round_run, name="run"),
    path("<int:pk>/publish/", views.round_publish, name="publish"),
    path("<int:pk>/what-if/", views.round_what_if, name="what_if"),
    path(
        "<int:pk>/what-if/<int:preview_pk>/",
        views.round_what_if_preview,
        name="what_if_preview",
    ),
    path(
        "<int:pk>/what-if/<int:preview_pk>/again/",
        views.round_what_if_again,
        name="what_if_again",
    ),
]
