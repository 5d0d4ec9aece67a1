"""The app's template tags (``{% load petition_widget %}``)."""
