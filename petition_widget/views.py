"""The signing form page; the template tag renders the same form inside any host page."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.cache import patch_vary_headers
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
from .widget import (
    CLOSED_MESSAGE,
    FRAGMENT_HEADER,
    SIGNED_PARAM,
    clean_page_title,
    remember_signer,
    thanks_params,
    thanks_url,
    wants_fragment,
    widget_context,
    without_signed_param,
)

logger = logging.getLogger(__name__)

# Kept here for imports that predate petition_widget.widget.
__all__ = ["CLOSED_MESSAGE", "SIGNED_PARAM", "thanks_url", "widget_context", "without_signed_param"]


@dataclass
class PostedForm:
    """A posted signing form after :func:`sign_posted_form`: its forms, why it was refused, what signing did."""

    form: SignatureForm
    protection: abuse.ProtectionForm
    refusal: abuse.Refusal | None = None
    result: signing.SignResult | None = None


def sign_posted_form(request: HttpRequest, petition: Petition) -> PostedForm:
    """Validate a posted signing form and its protection (honeypot, token, captcha) and sign when both pass.

    The form page and the embed page share it; each maps the outcome to its own answer. A bot check's refusal
    comes before the form's own errors; a duplicate address (not concealed) becomes an error on ``email``.
    """
    form = form_class_for(petition)(request.POST, petition=petition)
    protection = abuse.ProtectionForm(request.POST, petition=petition)
    posted = PostedForm(form, protection)
    valid = form.is_valid()
    posted.refusal = protection.refusal()
    if posted.refusal is not None or not valid:
        return posted
    posted.result = signing.sign(petition, form.signature_data(), client=signing.Client.of(request), checks=protection)
    if posted.result.status == signing.Status.REFUSED:
        posted.refusal = posted.result.refusal
    elif posted.result.status == signing.Status.DUPLICATE:
        form.add_error("email", form.duplicate_message)
    return posted


@method_decorator(guard_request(csrf=True), name="dispatch")
class SignView(TemplateResponseMixin, View):
    """``GET`` shows a petition's form; ``POST`` signs it (:func:`petition_widget.signing.sign`) and redirects
    (Post/Redirect/Get).

    A body over ``MAX_REQUEST_BYTES``, of unknown length or in an unreadable character set is refused
    before anything reads it (:mod:`petition_widget.guards`). A ``POST`` then passes the abuse checks of
    :mod:`petition_widget.abuse`: a refused one gets the form again with the reason, 400 (bot checks, a
    replayed form) or 429 (rate limits), and nothing is stored. A duplicate address is a form error, or on
    a petition that conceals duplicates the same redirect as a new signature.

    The redirect after a signature goes back to the host page (``next``) with the thank-you marker and
    sets the cookie that makes that state show in this browser only (:mod:`petition_widget.widget`).
    widget.js submits in place with the ``X-Petition-Widget: 1`` header: the answer is then the widget
    alone, with the same status (the thank-you state a 200), and the page around it stays.

    A host can override any class attribute through ``as_view()``.
    """

    template_name = "petition_widget/sign.html"
    fragment_template_name = "petition_widget/widget.html"
    http_method_names = ["get", "post", "head", "options"]
    # The host page's title, as the form sent it (for the stand-alone page's link back).
    page_title = ""

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
        signed: bool | None = None,
    ) -> HttpResponse:
        if self.petition.get_deferred_fields():
            self.petition.refresh_from_db()
        fragment = wants_fragment(self.request)
        context = widget_context(
            self.request,
            self.petition,
            form=form,
            next_url=next_url,
            page_title=self.page_title,
            protection=protection,
            refusal=refusal,
            signed=signed,
            heading_level=2 if fragment else 1,
        )
        context["base_template"] = app_settings.BASE_TEMPLATE
        template = [self.fragment_template_name] if fragment else self.get_template_names()
        response = self.response_class(
            request=self.request, template=template, context=context, using=self.template_engine, status=status
        )
        patch_vary_headers(response, [FRAGMENT_HEADER])
        if fragment:
            response.headers[FRAGMENT_HEADER] = "1"
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
        self.page_title = clean_page_title(request.POST.get("page_title", ""))
        next_url = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = ""
        if not self.petition.accepts_signatures:
            return self.render_form(next_url=next_url, status=409)

        posted = sign_posted_form(request, self.petition)
        if posted.refusal is not None:
            return self.refuse(posted.form, posted.protection, posted.refusal, next_url)
        if posted.result is not None and posted.result.answered_as_new:
            if posted.result.status == signing.Status.STORED:
                logger.info("signature %s stored for petition %s", posted.result.signature.pk, self.petition.pk)
            else:
                logger.info("duplicate signature for petition %s answered as a new one", self.petition.pk)
            return self.thank(next_url)
        again = posted.protection.again(keep_token=True)
        return self.render_form(posted.form, next_url=next_url, protection=again)

    def thank(self, next_url: str) -> HttpResponse:
        """The thank-you state: in place for widget.js, else a 303 back to the host page in this browser only."""
        if wants_fragment(self.request):
            return self.render_form(next_url=next_url, signed=True)
        response = HttpResponseRedirect(thanks_url(next_url or self.request.path, self.petition), status=303)
        remember_signer(response, self.request, self.petition)
        return response


# Parameters of the embed page's address that stay across its POST and redirect (the theme, the framing page).
EMBED_PARAMS = (*embed.THEME_PARAMS, "parent")


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
        signed: bool | None = None,
    ) -> HttpResponse:
        context = widget_context(
            self.request, self.petition, form=form, protection=protection, refusal=refusal, signed=signed
        )
        context.update(
            form_action=self.embed_path(),
            # A plain POST that navigates the frame: embed-frame.js resizes and focuses after each load.
            native_form=True,
            # No CSRF token: the frame may keep no cookie, so the embed form carries none (see EmbedView), and
            # the empty value keeps Django's csrf context processor from setting the cookie.
            csrf_token="",
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
        posted = sign_posted_form(request, self.petition)
        if posted.result is not None and posted.result.answered_as_new:
            logger.info("embedded form signed for petition %s", self.petition.pk)
            # The thank-you address of the frame, without an anchor (it would scroll the host page). The frame
            # may not keep the cookie that marks the signer's browser (third-party cookies blocked), so the
            # address itself carries a short-lived signed mark of the signer instead.
            return HttpResponseRedirect(self.embed_path(**thanks_params(self.petition)), status=303)
        if posted.refusal is not None:
            logger.info("embed POST refused for petition %s: %s", self.petition.pk, posted.refusal.code)
            again = posted.protection.again(keep_token=False)
            return self.render_embed(posted.form, posted.refusal.status, protection=again, refusal=posted.refusal)
        return self.render_embed(posted.form, protection=posted.protection.again(keep_token=True))


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
        # The token stays out of other sites' logs; same-origin (not no-referrer, which makes Chromium send
        # "Origin: null" with the button's POST, failing the CSRF check) still names the page to this site.
        response.headers["Referrer-Policy"] = "same-origin"
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
