"""Small pieces the admin pages share: the forwarding states' coloured badges and links to the signatures list."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from ..models import ForwardingState

# Badge backgrounds for the forwarding states; each keeps white text readable (contrast 4.5:1 or more) in
# the admin's light and dark themes alike.
STATE_COLOURS = {
    ForwardingState.PENDING: "#1d4ed8",
    ForwardingState.SENDING: "#6d28d9",
    ForwardingState.SENT: "#15803d",
    ForwardingState.HELD: "#b45309",
    ForwardingState.REJECTED: "#9f1239",
    ForwardingState.FAILED: "#b91c1c",
    ForwardingState.CANCELLED: "#4b5563",
    ForwardingState.UNCONFIRMED: "#0e7490",
    ForwardingState.SPAM: "#86198f",
}
STATE_BADGE = (
    '<span class="pw-state pw-state-{}" style="background-color: {}; color: #fff; padding: 1px 6px; '
    'border-radius: 3px; white-space: nowrap">{}</span>'
)


def state_badge(state: str, text: str) -> str:
    """``text`` in the coloured badge of a forwarding state."""
    return format_html(STATE_BADGE, state, STATE_COLOURS.get(state, "#4b5563"), text)


def signatures_url(**filters) -> str:
    """The signatures changelist, filtered."""
    url = reverse("admin:petition_widget_signature_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url
