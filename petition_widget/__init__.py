"""django-petition-widget: a petition signing form on a host site, its signatures relayed to Change.org or We
the People."""

__version__ = "0.1.0"
