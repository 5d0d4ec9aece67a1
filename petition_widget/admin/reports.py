"""What the signatures' actions tell the admin: one message, and its level, per result of a transition."""

from __future__ import annotations

from django.contrib import messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..conf import app_settings
from ..lifecycle import Erasure, Retried, Stopped

Report = tuple[str, int]  # the message, and its level (messages.SUCCESS, ...)


def retried(result: Retried) -> Report:
    parts = [
        ngettext(
            "%(count)d signature is due now and will be sent at a worker's next pass. ",
            "%(count)d signatures are due now and will be sent at a worker's next pass. ",
            result.retried,
        )
        % {"count": result.retried},
        _("Their attempt counts were reset to 0, so each gets the full %(max)d tries again.")
        % {"max": app_settings.MAX_ATTEMPTS},
    ]
    if result.paused:
        parts.append(
            " "
            + ngettext(
                "%(count)d of them belongs to a paused petition and waits until forwarding is resumed.",
                "%(count)d of them belong to paused petitions and wait until forwarding is resumed.",
                result.paused,
            )
            % {"count": result.paused}
        )
    if result.left_alone:
        parts.append(
            " "
            + ngettext(
                "%(count)d was left alone (sent, being sent, cancelled, spam, awaiting confirmation or erased).",
                "%(count)d were left alone (sent, being sent, cancelled, spam, awaiting confirmation or erased).",
                result.left_alone,
            )
            % {"count": result.left_alone}
        )
    return "".join(str(part) for part in parts), messages.SUCCESS if result.retried else messages.WARNING


def cancelled(result: Stopped) -> Report:
    message = ngettext(
        "%(count)d signature cancelled: it will not be forwarded and no longer counts.",
        "%(count)d signatures cancelled: they will not be forwarded and no longer count.",
        result.moved,
    ) % {"count": result.moved}
    if result.left_alone:
        message += " " + ngettext(
            "%(count)d was left alone: only pending, held or failed signatures can be cancelled.",
            "%(count)d were left alone: only pending, held or failed signatures can be cancelled.",
            result.left_alone,
        ) % {"count": result.left_alone}
    return message, messages.SUCCESS if result.moved else messages.WARNING


def marked_as_spam(result: Stopped) -> Report:
    message = ngettext(
        "%(count)d signature marked as spam: it will never be forwarded, no longer counts and is not listed.",
        "%(count)d signatures marked as spam: they will never be forwarded, no longer count and are not listed.",
        result.moved,
    ) % {"count": result.moved}
    if result.already_sent:
        message += " " + ngettext(
            "%(count)d of them had already reached the platform, which keeps it.",
            "%(count)d of them had already reached the platform, which keeps them.",
            result.already_sent,
        ) % {"count": result.already_sent}
    if result.left_alone:
        message += " " + ngettext(
            "%(count)d was left alone (already spam, or being sent right now: try again in a minute).",
            "%(count)d were left alone (already spam, or being sent right now: try again in a minute).",
            result.left_alone,
        ) % {"count": result.left_alone}
    return message, messages.SUCCESS if result.moved else messages.WARNING


def confirmations_resent(sent: int, failed: int, skipped: int) -> Report:
    parts = [
        ngettext(
            "Confirmation e-mail sent again for %(count)d signature.",
            "Confirmation e-mails sent again for %(count)d signatures.",
            sent,
        )
        % {"count": sent}
    ]
    if failed:
        parts.append(
            ngettext(
                "%(count)d could not be sent (the mail server refused it; the log names the signature).",
                "%(count)d could not be sent (the mail server refused them; the log names the signatures).",
                failed,
            )
            % {"count": failed}
        )
    if skipped:
        parts.append(
            ngettext(
                "%(count)d was skipped: it is not awaiting confirmation.",
                "%(count)d were skipped: they are not awaiting confirmation.",
                skipped,
            )
            % {"count": skipped}
        )
    return " ".join(parts), messages.ERROR if failed else messages.SUCCESS if sent else messages.WARNING


def erased(result: Erasure) -> Report:
    message = ngettext(
        "Erased the personal data of %(count)d signature: name, e-mail, phone, street address, city, "
        "region, postal code, reason and client address hash are blank, and it is hidden from the public "
        "list.",
        "Erased the personal data of %(count)d signatures: names, e-mails, phones, street addresses, "
        "cities, regions, postal codes, reasons and client address hashes are blank, and they are hidden "
        "from the public list.",
        result.erased,
    ) % {"count": result.erased}
    if result.cancelled:
        message += " " + ngettext(
            "%(count)d of them had not been sent and was cancelled, so it will not be forwarded.",
            "%(count)d of them had not been sent and were cancelled, so they will not be forwarded.",
            result.cancelled,
        ) % {"count": result.cancelled}
    if result.in_flight:
        message += " " + ngettext(
            "%(count)d was left alone: a worker is sending it right now. Erase it again in a minute.",
            "%(count)d were left alone: a worker is sending them right now. Erase them again in a minute.",
            result.in_flight,
        ) % {"count": result.in_flight}
    message += " " + str(_("What the platform already received must be erased there."))
    return message, messages.SUCCESS if result.erased else messages.WARNING
