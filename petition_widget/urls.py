"""The app's pages: the sign form of each petition, the confirmation link, and the auth-key callback."""

from django.urls import path

from . import views

app_name = "petition_widget"

urlpatterns = [
    path("petitions/<slug:slug>/", views.SignView.as_view(), name="sign"),
    path("petitions/<slug:slug>/embed/", views.EmbedView.as_view(), name="embed"),
    path("petitions/confirm/<str:token>/", views.ConfirmView.as_view(), name="confirm"),
    path(
        "petitions/<slug:slug>/auth-key-callback/<str:token>/",
        views.AuthKeyCallbackView.as_view(),
        name="auth_key_callback",
    ),
]
