from django.contrib import admin
from django.urls import include, path

from .blog import views as blog

urlpatterns = [
    path("", blog.PostListView.as_view(), name="post_list"),
    path("posts/<slug:slug>/", blog.PostDetailView.as_view(), name="post_detail"),
    path("admin/", admin.site.urls),
    path("", include("petition_widget.urls")),
]
