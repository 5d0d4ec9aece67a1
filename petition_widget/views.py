"""The signing form page; the template tag renders the same form inside any host page."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.generic.base import TemplateResponseMixin

from . import abuse, confirmation, embed, signing
from .conf import app_settings
from .forms import SignatureForm, form_class_for
from .guards import Refusal, guard_request
from .models import ForwardingState, Petition, Provider, Signature
from .petitions import CallbackRefused, check_callback_token, record_auth_key_change

logger = logging.getLogger(__name__)

SIGNED_PARAM = "petition_signed"
CLOSED_MESSAGE = _("This petition is closed and no longer accepts signatures.")


def without_signed_param(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != SIGNED_PARAM]
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


def thanks_url(url: str, petition: Petition) -> str:
    """`url` with the marker that makes the form show its thank-you state, anchored on the widget."""
    parts = urlsplit(without_signed_param(url))
    query = parse_qsl(parts.query, keep_blank_values=True) + [(SIGNED_PARAM, petition.slug)]
    return urlunsplit(parts._replace(query=urlencode(query), fragment=f"petition-{petition.slug}"))


def widget_context(
    request: HttpRequest,
    petition: Petition,
    *,
    form: SignatureForm | None = None,
    next_url: str = "",
    protection: abuse.ProtectionForm | None = None,
    refusal: abuse.Refusal | None = None,
) -> dict:
    """Everything ``petition_widget/widget.html`` needs; shared by the view and the template tag.

    ``protection`` carries the form token, the honeypot and the captcha (new ones unless given);
    ``refusal`` is why the last submission was turned away, shown above the form.
    """
    signed = request.GET.get(SIGNED_PARAM) == petition.slug
    shows_form = not signed and petition.accepts_signatures
    if form is None and shows_form:
        form = form_class_for(petition)(petition=petition)
    if protection is None and shows_form:
        protection = abuse.ProtectionForm(petition=petition)
    return {
        "petition": petition,
        "form": form,
        "protection": protection,
        "refusal": refusal,
        "signed": signed,
        "closed_message": None if petition.accepts_signatures else CLOSED_MESSAGE,
        "form_action": reverse("petition_widget:sign", kwargs={"slug": petition.slug}),
        "next_url": next_url,
        "notice_template": f"petition_widget/notice_{petition.provider}.html",
    }


@method_decorator(guard_request(csrf=True), name="dispatch")
class SignView(TemplateResponseMixin, View):
    """``GET`` shows a petition's form; ``POST`` signs it (:func:`petition_widget.signing.sign`) and redirects
    (Post/Redirect/Get).

    A body over ``MAX_REQUEST_BYTES``, of unknown length or in an unreadable character set is refused
    before anything reads it (:mod:`petition_widget.guards`). A ``POST`` then passes the abuse checks of
    :mod:`petition_widget.abuse`: a refused one gets the form again with the reason, 400 (bot checks, a
    replayed form) or 429 (rate limits), and nothing is stored. A duplicate address is a form error, or on
    a petition that conceals duplicates the same redirect as a new signature.

    A host can override any class attribute through ``as_view()``.
    """

    template_name = "petition_widget/sign.html"
    http_method_names = ["get", "post", "head", "options"]

    # What a successful sign POST reads of the petition; the whole row is loaded only to render the form again.
    post_fields = ("pk", "slug", "provider", "accepts_signatures", "require_confirmation", "conceal_duplicates")

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        petitions = Petition.objects.only(*self.post_fields) if request.method == "POST" else Petition.objects
        self.petition = get_object_or_404(petitions, slug=kwargs["slug"])
        return super().dispatch(request, *args, **kwargs)

    def render_form(
        self,
        form: SignatureForm | None = None,
        next_url: str = "",
        status: int = 200,
        *,
        protection: abuse.ProtectionForm | None = None,
        refusal: abuse.Refusal | None = None,
    ) -> HttpResponse:
        if self.petition.get_deferred_fields():
            self.petition.refresh_from_db()
        context = widget_context(
            self.request, self.petition, form=form, next_url=next_url, protection=protection, refusal=refusal
        )
        context["base_template"] = app_settings.BASE_TEMPLATE
        response = self.render_to_response(context, status=status)
        if refusal is not None and refusal.retry_after:
            response.headers["Retry-After"] = str(refusal.retry_after)
        return response

    def refuse(
        self, form: SignatureForm, protection: abuse.ProtectionForm, refusal: abuse.Refusal, next_url: str
    ) -> HttpResponse:
        """The form again, the signer's entries kept, with the reason above it and a new token; nothing stored."""
        logger.info("sign POST refused for petition %s: %s", self.petition.pk, refusal.code)
        return self.render_form(
            form, next_url, refusal.status, protection=protection.again(keep_token=False), refusal=refusal
        )

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return self.render_form()

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        next_url = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = ""
        if not self.petition.accepts_signatures:
            return self.render_form(next_url=next_url, status=409)

        form = form_class_for(self.petition)(request.POST, petition=self.petition)
        protection = abuse.ProtectionForm(request.POST, petition=self.petition)
        valid = form.is_valid()
        refusal = protection.refusal()
        if refusal is not None:
            return self.refuse(form, protection, refusal, next_url)
        if valid:
            result = signing.sign(
                self.petition, form.signature_data(), client=signing.Client.of(request), checks=protection
            )
            if result.status == signing.Status.REFUSED:
                return self.refuse(form, protection, result.refusal, next_url)
            if result.status == signing.Status.STORED:
                logger.info("signature %s stored for petition %s", result.signature.pk, self.petition.pk)
            elif result.status == signing.Status.CONCEALED_DUPLICATE:
                logger.info("duplicate signature for petition %s answered as a new one", self.petition.pk)
            else:
                form.add_error("email", form.duplicate_message)
            if result.answered_as_new:
                return HttpResponseRedirect(thanks_url(next_url or request.path, self.petition), status=303)
        return self.render_form(form, next_url=next_url, protection=protection.again(keep_token=True))


