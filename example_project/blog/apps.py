from django.apps import AppConfig


class BlogConfig(AppConfig):
    name = "example_project.blog"
    default_auto_field = "django.db.models.BigAutoField"
