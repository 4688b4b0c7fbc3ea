from django.urls import path

from booking.billing import estimate_views, project_views, views

app_name = "billing"

urlpatterns = [
    path(
        "resources/<slug:slug>/estimate",
        estimate_views.booking_estimate_view,
        name="booking_estimate",
    ),
    path("tenants/<slug:slug>/statements/", views.statements_view, name="statements"),
    path("tenants/<slug:slug>/projects/", project_views.projects_view, name="projects"),
    path("tenants/<slug:slug>/projects/<str:pk>/", project_views.project_view, name="project"),
    path("tenants/<slug:slug>/statements/<str:pk>/", views.statement_view, name="statement"),
]
