"""The sign POST's counters on Redis and on the local-memory cache: the same limits, the same answers.

On a Redis ``RATE_LIMIT_CACHE`` a signature's form token and every limit it counts against are spent and
taken in one round trip (:func:`petition_widget.ratelimit.take_together`); on other caches one by one.
Each scenario here runs on both, through :func:`petition_widget.signing.sign` with real form tokens, the
real database and a cache of the test's own (Redis: ``REDIS_URL``, default redis://127.0.0.1:6379/1).
"""

import os
import uuid

import pytest
import redis
from django.core.cache import caches

from petition_widget import abuse, signing
from petition_widget.api_keys import ApiKey, ApiKeyKind
from petition_widget.models import Signature

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")
IP_HASH = "b" * 64
CLIENT = signing.Client(ip_hash=IP_HASH)
BACKENDS = {
    "locmem": lambda: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex},
    "redis": lambda: {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"pw-test-{uuid.uuid4().hex[:8]}",
    },
}


def configure(settings, backend: str):
    """The token check and the limits (3 each) over a fresh cache of ``backend``; ``apply(**values)`` changes them."""
    settings.CACHES = {**settings.CACHES, "abuse": BACKENDS[backend]()}

    def apply(**values):
        settings.PETITION_WIDGET = {
            **settings.PETITION_WIDGET,
            "SIGN_MIN_SECONDS": 1,
            "SIGN_FORM_MAX_AGE": 3600,
            "SIGN_LIMIT_PER_IP": 3,
            "SIGN_LIMIT_PER_PETITION": 3,
            "API_KEY_LIMITS": {"browser": 3, "server": 3},
            "RATE_LIMIT_CACHE": "abuse",
            **values,
        }

    apply()
    return apply


@pytest.fixture(params=sorted(BACKENDS))
def limits(request, settings):
    """:func:`configure` on each backend in turn."""
    yield configure(settings, request.param)
    caches["abuse"].clear()


def checks(petition) -> abuse.ProtectionForm:
    return abuse.ProtectionForm({abuse.TOKEN_FIELD: abuse.make_form_token(petition)}, petition=petition)


def values(n: int) -> dict:
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": f"ada{n}@example.com",
        "city": "London",
        "postal_code": "SW1A 1AA",
        "country_code": "GB",
    }


def spent(protection: abuse.ProtectionForm) -> bool:
    return caches["abuse"].get(protection.claim_key()) is not None


def counted(petition, ip_hash: str = IP_HASH) -> tuple[int, int]:
    return (
        abuse.ip_limiter().count(abuse.ip_key(ip_hash)),
        abuse.petition_limiter().count(abuse.petition_key(petition)),
    )


def outcome(result: signing.SignResult) -> str:
    return result.refusal.code if result.refusal else result.status.value


def test_the_per_address_limit_stores_three_and_refuses_the_fourth_leaving_the_counts(petition, limits):
    limits(SIGN_LIMIT_PER_PETITION=10)
    answers = [outcome(signing.sign(petition, values(n), client=CLIENT, checks=checks(petition))) for n in range(4)]
    assert answers == ["stored", "stored", "stored", "limit_per_ip"]
    assert Signature.objects.count() == 3
    assert counted(petition) == (3, 3)


def test_the_per_petition_limit_refuses_gives_the_address_slot_and_the_token_back(petition, limits):
    others = [signing.Client(ip_hash=f"{n}" * 64) for n in range(1, 4)]
    for n, client in enumerate(others):
        assert signing.sign(petition, values(n), client=client, checks=checks(petition)).status == signing.Status.STORED
    protection = checks(petition)
    result = signing.sign(petition, values(9), client=CLIENT, checks=protection)
    assert (
        result.refusal.code == "limit_per_petition" and 1 <= result.refusal.retry_after <= 65
    )  # the oldest step leaves the minute read
    assert counted(petition) == (0, 3)
    assert not spent(protection)


def test_a_replayed_token_is_refused_and_counts_nothing(petition, limits):
    protection = checks(petition)
    assert signing.sign(petition, values(1), client=CLIENT, checks=protection).status == signing.Status.STORED
    assert spent(protection)
    replay = abuse.ProtectionForm(protection.data, petition=petition)
    result = signing.sign(petition, values(2), client=CLIENT, checks=replay)
    assert result.refusal == abuse.REPLAYED
    assert counted(petition) == (1, 1)
    assert Signature.objects.count() == 1


def test_a_duplicate_keeps_the_address_slot_and_gives_the_petition_slot_and_token_back(petition, limits):
    signing.sign(petition, values(1), client=CLIENT, checks=checks(petition))
    protection = checks(petition)
    assert signing.sign(petition, values(1), client=CLIENT, checks=protection).status == signing.Status.DUPLICATE
    assert counted(petition) == (2, 1)
    assert not spent(protection)


def test_a_server_keys_limit_counts_per_key_and_not_per_address(petition, limits):
    limits(SIGN_LIMIT_PER_PETITION=10)
    record = ApiKey(name="partner", kind=ApiKeyKind.SERVER)
    record.set_key(ApiKey.generate())
    record.save()
    client = signing.Client(ip_hash="", api_key=record)
    answers = [outcome(signing.sign(petition, values(n), client=client)) for n in range(4)]
    assert answers == ["stored", "stored", "stored", "limit_per_key"]
    assert abuse.key_limiter().count(abuse.api_key_key(record)) == 3
    assert counted(petition) == (0, 3)


def test_with_the_token_check_off_nothing_is_spent_and_the_limits_still_count(petition, limits):
    limits(SIGN_MIN_SECONDS=0)
    protection = checks(petition)
    assert signing.sign(petition, values(1), client=CLIENT, checks=protection).status == signing.Status.STORED
    assert not spent(protection)
    assert counted(petition) == (1, 1)


def test_on_redis_the_token_and_every_limit_take_one_round_trip(petition, settings, monkeypatch):
    configure(settings, "redis")
    commands = []
    original = redis.Redis.execute_command

    def spy(self, *args, **options):
        commands.append(args[0])
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", spy)
    protection = checks(petition)
    result = signing.sign(petition, values(1), client=CLIENT, checks=protection)
    assert result.status == signing.Status.STORED
    assert commands == ["EVALSHA"] or commands == ["EVALSHA", "EVAL"]  # EVAL once: the script not yet loaded
    monkeypatch.undo()
    assert spent(protection) and counted(petition) == (1, 1)
    caches["abuse"].clear()


def test_redis_out_of_reach_lets_signers_through_and_logs_it(petition, settings, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "abuse": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
            "OPTIONS": {"socket_connect_timeout": 0.5},
        },
    }
    settings.PETITION_WIDGET = {
        **settings.PETITION_WIDGET,
        "SIGN_MIN_SECONDS": 1,
        "SIGN_LIMIT_PER_IP": 1,
        "SIGN_LIMIT_PER_PETITION": 1,
        "RATE_LIMIT_CACHE": "abuse",
    }
    for n in range(2):
        assert signing.sign(petition, values(n), client=CLIENT, checks=checks(petition)).status == signing.Status.STORED
    assert "their cache failed" in caplog.text
    assert IP_HASH not in caplog.text
