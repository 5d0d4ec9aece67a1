from django.urls import path

from . import views

app_name = "petition_widget"

urlpatterns = [
    path("petitions/<slug:slug>/", views.SignView.as_view(), name="sign"),
]