# Parameters of the embed page's address that stay across its POST and redirect (the theme, the framing page).
EMBED_PARAMS = (*embed.THEME_PARAMS, "parent")
# Given to the templates instead of a CSRF token: the embed form carries none (see EmbedView).
NO_CSRF_TOKEN = "NOTPROVIDED"


@method_decorator(xframe_options_exempt, name="dispatch")
@method_decorator(guard_request(csrf=False), name="dispatch")
class EmbedView(TemplateResponseMixin, View):
    """The widget alone, for an ``<iframe>`` on another site (``static/petition_widget/embed.js`` inserts it).

    Inside the frame a plain form POST reloads the frame: with the errors, or (Post/Redirect/Get) with the
    thank-you state. The frame may be third-party to the browser, whose cookies it may block there, so
    neither Django's CSRF cookie nor a session is used; what replaces them (:mod:`petition_widget.embed`):

    - ``Content-Security-Policy: frame-ancestors`` with the petition's ``embed_origins`` only (``'none'``
      when empty), on every answer of this view, which is exempt from ``X-Frame-Options``;
    - a POST must come from our own origin (the form in the frame), else 403 before its body is read;
    - the signed single-use form token, the honeypot, the captcha and the rate limits, as on the form page.

    The theme (colours, font, radius) comes from the address's parameters, validated by
    :func:`petition_widget.embed.theme_from`; ``parent`` names the framing page's origin, which receives
    the frame's height by ``postMessage`` if it is one of ``embed_origins``. A signed ``preview`` (the
    admin's live preview) lets our own pages frame the page, its form disabled.
    """

    template_name = "petition_widget/embed.html"
    http_method_names = ["get", "post", "head", "options"]

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.petition = get_object_or_404(Petition, slug=kwargs["slug"])
        self.preview = request.method in ("GET", "HEAD") and embed.is_preview(
            self.petition, request.GET.get("preview", "")
        )
        response = super().dispatch(request, *args, **kwargs)
        response.headers["Content-Security-Policy"] = embed.frame_ancestors(self.petition, preview=self.preview)
        # The same address serves every framing site and every theme: a shared cache must not mix them.
        response.headers["Cache-Control"] = "private, no-store"
        return response

    def embed_path(self, **extra: str) -> str:
        """This page's address with the embed parameters the request carried (and ``extra``)."""
        query = [(k, v) for k, v in self.request.GET.items() if k in EMBED_PARAMS and v]
        query += list(extra.items())
        path = self.request.path
        return f"{path}?{urlencode(query)}" if query else path

    def render_embed(
        self,
        form: SignatureForm | None = None,
        status: int = 200,
        *,
        protection: abuse.ProtectionForm | None = None,
        refusal: abuse.Refusal | None = None,
    ) -> HttpResponse:
        context = widget_context(self.request, self.petition, form=form, protection=protection, refusal=refusal)
        context.update(
            form_action=self.embed_path(),
            csrf_token=NO_CSRF_TOKEN,
            theme=embed.theme_from(self.request.GET),
            parent_origin=embed.parent_origin(self.petition, self.request.GET.get("parent", "")),
            preview=self.preview,
        )
        response = self.render_to_response(context, status=status)
        if refusal is not None and refusal.retry_after:
            response.headers["Retry-After"] = str(refusal.retry_after)
        return response

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return self.render_embed()

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        origin_refusal = embed.post_origin_refusal(request)
        if origin_refusal is not None:
            logger.info("embed POST refused for petition %s: %s", self.petition.pk, origin_refusal.code)
            return HttpResponse(origin_refusal.message, status=403, content_type="text/plain; charset=utf-8")
        if not self.petition.accepts_signatures:
            return self.render_embed(status=409)
        form = form_class_for(self.petition)(request.POST, petition=self.petition)
        protection = abuse.ProtectionForm(request.POST, petition=self.petition)
        valid = form.is_valid()
        refusal = protection.refusal()
        if refusal is None and valid:
            result = signing.sign(
                self.petition, form.signature_data(), client=signing.Client.of(request), checks=protection
            )
            if result.answered_as_new:
                logger.info("embedded form signed for petition %s", self.petition.pk)
                # The thank-you address of the form page, without its anchor: it would scroll the host page.
                thanks = urlsplit(thanks_url(self.embed_path(), self.petition))._replace(fragment="")
                return HttpResponseRedirect(urlunsplit(thanks), status=303)
            if result.status == signing.Status.REFUSED:
                refusal = result.refusal
            else:
                form.add_error("email", form.duplicate_message)
        if refusal is not None:
            logger.info("embed POST refused for petition %s: %s", self.petition.pk, refusal.code)
            again = protection.again(keep_token=False)
            return self.render_embed(form, refusal.status, protection=again, refusal=refusal)
        return self.render_embed(form, protection=protection.again(keep_token=True))


