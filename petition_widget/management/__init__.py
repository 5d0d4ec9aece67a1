"""The app's management commands (see ``commands/``)."""
