"""Compute-job pages for members and tenant managers."""

from django.urls import path

from booking.compute import cluster_report, views

urlpatterns = [
    path("jobs/", views.my_jobs, name="my_jobs"),
    path("jobs/<str:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<str:pk>/cancel", views.job_cancel_view, name="job_cancel"),
    path("tenants/<slug:slug>/jobs/", views.tenant_jobs, name="tenant_jobs"),
    path("reports/clusters/", cluster_report.cluster_report_view, name="cluster_report"),
]
