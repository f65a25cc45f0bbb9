"""A data subject's identifiers matched as they really appear: e-mails in any case, phones in any formatting, names in
both orders, customer ids as given; bad input named by its field; offsets kept true through a redaction."""
from __future__ import annotations

import pytest

from backend.context import RequestContext
from backend.models import Forbidden, InputError
from backend.privacy.subject import Redaction, snippet, subject_request
from backend.privacy.subject_requests import erase_subject_data, find_subject_data
from backend.settings import Settings

PHONE_FORMS = ["+44 20 7946 0958", "020 7946 0958", "02079460958", "+44 (0)20 7946 0958", "0044 20 7946 0958",
               "+44-20-7946-0958", "(020) 7946 0958", "+442079460958", "020.7946.0958"]


def found(request, text: str) -> list[str]:
    return [m.value for m in request.find(text)]


@pytest.mark.parametrize("given", ["+44 20 7946 0958", "020 7946 0958", "02079460958"])
def test_a_phone_given_in_any_form_finds_every_form_of_it(given):
    request = subject_request(phones=[given])
    text = "; ".join(f"call {form} today" for form in PHONE_FORMS)
    assert found(request, text) == PHONE_FORMS


def test_a_phone_is_not_found_in_another_number_or_a_longer_one():
    request = subject_request(phones=["+44 20 7946 0958"])
    assert found(request, "020 7946 0321, 020 7946 09581, 7946 0958, account 12079460958 and +1 207 946 0958") == []
    # Without a country code the number may have any, but only written as one (+, 00): not "ref 12 <number>".
    national = subject_request(phones=["020 7946 0958"])
    assert found(national, "ref 12 02079460958 and +33 20 7946 0958") == ["02079460958", "+33 20 7946 0958"]


def test_two_numbers_next_to_each_other_are_two_matches():
    request = subject_request(phones=["020 7946 0958"])
    assert found(request, "02079460958 02079460958, (020) 7946 0958") == ["02079460958", "02079460958", "(020) 7946 0958"]


def test_emails_match_in_any_case_but_never_inside_a_longer_address():
    request = subject_request(emails=["Zephyrine.Quillfeather@Example.COM"])
    text = ("Write to ZEPHYRINE.QUILLFEATHER@example.com or zephyrine.quillfeather@example.com. Not "
            "joe.zephyrine.quillfeather@example.com, zephyrine.quillfeather@example.com.au or "
            "xzephyrine.quillfeather@example.com.")
    assert found(request, text) == ["ZEPHYRINE.QUILLFEATHER@example.com", "zephyrine.quillfeather@example.com"]


def test_names_match_first_last_and_last_first_in_any_case_and_spacing():
    request = subject_request(names=["Zephyrine  Quillfeather"])
    text = "zephyrine quillfeather; QUILLFEATHER, Zephyrine; Zephyrine\n  Quillfeather; Quillfeather,Zephyrine"
    assert found(request, text) == ["zephyrine quillfeather", "QUILLFEATHER, Zephyrine", "Zephyrine\n  Quillfeather",
                                    "Quillfeather,Zephyrine"]
    assert found(request, "Zephyrine Quillfeathers and Ann Zephyrine, Quillfeather Ltd") == []
    given_reversed = subject_request(names=["Quillfeather, Zephyrine"])
    assert found(given_reversed, "Zephyrine Quillfeather") == ["Zephyrine Quillfeather"]


def test_names_with_apostrophes_and_accents():
    request = subject_request(names=["Siobhán O'Brien"])
    assert found(request, "siobhán o’brien and O'BRIEN, SIOBHÁN") == ["siobhán o’brien", "O'BRIEN, SIOBHÁN"]


