"""What the signatures' actions tell the admin: one message, and its level, per result of a transition."""

from __future__ import annotations

from django.contrib import messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..conf import app_settings
from ..lifecycle import Confirmed, Erasure, Restored, Retried, Stopped

Report = tuple[str, int]  # the message, and its level (messages.SUCCESS, ...)


def sentences(first: str, *more: tuple[int, str]) -> str:
    """``first``, then each ``(count, text)`` of ``more`` whose count is not 0, ``%(count)d`` filled in."""
    return " ".join([str(first), *(text % {"count": count} for count, text in more if count)])


def level(done: int) -> int:
    return messages.SUCCESS if done else messages.WARNING


def retried(result: Retried) -> Report:
    n, paused, left_alone = result.retried, result.paused, result.left_alone
    first = ngettext(
        "%(count)d signature is due now and will be sent at a worker's next pass. ",
        "%(count)d signatures are due now and will be sent at a worker's next pass. ",
        n,
    ) % {"count": n} + _("Their attempt counts were reset to 0, so each gets the full %(max)d tries again.") % {
        "max": app_settings.MAX_ATTEMPTS
    }
    message = sentences(
        first,
        (
            paused,
            ngettext(
                "%(count)d of them belongs to a paused petition and waits until forwarding is resumed.",
                "%(count)d of them belong to paused petitions and wait until forwarding is resumed.",
                paused,
            ),
        ),
        (
            left_alone,
            ngettext(
                "%(count)d was left alone (sent, being sent, cancelled, spam, awaiting confirmation or erased).",
                "%(count)d were left alone (sent, being sent, cancelled, spam, awaiting confirmation or erased).",
                left_alone,
            ),
        ),
    )
    return message, level(n)


def cancelled(result: Stopped) -> Report:
    n, left_alone = result.moved, result.left_alone
    first = ngettext(
        "%(count)d signature cancelled: it will not be forwarded and no longer counts.",
        "%(count)d signatures cancelled: they will not be forwarded and no longer count.",
        n,
    ) % {"count": n}
    only = ngettext(
        "%(count)d was left alone: only pending, held or failed signatures can be cancelled.",
        "%(count)d were left alone: only pending, held or failed signatures can be cancelled.",
        left_alone,
    )
    return sentences(first, (left_alone, only)), level(n)


def marked_as_spam(result: Stopped) -> Report:
    n, sent, left_alone = result.moved, result.already_sent, result.left_alone
    first = ngettext(
        "%(count)d signature marked as spam: it will never be forwarded, no longer counts and is not listed.",
        "%(count)d signatures marked as spam: they will never be forwarded, no longer count and are not listed.",
        n,
    ) % {"count": n}
    kept = ngettext(
        "%(count)d of them had already reached the platform, which keeps it.",
        "%(count)d of them had already reached the platform, which keeps them.",
        sent,
    )
    busy = ngettext(
        "%(count)d was left alone (already spam, or being sent right now: try again in a minute).",
        "%(count)d were left alone (already spam, or being sent right now: try again in a minute).",
        left_alone,
    )
    return sentences(first, (sent, kept), (left_alone, busy)), level(n)


def confirmations_resent(sent: int, failed: int, skipped: int) -> Report:
    first = ngettext(
        "Confirmation e-mail sent again for %(count)d signature.",
        "Confirmation e-mails sent again for %(count)d signatures.",
        sent,
    ) % {"count": sent}
    refused = ngettext(
        "%(count)d could not be sent (the mail server refused it; the log names the signature).",
        "%(count)d could not be sent (the mail server refused them; the log names the signatures).",
        failed,
    )
    waiting = ngettext(
        "%(count)d was skipped: it is not awaiting confirmation.",
        "%(count)d were skipped: they are not awaiting confirmation.",
        skipped,
    )
    return sentences(first, (failed, refused), (skipped, waiting)), messages.ERROR if failed else level(sent)


def erased(result: Erasure) -> Report:
    n, unsent, busy = result.erased, result.cancelled, result.in_flight
    first = ngettext(
        "Erased the personal data of %(count)d signature: name, e-mail, phone, street address, city, "
        "region, postal code, reason and client address hash are blank, and it is hidden from the public "
        "list.",
        "Erased the personal data of %(count)d signatures: names, e-mails, phones, street addresses, "
        "cities, regions, postal codes, reasons and client address hashes are blank, and they are hidden "
        "from the public list.",
        n,
    ) % {"count": n}
    cancelled = ngettext(
        "%(count)d of them had not been sent and was cancelled, so it will not be forwarded.",
        "%(count)d of them had not been sent and were cancelled, so they will not be forwarded.",
        unsent,
    )
    in_flight = ngettext(
        "%(count)d was left alone: a worker is sending it right now. Erase it again in a minute.",
        "%(count)d were left alone: a worker is sending them right now. Erase them again in a minute.",
        busy,
    )
    message = sentences(first, (unsent, cancelled), (busy, in_flight))
    return message + " " + str(_("What the platform already received must be erased there.")), level(n)


def not_spam(result: Restored) -> Report:
    n, resumed, left_alone = result.restored, result.resumed, result.left_alone
    first = ngettext(
        "%(count)d signature is no longer spam: it is back where it was before it was marked, and counts again "
        "unless it was cancelled or awaits confirmation.",
        "%(count)d signatures are no longer spam: they are back where they were before they were marked, and "
        "count again unless they were cancelled or await confirmation.",
        n,
    ) % {"count": n}
    due = ngettext(
        "%(count)d of them had not reached the platform yet and is due now: a worker sends it at its next pass.",
        "%(count)d of them had not reached the platform yet and are due now: a worker sends them at its next pass.",
        resumed,
    )
    only = ngettext(
        "%(count)d was left alone: only spam signatures whose personal data was not erased can be taken back.",
        "%(count)d were left alone: only spam signatures whose personal data was not erased can be taken back.",
        left_alone,
    )
    return sentences(first, (resumed, due), (left_alone, only)), level(n)


def confirmed_on_behalf(result: Confirmed) -> Report:
    n, left_alone = result.confirmed, result.left_alone
    first = ngettext(
        "%(count)d signature confirmed on the signer's behalf: it counts now and a worker sends it at its next "
        "pass. Your reason was recorded in its history.",
        "%(count)d signatures confirmed on the signers' behalf: they count now and a worker sends them at its "
        "next pass. Your reason was recorded in their history.",
        n,
    ) % {"count": n}
    only = ngettext(
        "%(count)d was left alone: it is not awaiting confirmation (or its personal data was erased).",
        "%(count)d were left alone: they are not awaiting confirmation (or their personal data was erased).",
        left_alone,
    )
    return sentences(first, (left_alone, only)), level(n)
