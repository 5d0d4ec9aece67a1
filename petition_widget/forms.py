"""The signing forms: the fields of each upstream's signatures POST, validated and bounded."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import phonenumbers
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, validate_email
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from .models import Provider
from .text import DEFAULT_IGNORABLE, has_letter, normalize_email_domain

# C0/C1 controls (line breaks aside) and every default-ignorable code point (soft hyphen, zero-width and
# bidirectional formatting characters, Hangul fillers, variation selectors…): never part of a name or an address.
_INVISIBLE = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + DEFAULT_IGNORABLE
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")
_LINE_BREAKS = re.compile(r"[\t\n\r]+")
_SPACES = re.compile(r"[ \t]{2,}")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Drop control characters (NUL included) and default-ignorable code points, NFC-normalise, tidy spaces."""
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    else:
        value = _LINE_BREAKS.sub(" ", value)
    value = unicodedata.normalize("NFC", _INVISIBLE_RE.sub("", value))
    return _SPACES.sub(" ", value).strip()


def _only(extra: str, *, digits: bool, message: str):
    """A validator accepting letters and combining marks of any script, plus `extra` (and digits)."""

    def validate(value: str) -> None:
        for char in value:
            category = unicodedata.category(char)
            if category[0] in "LM" or char in extra or (digits and category == "Nd"):
                continue
            raise ValidationError(message, code="invalid_characters", params={"char": char})

    return validate


validate_name = _only(
    " '’-.,",
    digits=False,
    message=_("Please use letters only; spaces, apostrophes, hyphens and full stops are fine too."),
)
NO_LETTER_MESSAGE = _("Please write your name with at least one letter.")


def validate_has_letter(value: str) -> None:
    """A name must show something: at least one letter, not only punctuation or combining marks."""
    if not has_letter(value):
        raise ValidationError(NO_LETTER_MESSAGE, code="no_letter")


validate_city = _only(
    " '’-.,()/",
    digits=True,
    message=_("Please use letters and digits only; spaces, apostrophes, hyphens and full stops are fine too."),
)
validate_region = _only(
    " '’-.", digits=True, message=_("Please use letters and digits only, as in “NY” or “Île-de-France”.")
)


def validate_no_markup(value: str) -> None:
    if "<" in value or ">" in value:
        raise ValidationError(_("Please leave out the characters < and >."), code="markup")


validate_postal_code = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9 -]*$", _("Please use letters, digits, spaces and hyphens.")
)


class CleanTextMixin:
    multiline = False

    def to_python(self, value):
        value = super().to_python(value)
        return clean_text(value, multiline=self.multiline) if value else value


class CleanCharField(CleanTextMixin, forms.CharField):
    """A ``CharField`` that strips control characters and NUL bytes before validating."""

    def __init__(self, *, multiline: bool = False, **kwargs) -> None:
        self.multiline = multiline
        super().__init__(**kwargs)


class NameField(CleanCharField):
    """A first or last name: letters of any script, and at least one of them visible."""

    default_validators = [validate_name, validate_has_letter]

    def to_python(self, value):
        cleaned = super().to_python(value)
        if not cleaned and isinstance(value, str) and value.strip():
            # Typed, but nothing visible was left (Hangul fillers, say): say so rather than "required".
            raise ValidationError(NO_LETTER_MESSAGE, code="no_letter")
        return cleaned


class CleanEmailField(CleanTextMixin, forms.EmailField):
    """An e-mail address: local part as typed (invisible characters dropped), domain in its IDNA ASCII form."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return value
        try:
            return normalize_email_domain(value)
        except ValueError:
            raise ValidationError(validate_email.message, code="invalid") from None


class CountryCodeField(forms.ChoiceField):
    """An ISO 3166-1 alpha-2 code, offered as a list of country names."""

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=self._choices_with_blank, **kwargs)

    @staticmethod
    def _choices_with_blank():
        return [("", _("Choose your country"))] + list(countries)

    def to_python(self, value):
        return super().to_python(value).strip().upper()

    def valid_value(self, value) -> bool:
        return value in countries


def _attrs(autocomplete: str, **extra) -> dict:
    return {"autocomplete": autocomplete, **extra}


def _address_line(
    label: str, max_length: int, validator: Callable[[str], None], autocomplete: str, *, required: bool = True
) -> CleanCharField:
    """A one-line part of the signer's address, checked by ``validator``; ``autocomplete`` names it for browsers."""
    return CleanCharField(
        label=label,
        max_length=max_length,
        required=required,
        validators=[validator],
        widget=forms.TextInput(_attrs(autocomplete)),
    )


