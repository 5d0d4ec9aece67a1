"""Validation of every field of both signing forms, hostile input included."""

import pytest

from petition_widget.forms import ChangeorgSignatureForm, WethepeopleSignatureForm, clean_text
from petition_widget.models import Signature
from petition_widget.signing import build_signature
from petition_widget.text import DEFAULT_IGNORABLE_RANGES

REQUIRED_CHANGEORG = ["first_name", "last_name", "email", "city", "postal_code", "country_code"]
OPTIONAL_CHANGEORG = ["address", "state_province", "phone", "reason", "hidden"]


def changeorg_form(petition, data):
    return ChangeorgSignatureForm(data, petition=petition)


def test_fields_and_requirement_follow_the_upstream_post(petition, wtp_petition):
    form = ChangeorgSignatureForm(petition=petition)
    assert set(form.fields) == set(REQUIRED_CHANGEORG + OPTIONAL_CHANGEORG)
    assert {name for name, field in form.fields.items() if field.required} == set(REQUIRED_CHANGEORG)
    wtp = WethepeopleSignatureForm(petition=wtp_petition)
    assert set(wtp.fields) == {"first_name", "last_name", "email", "zip", "signup"}
    assert {name for name, field in wtp.fields.items() if field.required} == {"first_name", "last_name", "email"}


def test_valid_minimal_changeorg_form_builds_a_signature(petition, changeorg_data):
    form = changeorg_form(petition, changeorg_data)
    assert form.is_valid(), form.errors
    signature = build_signature(form.petition, form.signature_data())
    assert signature.petition == petition
    assert (signature.first_name, signature.city, signature.country_code) == ("Ada", "London", "GB")
    assert signature.hidden is False and signature.phone == ""


def test_all_optional_fields(petition, changeorg_data):
    data = {
        **changeorg_data,
        "address": "12 St James's Square",
        "state_province": "Greater London",
        "phone": "07911 123456",
        "reason": "Because bees\r\nmatter.",
        "hidden": "on",
    }
    form = changeorg_form(petition, data)
    assert form.is_valid(), form.errors
    signature = build_signature(form.petition, form.signature_data())
    assert signature.phone == "+447911123456"
    assert signature.reason == "Because bees\nmatter."
    assert signature.hidden is True


@pytest.mark.parametrize("field", REQUIRED_CHANGEORG)
def test_each_required_field_missing(petition, changeorg_data, field):
    form = changeorg_form(petition, {**changeorg_data, field: ""})
    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert "This field is required." in form.errors[field]


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("first_name", 100),
        ("last_name", 100),
        ("address", 200),
        ("city", 100),
        ("state_province", 64),
        ("postal_code", 16),
        ("phone", 32),
        ("reason", 1000),
    ],
)
def test_oversize_values_are_refused(petition, changeorg_data, field, limit):
    filler = "7" if field in ("postal_code", "phone") else "a"
    form = changeorg_form(petition, {**changeorg_data, field: filler * (limit + 1)})
    assert not form.is_valid()
    assert f"at most {limit} characters" in form.errors[field][0]
    assert changeorg_form(petition, {**changeorg_data, field: filler * 10_000}).is_valid() is False


def test_oversize_email(petition, changeorg_data):
    form = changeorg_form(petition, {**changeorg_data, "email": "a" * 250 + "@example.com"})
    assert not form.is_valid() and "email" in form.errors


@pytest.mark.parametrize("field", ["first_name", "last_name"])
@pytest.mark.parametrize(
    "value",
    ["<script>alert(1)</script>", "Ada<b>", "Robert'); DROP TABLE--", "Ada1", "{{ 7*7 }}", "=cmd|' /C calc'!A0"],
)
def test_names_refuse_markup_digits_and_symbols(petition, changeorg_data, field, value):
    form = changeorg_form(petition, {**changeorg_data, field: value})
    assert not form.is_valid()
    assert "letters" in form.errors[field][0]


@pytest.mark.parametrize("value", ["O'Brien", "Jean-Luc", "José María", "Zoë", "李", "Nguyễn", "St. John", "D’Arcy"])
def test_names_accept_real_names(petition, changeorg_data, value):
    form = changeorg_form(petition, {**changeorg_data, "first_name": value, "last_name": value})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["first_name"] == value


