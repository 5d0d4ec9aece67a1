"""Wake forwarding as soon as a signature is stored, where the host runs a task framework.

The sign path calls :func:`on_signature_stored` inside its transaction; after the commit,
:func:`wake_forwarding` enqueues the ``forward_signature`` task for the new row. Django's own tasks
framework (``django.tasks``, Django 6.0+) is used when it can be imported, else the ``django-tasks``
backport (``django_tasks``) when it is installed; with neither, nothing happens and the looping
worker picks the signature up within its poll interval.

With ``WAKE_TASK = "auto"`` (the default) the task is only enqueued on a backend that runs tasks
somewhere else (a database worker, Celery, RQ). The immediate backend, which both frameworks fall back
to when ``TASKS`` is not set, would forward inside the request, and the dummy backend never runs
anything: "auto" skips both. ``"always"`` enqueues on any backend; ``"off"`` never enqueues.

Enqueuing must be cheap and must never fail the request: every error is logged and swallowed.
"""

from __future__ import annotations

import functools
import importlib
import logging
from types import ModuleType
from typing import Any

from django.core.signals import setting_changed
from django.db import transaction

from ..conf import SETTING_NAME, app_settings
from .worker import forward_now

logger = logging.getLogger(__name__)

WAKE_MODES = ("auto", "always", "off")
_FRAMEWORKS = ("django.tasks", "django_tasks")
_INLINE_BACKENDS = ("ImmediateBackend", "DummyBackend")


def forward_signature(signature_id: int) -> str:
    """The wake-up task: forward one new signature now if it is still due; returns what became of it."""
    return forward_now(signature_id)


# A task backend finds a task by its function's dotted path and expects the module attribute of that name
# to be the Task. Building the Task validates it against the configured backend, which must not happen at
# import time, so the module hands it out lazily through __getattr__ under the function's own name.
_forward_signature = forward_signature
del forward_signature


def __getattr__(name: str) -> Any:
    if name == "forward_signature":
        task = wake_task(enqueue_only=False)
        if task is None:
            raise AttributeError(f"{__name__}.forward_signature needs a task framework (django.tasks or django_tasks)")
        return task
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def task_framework() -> ModuleType | None:
    """``django.tasks`` when importable, else ``django_tasks``, else ``None``."""
    for name in _FRAMEWORKS:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


@functools.cache
def wake_task(*, enqueue_only: bool = True) -> Any:
    """The ``forward_signature`` Task, or ``None`` when there is nothing to enqueue it on.

    With ``enqueue_only`` (the sign path), also ``None`` when ``WAKE_TASK`` says not to enqueue on the
    configured backend. Cached until the settings change.
    """
    mode = app_settings.WAKE_TASK
    if enqueue_only and mode == "off":
        return None
    framework = task_framework()
    if framework is None:
        return None
    alias = app_settings.WAKE_TASK_BACKEND
    try:
        backend = framework.task_backends[alias]
        if enqueue_only and mode == "auto" and type(backend).__name__ in _INLINE_BACKENDS:
            return None
        return framework.task(backend=alias)(_forward_signature)
    except Exception:
        logger.warning("the forwarding wake-up task cannot use the task backend %r", alias, exc_info=True)
        return None


def wake_forwarding(signature_id: int) -> None:
    """Enqueue the forwarding of one stored signature; never raises."""
    try:
        task = wake_task()
        if task is not None:
            task.enqueue(signature_id)
    except Exception:
        logger.warning("could not enqueue the forwarding of signature %s", signature_id, exc_info=True)


def on_signature_stored(signature_id: int) -> None:
    """Call inside the transaction that stores a signature: wakes forwarding once it is committed.

    Nothing is registered when there is nothing to enqueue on (``wake_task`` is cached): the sign path's
    usual case.
    """
    if wake_task() is None:
        return
    transaction.on_commit(functools.partial(wake_forwarding, signature_id))


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING_NAME, "TASKS", "INSTALLED_APPS"):
        wake_task.cache_clear()


setting_changed.connect(_settings_changed)