class SignatureForm(forms.Form):
    """Fields shared by every provider's form; subclasses add the rest of their upstream POST.

    It validates and cleans only: :func:`petition_widget.signing.sign` stores what it accepted.
    """

    # The name of the Signature field each form field is stored in, where the two differ.
    stored_as: dict[str, str] = {}

    first_name = NameField(label=_("First name"), max_length=100, widget=forms.TextInput(_attrs("given-name")))
    last_name = NameField(label=_("Last name"), max_length=100, widget=forms.TextInput(_attrs("family-name")))
    email = CleanEmailField(label=_("E-mail"), max_length=254, widget=forms.EmailInput(_attrs("email")))

    def __init__(self, *args, petition, **kwargs) -> None:
        self.petition = petition
        kwargs.setdefault("auto_id", f"pw-{petition.slug}-%s")
        super().__init__(*args, **kwargs)

    # The form's answer to a duplicate address (see petition_widget.signing), on its ``email`` field.
    duplicate_message = _("This e-mail address has already signed this petition. Thank you for your support!")

    def signature_data(self) -> dict:
        """The cleaned data of a valid form under the names of the :class:`Signature` fields they are stored in.

        What :func:`petition_widget.signing.sign` stores; the form itself writes nothing.
        """
        return {self.stored_as.get(name, name): value for name, value in self.cleaned_data.items()}


class ChangeorgSignatureForm(SignatureForm):
    """Change.org ``POST petitions/:id/signatures``: required and optional exactly as upstream."""

    address = _address_line(_("Address"), 200, validate_no_markup, "street-address", required=False)
    city = _address_line(_("City"), 100, validate_city, "address-level2")
    state_province = _address_line(_("State or province"), 64, validate_region, "address-level1", required=False)
    postal_code = _address_line(_("Postal code"), 16, validate_postal_code, "postal-code")
    country_code = CountryCodeField(label=_("Country"), widget=forms.Select(_attrs("country")))
    phone = CleanCharField(
        label=_("Mobile phone"), max_length=32, required=False, widget=forms.TextInput(_attrs("tel", type="tel"))
    )
    reason = CleanCharField(
        label=_("Why are you signing?"),
        max_length=1000,
        required=False,
        multiline=True,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    hidden = forms.BooleanField(label=_("Don't show my name in the public list of signers"), required=False)

    def clean(self):
        cleaned = super().clean()
        phone = cleaned.get("phone")
        if phone:
            try:
                number = phonenumbers.parse(phone, cleaned.get("country_code") or None)
            except phonenumbers.NumberParseException:
                number = None
            if number is None or not phonenumbers.is_valid_number(number):
                self.add_error(
                    "phone",
                    _(
                        "Please enter a valid phone number, with its country code if it is "
                        "not from the country you chose."
                    ),
                )
            else:
                cleaned["phone"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return cleaned


class WethepeopleSignatureForm(SignatureForm):
    """We the People ``POST /v1/signatures.json``: names and e-mail required, ZIP code and sign-up optional."""

    stored_as = {"zip": "postal_code"}

    zip = forms.RegexField(
        label=_("ZIP code"),
        regex=r"^\d{5}(-\d{4})?$",
        required=False,
        max_length=10,
        error_messages={"invalid": _("Please enter a ZIP code such as 20500 or 20500-0003.")},
        widget=forms.TextInput(_attrs("postal-code", inputmode="numeric")),
    )
    signup = forms.BooleanField(label=_("Send me e-mail updates from We the People"), required=False)


FORM_CLASSES: dict[str, type[SignatureForm]] = {
    Provider.CHANGEORG: ChangeorgSignatureForm,
    Provider.WETHEPEOPLE: WethepeopleSignatureForm,
}


def form_class_for(petition) -> type[SignatureForm]:
    return FORM_CLASSES[petition.provider]
