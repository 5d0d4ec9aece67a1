"""Benchmarks of django-petition-widget; each prints its figures beside reference views."""
