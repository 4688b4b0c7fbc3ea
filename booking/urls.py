from django.urls import include, path

urlpatterns = [path("rounds/", include("booking.urls_rounds"))]
urlpatterns += [path("account/tokens/", include("booking.urls_tokens"))]
