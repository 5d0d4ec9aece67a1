"""Confirmed signatures: the e-mailed link opens a page, only its button's POST confirms, then forwarding."""

import base64
import re
import smtplib
import threading
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.core.management import call_command
from django.db import OperationalError, connections, transaction
from django.db.models import deletion
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from petition_widget import confirmation
from petition_widget.api_keys import ApiKeyKind
from petition_widget.models import ForwardingState, Petition, Signature
from tests.factories import new_api_key, post_signature
from tests.forwarding_support import CHANGEORG_ID, SITE_URL, counters

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(re.escape(SITE_URL) + r"(/petitions/confirm/[^/\s]+/)")


@pytest.fixture
def confirming(changeorg):
    changeorg.require_confirmation = True
    changeorg.save()
    return changeorg


def confirmation_path(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def public_names(petition) -> list[str]:
    response = Client().get(f"/api/v1/petitions/{petition.upstream_id}/signatures")
    assert response.status_code == 200
    return [row["name"] for row in response.json()["signatures"]]


def test_signing_stores_an_unconfirmed_signature_and_mails_the_link(client, confirming, changeorg_data):
    response = post_signature(client, confirming, changeorg_data)

    assert response.status_code == 303
    signature = Signature.objects.get()
    assert signature.state == ForwardingState.UNCONFIRMED
    assert signature.confirmation_sent_at is not None and signature.confirmed_at is None
    assert counters(confirming) == (0, 0)
    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    assert confirming.title in message.subject
    assert "Hello Ada," in message.body
    confirmation_path(message)
    thanks = client.get(response["Location"]).content.decode()
    assert "we sent you an e-mail" in thanks


def test_a_get_of_the_link_does_not_confirm_and_the_post_does(confirming, changeorg_data, upstream):
    post_signature(Client(), confirming, changeorg_data)
    path = confirmation_path(mail.outbox[0])
    browser = Client(enforce_csrf_checks=True)

    # A mail scanner or link preview fetches the link: nothing happens, however often.
    for _ in range(3):
        page = browser.get(path)
        assert page.status_code == 200
        assert page["Referrer-Policy"] == "same-origin"  # not no-referrer: Chromium then posts "Origin: null"
        assert "Confirm my signature" in page.content.decode()
    signature = Signature.objects.get()
    assert signature.state == ForwardingState.UNCONFIRMED and signature.confirmed_at is None
    assert counters(confirming) == (0, 0)
    assert public_names(confirming) == []

    # Nothing is forwarded while it waits.
    call_command("forward_signatures", "--once", "--concurrency", "1")
    assert upstream.received(CHANGEORG_ID) == []

    # A POST without the CSRF token is refused like any other form.
    assert browser.post(path).status_code == 403
    assert Signature.objects.get().state == ForwardingState.UNCONFIRMED

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    confirmed = browser.post(path, {"csrfmiddlewaretoken": token})
    assert confirmed.status_code == 200
    assert "Your signature is confirmed" in confirmed.content.decode()
    signature.refresh_from_db()
    assert signature.state == ForwardingState.PENDING and signature.confirmed_at is not None
    assert counters(confirming) == (1, 1)
    assert public_names(confirming) == ["Ada Lovelace"]

    # Confirming again changes nothing and still thanks the signer.
    again = browser.post(path, {"csrfmiddlewaretoken": token})
    assert again.status_code == 200 and "Your signature is confirmed" in again.content.decode()
    assert counters(confirming) == (1, 1)

    call_command("forward_signatures", "--once", "--concurrency", "1")
    signature.refresh_from_db()
    assert signature.state == ForwardingState.SENT and signature.finished_at is not None
    assert [row["fields"]["email"] for row in upstream.received(CHANGEORG_ID)] == ["ada@example.com"]
    assert "confirmed" in browser.get(path).content.decode()


def test_petitions_without_confirmation_do_not_mail(client, changeorg, changeorg_data):
    post_signature(client, changeorg, changeorg_data)
    assert Signature.objects.get().state == ForwardingState.PENDING
    assert mail.outbox == []
    assert counters(changeorg) == (1, 1)


def test_the_api_post_also_waits_for_confirmation(confirming, changeorg_data):
    key = new_api_key(name="partner", kind=ApiKeyKind.SERVER)
    response = Client().post(
        f"/api/v1/petitions/{confirming.upstream_id}/signatures", {**changeorg_data, "api_key": key}
    )
    assert response.status_code == 202, response.content
    assert Signature.objects.get().state == ForwardingState.UNCONFIRMED
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "mangle, status, text",
    [
        (lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"), 400, "not valid"),
        (lambda token: "nonsense", 400, "not valid"),
    ],
)
def test_altered_links_are_refused(confirming, changeorg_data, mangle, status, text):
    post_signature(Client(), confirming, changeorg_data)
    token = confirmation_path(mail.outbox[0]).rstrip("/").rsplit("/", 1)[1]
    path = reverse("petition_widget:confirm", kwargs={"token": mangle(token)})
    for response in (Client().get(path), Client().post(path)):
        assert response.status_code == status
        assert text in response.content.decode()
    assert Signature.objects.get().state == ForwardingState.UNCONFIRMED


def test_an_expired_link_is_refused_and_purge_deletes_the_signature(confirming, changeorg_data, settings):
    post_signature(Client(), confirming, changeorg_data)
    signature = Signature.objects.get()
    hours = settings.PETITION_WIDGET.get("CONFIRMATION_EXPIRY_HOURS", 72)
    issued = timezone.now() - timedelta(hours=hours, minutes=1)
    # A token minted at an earlier time, exactly as make_token() would have minted it then.
    signer = signing.TimestampSigner(salt=confirmation.TOKEN_SALT)
    signer.timestamp = lambda: signing.b62_encode(int(issued.timestamp()))
    old = signer.sign_object(confirmation.token_payload(signature))
    path = reverse("petition_widget:confirm", kwargs={"token": old})

    response = Client().post(path)
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert Signature.objects.get().state == ForwardingState.UNCONFIRMED

    call_command("purge_signatures", "--dry-run")
    assert Signature.objects.count() == 1
    Signature.objects.filter(pk=signature.pk).update(confirmation_sent_at=issued)
    call_command("purge_signatures", "--dry-run")
    assert Signature.objects.count() == 1
    call_command("purge_signatures")
    assert not Signature.objects.exists()


def test_a_link_to_an_erased_signature_is_gone(confirming, changeorg_data):
    from petition_widget.lifecycle import erase

    post_signature(Client(), confirming, changeorg_data)
    path = confirmation_path(mail.outbox[0])
    erase(Signature.objects.all())
    response = Client().post(path)
    assert response.status_code == 410 and "no longer exists" in response.content.decode()
    assert Signature.objects.get().state == ForwardingState.CANCELLED


def test_a_refusing_mail_server_leaves_the_signature_for_a_resend(confirming, changeorg_data, settings, caplog):
    settings.EMAIL_BACKEND = "tests.signing.test_confirmation.RefusingBackend"
    response = post_signature(Client(), confirming, changeorg_data)
    assert response.status_code == 303
    signature = Signature.objects.get()
    assert signature.state == ForwardingState.UNCONFIRMED and signature.confirmation_sent_at is None
    assert f"confirmation e-mail for signature {signature.pk} could not be sent: SMTPRecipientsRefused" in caplog.text
    assert "ada@example.com" not in caplog.text

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert confirmation.send_confirmation(signature.pk) is True
    signature.refresh_from_db()
    assert signature.confirmation_sent_at is not None and len(mail.outbox) == 1


class RefusingBackend:
    """A mail backend whose server refuses every recipient, naming them in the error as smtplib does."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused(
            {address: (550, b"mailbox unavailable") for m in messages for address in m.to}
        )


def test_confirmation_is_per_petition(confirming, changeorg_data):
    other = Petition.objects.create(provider="wethepeople", upstream_id="9", slug="other", title="Other")
    post_signature(Client(), other, {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"})
    assert Signature.objects.get(petition=other).state == ForwardingState.PENDING
    assert mail.outbox == []


def test_the_link_does_not_carry_the_address(confirming, changeorg_data, caplog):
    post_signature(Client(), confirming, changeorg_data)
    path = confirmation_path(mail.outbox[0])
    payload = path.rstrip("/").rsplit("/", 1)[1].split(":")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert str(Signature.objects.get().pk) in decoded
    assert "ada" not in decoded.lower() and "example.com" not in decoded
    # Django logs the path of a refused request; with the signature gone, that is this link.
    Signature.objects.all().delete()
    assert Client().post(path).status_code == 410
    assert path in caplog.text and "ada@example.com" not in caplog.text


def test_no_link_is_mailed_without_site_url(confirming, changeorg_data, settings, caplog):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "SITE_URL": ""}
    post_signature(Client(), confirming, changeorg_data)
    assert mail.outbox == []
    signature = Signature.objects.get()
    assert signature.state == ForwardingState.UNCONFIRMED and signature.confirmation_sent_at is None
    assert f"signature {signature.pk} not sent: SITE_URL is empty" in caplog.text


def two_signers(petition, data) -> list[str]:
    for email in ("a@example.org", "b@example.org"):
        assert post_signature(Client(), petition, {**data, "email": email}).status_code == 303
    return [confirmation.make_token(signature) for signature in Signature.objects.order_by("pk")]


def test_two_signers_confirming_at_once_are_both_counted(confirming, changeorg_data):
    first, second = two_signers(confirming, changeorg_data)
    first_done, release = threading.Event(), threading.Event()
    errors = []

    def in_thread(work):
        def run():
            try:
                work()
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                connections.close_all()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def confirm_first_and_hold():
        # The first confirmation's transaction stays open while the second one runs.
        with transaction.atomic():
            confirmation.confirm(first)
            first_done.set()
            release.wait(10)

    holder = in_thread(confirm_first_and_hold)
    assert first_done.wait(10)
    other = in_thread(lambda: confirmation.confirm(second))
    other.join(0.5)  # the second waits for the first's locks (PostgreSQL rows, SQLite's write lock)
    release.set()
    holder.join(10)
    other.join(10)

    assert errors == []
    assert list(Signature.objects.values_list("state", flat=True)) == [ForwardingState.PENDING] * 2
    assert counters(confirming) == (2, 2)


def test_a_confirmation_during_the_purge_of_expired_links_is_kept_or_gone_never_half(confirming, changeorg_data):
    (token,) = two_signers(confirming, changeorg_data)[:1]
    old = timezone.now() - timedelta(hours=100)
    Signature.objects.update(confirmation_sent_at=old, created_at=old)
    outcome = {}

    def press_the_button():
        try:
            outcome["signature"] = confirmation.confirm(token)
        except confirmation.ConfirmationError as exc:
            outcome["error"] = str(exc)
        finally:
            connections.close_all()

    # The signer presses the button between the purge's reading of the expired rows and their deletion.
    real_delete = deletion.Collector.delete
    presser = threading.Thread(target=press_the_button)

    def delete(collector):
        presser.start()
        presser.join(1)
        return real_delete(collector)

    deletion.Collector.delete = delete
    try:
        try:
            call_command("purge_signatures")
        except OperationalError as exc:  # SQLite: two writers, one gives way
            assert "locked" in str(exc)
    finally:
        deletion.Collector.delete = real_delete
    presser.join(10)

    remaining = list(Signature.objects.values_list("email", "state"))
    if "signature" in outcome:
        assert ("a@example.org", ForwardingState.PENDING) in remaining
    else:
        assert outcome == {"error": "gone"}
        assert "a@example.org" not in [email for email, _ in remaining]
    # Whatever the order, the counters match the rows.
    assert counters(confirming) == (
        Signature.objects.counted().count(),
        Signature.objects.public().count(),
    )
