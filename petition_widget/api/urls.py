"""The public API's URLs; the example site includes them at ``api/v1/``."""

from django.urls import path, re_path

from . import errors, views

app_name = "petition_widget_api"

urlpatterns = [
    path("petitions/<str:upstream_id>", views.PetitionView.as_view(), name="petition"),
    path("petitions/<str:upstream_id>/signatures", views.SignatureListView.as_view(), name="signatures"),
    path(
        "petitions/<str:upstream_id>/signatures/recent",
        views.RecentSignaturesView.as_view(),
        name="recent_signatures",
    ),
    path("schema", views.SchemaView.as_view(), name="schema"),
    # Anything else under the API is answered in the failure shape too, not with the site's HTML 404.
    re_path(r"", errors.not_found),
]