def test_customer_ids_match_as_given_in_any_case_not_inside_another_id():
    request = subject_request(customer_ids=["NWL-778812"])
    assert found(request, "ids nwl-778812, NWL-7788123, XNWL-778812 and (NWL-778812)") == ["nwl-778812", "NWL-778812"]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({}, "identifiers"),
    ({"emails": ["  "], "names": [""]}, "identifiers"),
    ({"emails": ["not-an-address"]}, "email"),
    ({"emails": ["ann@example"]}, "email"),
    ({"phones": ["12345"]}, "phone"),
    ({"phones": ["call me"]}, "phone"),
    ({"names": ["Zephyrine"]}, "name"),
    ({"customer_ids": ["ab"]}, "customer_id"),
    ({"customer_ids": ["NWL 778812"]}, "customer_id"),
])
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(InputError) as caught:
        subject_request(**kwargs)
    assert caught.value.field == field
    assert field.split("_")[0] in str(caught.value).lower() or field == "identifiers"


def test_identifiers_given_as_lines_of_a_form():
    request = subject_request(emails="a@example.com\n\nB@Example.com\n", names="Ann Lee\n")
    assert request.emails == ("a@example.com", "b@example.com") and request.names == (("Ann", "Lee"),)
    assert request.identifier_counts() == {"email": 2, "phone": 0, "name": 1, "customer_id": 0}


def test_a_redaction_moves_offsets_and_keeps_a_cut_name_whole():
    request = subject_request(names=["Ann Lee"], emails=["ann@example.com"])
    text = "Dear Ann Lee, write to ann@example.com please."
    redaction = Redaction.of(text, request.find(text))
    assert redaction.text == "Dear <PERSON>, write to <EMAIL_ADDRESS> please."
    assert redaction.offset(0) == 0 and redaction.offset(5) == 5
    assert redaction.text[redaction.offset(text.index("please")):] == "please."
    inside = text.index("Lee")  # a chunk boundary inside the name: the start goes back, the end goes forward
    assert redaction.offset(inside) == 5 and redaction.offset(inside, end=True) == 5 + len("<PERSON>")


def test_a_snippet_masks_every_identifier_in_it_or_none():
    request = subject_request(names=["Ann Lee"], emails=["ann@example.com"])
    text = "Dear Ann Lee, write to ann@example.com please."
    matches = request.find(text)
    assert snippet(text, matches[0], masked=True, matches=matches) == "Dear <PERSON>, write to <EMAIL_ADDRESS> please."
    assert "ann@example.com" in snippet(text, matches[0], masked=False)


@pytest.mark.parametrize("role", ["operator", "analyst", "stakeholder"])
def test_only_an_admin_may_run_a_request(tmp_path, role):
    ctx = RequestContext.for_tenant(Settings(data_dir=tmp_path), "default", user="olga", role=role)
    request = subject_request(emails=["ann@example.com"])
    with pytest.raises(Forbidden, match="needs: admin"):
        find_subject_data(None, ctx, request)  # refused before the platform is touched
    with pytest.raises(Forbidden):
        erase_subject_data(None, ctx, request)


def test_a_csv_or_xlsx_original_is_rewritten_with_only_the_persons_values_replaced():
    import io

    import openpyxl

    from backend.privacy.erasure import rewrite_original
    from backend.privacy.finder import XLSX, original_text

    request = subject_request(emails=["ann@example.com"], phones=["+44 20 7946 0958"], names=["Ann Lee"])
    csv = b"name,email,phone\nAnn Lee,ann@example.com,020 7946 0958\nBea Lund,bea@example.org,020 7946 0111\n"
    rewritten = rewrite_original(csv, request)
    assert rewritten == (b"name,email,phone\n<PERSON>,<EMAIL_ADDRESS>,<PHONE_NUMBER>\n"
                         b"Bea Lund,bea@example.org,020 7946 0111\n")

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in (["name", "email", "phone"], ["Lee, Ann", "ANN@example.com", 442079460958], ["Bea Lund", "bea@example.org", 7]):
        sheet.append(row)
    raw = io.BytesIO()
    workbook.save(raw)
    assert len(request.find(original_text(XLSX, raw.getvalue()))) == 3
    after = rewrite_original(raw.getvalue(), request)
    text = original_text(XLSX, after)
    assert request.find(text) == [] and "Bea Lund" in text and "bea@example.org" in text and "<PHONE_NUMBER>" in text
