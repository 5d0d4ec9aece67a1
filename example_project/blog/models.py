from django.db import models
from django.urls import reverse


class Post(models.Model):
    """A blog post; it may carry one petition, whose form the post's page embeds."""

    title = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    body = models.TextField(help_text="Plain text; blank lines separate paragraphs.")
    petition = models.ForeignKey("petition_widget.Petition", null=True, blank=True, on_delete=models.SET_NULL)
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-published_at"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("post_detail", kwargs={"slug": self.slug})