@method_decorator(guard_request(csrf=True), name="dispatch")
class ConfirmView(TemplateResponseMixin, View):
    """The page an e-mailed confirmation link opens: ``GET`` shows a button, only its ``POST`` confirms.

    Mail scanners and link previews fetch links; they do not submit forms, so they cannot confirm anyone.
    """

    template_name = "petition_widget/confirm.html"
    http_method_names = ["get", "post", "head", "options"]
    error_messages = {
        "expired": _("This confirmation link has expired. Please sign the petition again."),
        "invalid": _("This confirmation link is not valid. Please use the whole link from the e-mail."),
        "gone": _("This signature no longer exists. Please sign the petition again."),
    }

    def render(self, signature: Signature | None, *, confirmed: bool = False, error: str = "") -> HttpResponse:
        context = {
            "signature": signature,
            "confirmed": confirmed,
            "error_message": self.error_messages.get(error, ""),
            "base_template": app_settings.BASE_TEMPLATE,
        }
        status = {"": 200, "invalid": 400}.get(error, 410)
        response = self.render_to_response(context, status=status)
        response.headers["Referrer-Policy"] = "no-referrer"  # the token stays out of other sites' logs
        return response

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            signature = confirmation.find_signature(token, Signature.objects.select_related("petition"))
        except confirmation.ConfirmationError as exc:
            return self.render(None, error=str(exc))
        return self.render(signature, confirmed=signature.state != ForwardingState.UNCONFIRMED)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            signature = confirmation.confirm(token)
        except confirmation.ConfirmationError as exc:
            return self.render(None, error=str(exc))
        return self.render(signature, confirmed=True)


def failure_json(refusal: Refusal) -> HttpResponse:
    return JsonResponse({"result": "failure", "messages": [refusal.message]}, status=refusal.status)


@method_decorator(guard_request(csrf=False, answer=failure_json), name="dispatch")
class AuthKeyCallbackView(View):
    """Receives Change.org's later changes to a petition's authorization key (a revocation, say).

    The URL carries a token only the upstream was given with the latest key request, so nobody else can
    revoke a site's key, and an older URL is worthless. A callback can take the key away but never
    install one (see :func:`~petition_widget.petitions.record_auth_key_change`). The upstream posts from
    its servers, so there is no CSRF check; a body too large to read is refused first.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest, slug: str, token: str) -> HttpResponse:
        petition = Petition.objects.filter(slug=slug, provider=Provider.CHANGEORG).first()
        if petition is None or not check_callback_token(petition, token):
            return JsonResponse({"result": "failure", "messages": ["not found"]}, status=404)
        if request.POST.get("petition_id", petition.upstream_id) != petition.upstream_id:
            return JsonResponse({"result": "failure", "messages": ["unexpected petition"]}, status=400)
        try:
            record_auth_key_change(
                petition,
                status=request.POST.get("status", ""),
                auth_key=request.POST.get("auth_key", ""),
                source=request.POST.get("source", ""),
            )
        except CallbackRefused as refused:
            return JsonResponse({"result": "failure", "messages": [str(refused)]}, status=400)
        return JsonResponse({"result": "success"})
