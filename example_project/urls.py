from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from .blog import views as blog

urlpatterns = [
    path("", blog.PostListView.as_view(), name="post_list"),
    path("posts/<slug:slug>/", blog.PostDetailView.as_view(), name="post_detail"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("petition_widget.api.urls")),
    path("", include("petition_widget.urls")),
]

if settings.MOUNT_EMULATOR:
    # The upstream emulator, so that the site works offline; `manage.py upstream_emulator` serves it alone.
    urlpatterns.insert(0, path("emulator/", include("petition_widget.emulator.urls")))