@pytest.mark.parametrize("field", ["first_name", "city", "address", "postal_code", "email"])
def test_nul_bytes_and_control_characters_are_stripped(petition, changeorg_data, field):
    value = changeorg_data.get(field, "Main Street 1")
    dirty = value[:2] + "\x00\x07\u202e\u200b" + value[2:] + "\x1b"
    form = changeorg_form(petition, {**changeorg_data, field: dirty})
    assert form.is_valid(), form.errors
    assert form.cleaned_data[field] == value


def test_newlines_in_single_line_fields_become_spaces(petition, changeorg_data):
    form = changeorg_form(petition, {**changeorg_data, "city": "New\r\nYork", "reason": "one\n\x00two"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["city"] == "New York"
    assert form.cleaned_data["reason"] == "one\ntwo"


def test_clean_text_normalises_unicode():
    assert clean_text("Zoe\u0308") == "Zoë"  # combining diaeresis composed (NFC)
    assert clean_text("  a \t  b  ") == "a b"


@pytest.mark.parametrize("field", ["first_name", "last_name"])
@pytest.mark.parametrize(
    "value",
    ["\u3164", "\u115f", "\u1160", "\u034f", "\u3164 \u115f\u1160", "\u00ad\u200b\ufeff", "\uffa0", "\U000e0041"],
)
def test_invisible_only_names_are_refused(petition, changeorg_data, field, value):
    form = changeorg_form(petition, {**changeorg_data, field: value})
    assert not form.is_valid()
    assert form.errors[field] == ["Please write your name with at least one letter."]
    assert list(form.errors) == [field]


@pytest.mark.parametrize("value", [".", "- '", "\u0301", "\u0301."])
def test_names_without_a_letter_are_refused(petition, changeorg_data, value):
    form = changeorg_form(petition, {**changeorg_data, "last_name": value})
    assert not form.is_valid()
    assert "Please write your name with at least one letter." in form.errors["last_name"]


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("Zoe\u0308", "Zoë"),  # a combining mark, composed
        ("Ŏ\u0301rsted", "Ŏ\u0301rsted"),  # one with no composed form stays as typed
        ("محمد", "محمد"),
        ("王小明", "王小明"),
        ("김민준", "김민준"),
        ("देवनागरी", "देवनागरी"),
        ("\u3164Ada\u00ad", "Ada"),  # a visible name keeps its letters, the invisible ones go
    ],
)
def test_names_with_combining_marks_or_other_scripts_pass(petition, changeorg_data, value, stored):
    form = changeorg_form(petition, {**changeorg_data, "first_name": value})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["first_name"] == stored


def test_every_default_ignorable_code_point_is_dropped_from_every_text_field(petition, changeorg_data):
    ignorables = [
        chr(cp) for first, last in DEFAULT_IGNORABLE_RANGES for cp in sorted({first, (first + last) // 2, last})
    ]
    for char in ignorables:
        assert clean_text(f"A{char}da") == "Ada", hex(ord(char))
    dirty = "".join(ignorables)
    # Every text field; the country is a choice from a list, refused when it is not one.
    data = {name: dirty.join([value[:1], value[1:]]) for name, value in changeorg_data.items()}
    data["country_code"] = changeorg_data["country_code"]
    data["reason"] = f"Bees{dirty}!\nReally."
    form = changeorg_form(petition, data)
    assert form.is_valid(), form.errors
    assert {name: form.cleaned_data[name] for name in changeorg_data} == changeorg_data
    assert form.cleaned_data["reason"] == "Bees!\nReally."


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("x@\uff45xample.com", "x@example.com"),  # full-width letters in the domain
        ("x@example\uff0ecom", "x@example.com"),  # a full-width full stop
        ("x@exa\u00admple.com", "x@example.com"),
        ("X.Y@Example.COM", "X.Y@example.com"),  # the local part as typed
        ("ana@Bücher.de", "ana@xn--bcher-kva.de"),  # an internationalised domain: its A-labels
        ("ana@xn--bcher-kva.de", "ana@xn--bcher-kva.de"),
        ("ana@例え.テスト", "ana@xn--r8jz45g.xn--zckzah"),
    ],
)
def test_email_domains_are_stored_in_one_form(petition, changeorg_data, typed, stored):
    form = changeorg_form(petition, {**changeorg_data, "email": typed})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["email"] == stored
    assert Signature.normalize_email(typed) == stored.casefold()


