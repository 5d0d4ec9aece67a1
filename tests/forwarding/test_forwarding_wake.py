"""The wake-up hook: a stored signature enqueues its forwarding through a task framework, after the commit,
without ever failing or slowing the request. Uses the django-tasks backport (the same API as Django 6's
django.tasks) and a recording backend standing in for a queue that runs tasks elsewhere."""

from __future__ import annotations

import logging

import django_tasks.signals  # noqa: F401  (resets the task backends when TASKS changes)
import pytest
from django.db import transaction
from django.test import Client
from django.utils.module_loading import import_string
from django_tasks.backends.base import BaseTaskBackend

from petition_widget.forwarding import wake
from petition_widget.models import ForwardingState, Provider, Signature
from tests.factories import signed_through_form
from tests.forwarding_support import CHANGEORG_ID, forwarding_settings, local_petition

pytestmark = pytest.mark.django_db(transaction=True)

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
RECORDING = {"default": {"BACKEND": "tests.forwarding.test_forwarding_wake.RecordingBackend"}}
BROKEN = {"default": {"BACKEND": "tests.forwarding.test_forwarding_wake.BrokenBackend"}}


class RecordingBackend(BaseTaskBackend):
    """A queue that keeps what it is given, as a database or Celery backend would, and runs nothing."""

    enqueued: list = []

    def enqueue(self, task, args, kwargs):
        RecordingBackend.enqueued.append((task.module_path, args, kwargs))


class BrokenBackend(BaseTaskBackend):
    def enqueue(self, task, args, kwargs):
        raise ConnectionError("the queue is down")


@pytest.fixture
def petition(settings, emulator):
    settings.PETITION_WIDGET = forwarding_settings(emulator)
    RecordingBackend.enqueued = []
    return local_petition(Provider.CHANGEORG, CHANGEORG_ID, slug="elm-street")


def use(settings, tasks, mode):
    settings.TASKS = tasks
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "WAKE_TASK": mode}


def test_always_forwards_through_the_immediate_backend(settings, petition, changeorg_data, emulator):
    use(settings, IMMEDIATE, "always")

    signature = signed_through_form(Client(), petition, changeorg_data)

    assert signature.state == ForwardingState.SENT
    assert signature.forward_attempts.get().outcome == "sent"
    assert [r["fields"]["email"] for r in emulator.received(CHANGEORG_ID)] == ["ada@example.com"]


def test_auto_leaves_the_immediate_backend_alone(settings, petition, changeorg_data, emulator):
    use(settings, IMMEDIATE, "auto")
    requests_before = emulator.stats()["requests"]

    signature = signed_through_form(Client(), petition, changeorg_data)

    assert signature.state == ForwardingState.PENDING
    assert emulator.stats()["requests"] == requests_before


def test_auto_enqueues_on_a_backend_that_runs_tasks_elsewhere(settings, petition, changeorg_data, emulator):
    use(settings, RECORDING, "auto")

    signature = signed_through_form(Client(), petition, changeorg_data)

    assert signature.state == ForwardingState.PENDING
    assert RecordingBackend.enqueued == [("petition_widget.forwarding.wake.forward_signature", (signature.pk,), {})]
    # What a task worker does with it: import the task by its path and run it.
    task = import_string(RecordingBackend.enqueued[0][0])
    assert task.call(signature.pk) == "sent"
    assert task.call(signature.pk) == "not due"
    signature.refresh_from_db()
    assert signature.state == ForwardingState.SENT
    assert len(emulator.received(CHANGEORG_ID)) == 1


def test_off_enqueues_nothing(settings, petition, changeorg_data):
    use(settings, RECORDING, "off")
    signed_through_form(Client(), petition, changeorg_data)
    assert RecordingBackend.enqueued == []


def test_nothing_is_enqueued_for_a_rolled_back_signature(settings, petition):
    use(settings, RECORDING, "auto")
    with pytest.raises(RuntimeError), transaction.atomic():
        Signature.objects.create(petition=petition, first_name="A", last_name="B", email="a@example.org")
        wake.on_signature_stored(Signature.objects.get().pk)
        raise RuntimeError("rolled back")
    assert RecordingBackend.enqueued == []


def test_a_broken_queue_never_fails_the_request(settings, petition, changeorg_data, caplog):
    use(settings, BROKEN, "auto")
    with caplog.at_level(logging.WARNING, logger="petition_widget.forwarding.wake"):
        signature = signed_through_form(Client(), petition, changeorg_data)
    assert signature.state == ForwardingState.PENDING
    assert f"could not enqueue the forwarding of signature {signature.pk}" in caplog.text


def test_an_unknown_backend_alias_is_logged_not_raised(settings, petition, changeorg_data, caplog):
    use(settings, RECORDING, "auto")
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "WAKE_TASK_BACKEND": "nowhere"}
    with caplog.at_level(logging.WARNING, logger="petition_widget.forwarding.wake"):
        signature = signed_through_form(Client(), petition, changeorg_data)
    assert signature.state == ForwardingState.PENDING
    assert "cannot use the task backend 'nowhere'" in caplog.text


def test_without_a_task_framework_nothing_happens(settings, petition, changeorg_data, monkeypatch):
    use(settings, RECORDING, "always")
    monkeypatch.setattr(wake, "task_framework", lambda: None)
    wake.wake_task.cache_clear()

    signature = signed_through_form(Client(), petition, changeorg_data)

    assert signature.state == ForwardingState.PENDING
    assert RecordingBackend.enqueued == []
    with pytest.raises(AttributeError):
        wake.forward_signature  # noqa: B018
    wake.wake_task.cache_clear()


def test_django_tasks_is_preferred_when_importable(monkeypatch):
    import importlib

    tried = []

    def fake_import(name):
        tried.append(name)
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    assert wake.task_framework() is None
    assert tried == ["django.tasks", "django_tasks"]
