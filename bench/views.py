"""Reference views the sign POST is measured against.

``bare`` is the ceiling of the server setup: the whole middleware stack and URL resolution, and no
work of its own (it neither reads the body nor checks CSRF). ``minimal_sign`` is the floor of any
Django sign form: the CSRF check of the normal middleware, the petition's primary key from the slug,
one INSERT of the posted values without validation, and a 303.
"""

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from petition_widget.models import Petition, Signature

FIELDS = ("first_name", "last_name", "email", "address", "city", "state_province", "postal_code", "phone", "reason")


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@require_POST
def minimal_sign(request: HttpRequest, slug: str) -> HttpResponse:
    petition_id = Petition.objects.filter(slug=slug).values_list("pk", flat=True).first()
    if petition_id is None:
        raise Http404
    post = request.POST
    Signature.objects.create(
        petition_id=petition_id,
        country_code=post.get("country_code", ""),
        hidden=bool(post.get("hidden")),
        **{name: post.get(name, "") for name in FIELDS},
    )
    return HttpResponseRedirect(f"{request.path}?petition_signed={slug}", status=303)