@pytest.mark.parametrize("typed", ["x@-bad.com", "x@exa_mple.com", "x@xn--zz.com", "x@", "x@exa..com"])
def test_email_domains_idna_refuses_are_invalid(petition, changeorg_data, typed):
    form = changeorg_form(petition, {**changeorg_data, "email": typed})
    assert not form.is_valid()
    assert form.errors["email"] == ["Enter a valid email address."]


def test_stored_ascii_addresses_keep_their_normalised_form():
    """Rows stored before domains were normalised compare as they did: no data migration is needed."""
    for email in ("ada@example.com", " Ada.Lovelace+bees@Example.CO.UK ", "STRASSE@example.de"):
        assert Signature.normalize_email(email) == email.strip().casefold()


@pytest.mark.parametrize("code", ["XX", "ZZ", "UK", "USA", "1", "<s>", "G\x00B"])
def test_invalid_country_codes(petition, changeorg_data, code):
    form = changeorg_form(petition, {**changeorg_data, "country_code": code})
    assert not form.is_valid()
    assert "country_code" in form.errors


@pytest.mark.parametrize(("given", "stored"), [("gb", "GB"), (" fr ", "FR"), ("US", "US")])
def test_country_codes_are_iso_3166_in_any_case(petition, changeorg_data, given, stored):
    form = changeorg_form(petition, {**changeorg_data, "country_code": given})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["country_code"] == stored


def test_country_names_are_offered_for_display(petition):
    choices = dict(ChangeorgSignatureForm(petition=petition).fields["country_code"].choices)
    assert choices["FR"] == "France" and choices["DE"] == "Germany"
    assert len(choices) > 240


@pytest.mark.parametrize(
    "email", ["not-an-email", "ada@", "@example.com", "ada@example", "ada example@x.org", "<script>@example.com"]
)
def test_invalid_emails(petition, changeorg_data, email):
    form = changeorg_form(petition, {**changeorg_data, "email": email})
    assert not form.is_valid()
    assert "email" in form.errors


@pytest.mark.parametrize("phone", ["12", "not a phone", "+1 555", "<script>"])
def test_invalid_phone(petition, changeorg_data, phone):
    form = changeorg_form(petition, {**changeorg_data, "phone": phone})
    assert not form.is_valid()
    assert "phone" in form.errors


def test_phone_from_another_country_with_prefix(petition, changeorg_data):
    form = changeorg_form(petition, {**changeorg_data, "phone": "+1 202-555-0143"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == "+12025550143"


@pytest.mark.parametrize("value", ["SW1A<1AA", "12345;", "-123", "ÄÖ"])
def test_invalid_postal_codes(petition, changeorg_data, value):
    form = changeorg_form(petition, {**changeorg_data, "postal_code": value})
    assert not form.is_valid() and "postal_code" in form.errors


@pytest.mark.parametrize(
    ("field", "value"),
    [("city", "<script>x</script>"), ("state_province", "N<Y"), ("address", "1 Main St <img src=x>")],
)
def test_markup_refused_in_address_fields(petition, changeorg_data, field, value):
    form = changeorg_form(petition, {**changeorg_data, field: value})
    assert not form.is_valid() and field in form.errors


def test_wethepeople_form(wtp_petition, wtp_data):
    form = WethepeopleSignatureForm({**wtp_data, "zip": "20500-0003", "signup": "on"}, petition=wtp_petition)
    assert form.is_valid(), form.errors
    signature = build_signature(form.petition, form.signature_data())
    assert signature.postal_code == "20500-0003" and signature.signup is True


@pytest.mark.parametrize("zip_code", ["2050", "ABCDE", "20500-", "205000", "20500\x00"])
def test_wethepeople_zip(wtp_petition, wtp_data, zip_code):
    form = WethepeopleSignatureForm({**wtp_data, "zip": zip_code}, petition=wtp_petition)
    assert not form.is_valid() and "zip" in form.errors
