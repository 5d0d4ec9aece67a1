"""Wagtail integration (``pip install "django-petition-widget[wagtail]"``): petitions as snippets with a
chooser, and :class:`~petition_widget.contrib.wagtail.blocks.PetitionBlock`, a StreamField block that renders a
petition's signing form. Add ``"petition_widget.contrib.wagtail"`` to ``INSTALLED_APPS`` after
``"petition_widget"``; docs/embedding.md has the five lines of settings."""
