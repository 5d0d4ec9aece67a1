"""The example site's URLs with the benchmark's reference views under ``/bench/``."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("bench/bare/", views.bare, name="bench_bare"),
    path("bench/minimal/<slug:slug>/", views.minimal_sign, name="bench_minimal_sign"),
    path("", include("example_project.urls")),
]
