"""Reading and writing PFIF 1.4 documents: records, round trips, and every refusal with its message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.intake.domain.pfif import (
    PFIF_NS,
    PfifDocument,
    PfifError,
    PfifNote,
    PfifPerson,
    parse,
    render,
)

HEAD = f'<?xml version="1.0" encoding="UTF-8"?>\n<pfif:pfif xmlns:pfif="{PFIF_NS}">\n'
TAIL = "</pfif:pfif>\n"


def pfif(body: str) -> bytes:
    return (HEAD + body + TAIL).encode("utf-8")


def person_xml(record_id: str = "example.org/p1", full_name: str = "Jan Peeters", extra: str = "") -> str:
    return (f"<pfif:person><pfif:person_record_id>{record_id}</pfif:person_record_id>"
            f"<pfif:full_name>{full_name}</pfif:full_name>{extra}</pfif:person>\n")


def note_xml(record_id: str = "example.org/n1", person_id: str | None = "example.org/p1", extra: str = "") -> str:
    about = "" if person_id is None else f"<pfif:person_record_id>{person_id}</pfif:person_record_id>"
    return f"<pfif:note><pfif:note_record_id>{record_id}</pfif:note_record_id>{about}{extra}</pfif:note>\n"


def refusal(document: bytes, **limits: int) -> str:
    with pytest.raises(PfifError) as caught:
        parse(document, **limits)
    return str(caught.value)


REALISTIC = f"""<?xml version="1.0" encoding="UTF-8"?>
<pfif:pfif xmlns:pfif="{PFIF_NS}" xmlns:ext="urn:example:extension">
  <pfif:person>
    <pfif:person_record_id>personfinder.example.org/p.1001</pfif:person_record_id>
    <pfif:entry_date>2025-03-02T08:15:00Z</pfif:entry_date>
    <pfif:expiry_date>2026-03-02T08:15:00Z</pfif:expiry_date>
    <pfif:author_name>Marie Dubois</pfif:author_name>
    <pfif:author_email>marie@example.org</pfif:author_email>
    <pfif:source_name>Consular hotline</pfif:source_name>
    <pfif:source_date>2025-03-02T08:10:30.250Z</pfif:source_date>
    <pfif:full_name>  Zoë Van den Broeck  </pfif:full_name>
    <pfif:given_name>Zoë</pfif:given_name>
    <pfif:family_name>Van den Broeck</pfif:family_name>
    <pfif:sex>female</pfif:sex>
    <pfif:date_of_birth>1991-07</pfif:date_of_birth>
    <pfif:age>33</pfif:age>
    <pfif:home_city>Gent</pfif:home_city>
    <pfif:home_country>be</pfif:home_country>
    <pfif:future_field>ignored</pfif:future_field>
    <ext:full_name>not read: another namespace</ext:full_name>
    <pfif:note>
      <pfif:note_record_id>personfinder.example.org/n.1</pfif:note_record_id>
      <pfif:entry_date>2025-03-02T09:00:00+00:00</pfif:entry_date>
      <pfif:author_name>Embassy Kathmandu</pfif:author_name>
      <pfif:source_date>2025-03-02T08:55:00Z</pfif:source_date>
      <pfif:author_made_contact>true</pfif:author_made_contact>
      <pfif:status>believed_alive</pfif:status>
      <pfif:last_known_location>Thamel, Kathmandu</pfif:last_known_location>
      <pfif:text>Called from a hotel phone; unhurt.</pfif:text>
    </pfif:note>
  </pfif:person>
  <pfif:person>
    <pfif:person_record_id>personfinder.example.org/p.1002</pfif:person_record_id>
    <pfif:given_name>Александр</pfif:given_name>
    <pfif:family_name>Пушкин</pfif:family_name>
    <pfif:sex>male</pfif:sex>
    <pfif:age>30-40</pfif:age>
  </pfif:person>
  <pfif:note>
    <pfif:note_record_id>other.example.net/note-77</pfif:note_record_id>
    <pfif:person_record_id>personfinder.example.org/p.1002</pfif:person_record_id>
    <pfif:linked_person_record_id>other.example.net/person-12</pfif:linked_person_record_id>
    <pfif:author_made_contact>false</pfif:author_made_contact>
    <pfif:status>information_sought</pfif:status>
    <pfif:text>Seen at the bus station in Pokhara?</pfif:text>
  </pfif:note>
</pfif:pfif>
""".encode()


def test_a_realistic_document_gives_its_persons_nested_and_top_level_notes() -> None:
    document = parse(REALISTIC)

    assert document == PfifDocument(
        persons=(
            PfifPerson(
                person_record_id="personfinder.example.org/p.1001",
                full_name="Zoë Van den Broeck",
                entry_date=datetime(2025, 3, 2, 8, 15, tzinfo=UTC),
                source_date=datetime(2025, 3, 2, 8, 10, 30, tzinfo=UTC),
                source_name="Consular hotline",
                author_name="Marie Dubois",
                given_name="Zoë",
                family_name="Van den Broeck",
                sex="female",
                date_of_birth="1991-07",
                age="33",
                home_city="Gent",
                home_country="BE",
                notes=(PfifNote(
                    note_record_id="personfinder.example.org/n.1",
                    person_record_id="personfinder.example.org/p.1001",
                    entry_date=datetime(2025, 3, 2, 9, 0, tzinfo=UTC),
                    source_date=datetime(2025, 3, 2, 8, 55, tzinfo=UTC),
                    author_name="Embassy Kathmandu",
                    author_made_contact=True,
                    status="believed_alive",
                    last_known_location="Thamel, Kathmandu",
                    text="Called from a hotel phone; unhurt.",
                ),),
            ),
            PfifPerson(
                person_record_id="personfinder.example.org/p.1002",
                full_name="Александр Пушкин",
                given_name="Александр",
                family_name="Пушкин",
                sex="male",
                age="30-40",
            ),
        ),
        notes=(PfifNote(
            note_record_id="other.example.net/note-77",
            person_record_id="personfinder.example.org/p.1002",
            linked_person_record_id="other.example.net/person-12",
            author_made_contact=False,
            status="information_sought",
            text="Seen at the bus station in Pokhara?",
        ),),
    )
    assert document.persons[0].entry_date is not None
    assert document.persons[0].entry_date.utcoffset() == timedelta(0)


def test_render_then_parse_gives_the_same_records() -> None:
    persons = [
        PfifPerson(
            person_record_id="consular.example.be/c-1",
            full_name="Zoë Van den Broeck",
            entry_date=datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC),
            source_date=datetime(2025, 1, 31, 22, 0, tzinfo=UTC),
            source_name="Intake",
            author_name="Officer Janssens",
            given_name="Zoë",
            family_name="Van den Broeck",
            alternate_names="Zoe Vandenbroeck",
            date_of_birth="1991-07-14",
            sex="female",
            age="33",
            home_city="Sint-Niklaas",
            home_country="BE",
            notes=(PfifNote("consular.example.be/n-1", "consular.example.be/c-1", status="believed_missing",
                            author_made_contact=False, text="No answer on her phone.\nTried twice.",
                            entry_date=datetime(2025, 2, 1, 6, 0, tzinfo=UTC)),),
        ),
        PfifPerson("consular.example.be/c-2", "Александр Пушкин", given_name="Александр", family_name="Пушкин"),
    ]
    notes = [PfifNote("consular.example.be/n-2", "elsewhere.example.org/p-9", author_name="Łukasz Żółć",
                      linked_person_record_id="consular.example.be/c-2", last_known_location="Pokhara & Thamel <3",
                      status="is_note_author", author_made_contact=True,
                      source_date=datetime(2025, 2, 1, 7, 30, tzinfo=UTC))]

    written = render(persons, notes)

    assert written.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert "Александр Пушкин".encode() in written
    assert b"<pfif:entry_date>2025-01-31T23:59:59Z</pfif:entry_date>" in written
    assert parse(written) == PfifDocument(tuple(persons), tuple(notes))


def test_render_writes_fields_in_pfif_order_and_omits_unset_ones() -> None:
    brussels = timezone(timedelta(hours=1))
    person = PfifPerson("example.org/p1", "Jan Peeters", home_country="BE", entry_date=datetime(2025, 3, 1, 10, 0,
                        tzinfo=brussels), source_name="Intake",
                        notes=(PfifNote("example.org/n1", "example.org/p1", text="safe"),))

    text = render([person]).decode()

    order = ["<pfif:person_record_id>", "<pfif:entry_date>2025-03-01T09:00:00Z<", "<pfif:source_name>",
             "<pfif:full_name>", "<pfif:home_country>", "<pfif:note>", "<pfif:note_record_id>", "<pfif:text>"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert "given_name" not in text
    assert "status" not in text


def test_render_refuses_a_naive_datetime_and_a_note_nested_in_another_person() -> None:
    with pytest.raises(PfifError, match="entry_date must be an aware datetime"):
        render([PfifPerson("example.org/p1", "Jan", entry_date=datetime(2025, 1, 1))])
    with pytest.raises(PfifError, match="differs from that of the person"):
        render([PfifPerson("example.org/p1", "Jan", notes=(PfifNote("example.org/n1", "example.org/p2"),))])


def test_billion_laughs_is_refused_for_its_entities() -> None:
    laughs = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol4;</lolz>"""

    message = refusal(laughs)

    assert message.startswith("entity declarations are refused (entity expansion)")
    assert "'lol'" in message


def test_xxe_is_refused_as_an_external_reference() -> None:
    xxe = (b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
           b'<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:note>&e;</pfif:note></pfif:pfif>')

    message = refusal(xxe)

    assert message.startswith("external references are refused")
    assert "file:///etc/passwd" in message
    assert "root:" not in message


def test_an_external_dtd_is_refused_naming_it() -> None:
    message = refusal(b'<!DOCTYPE pfif SYSTEM "http://attacker.example/pfif.dtd"><pfif/>')

    assert message.startswith("a DTD is refused; external references are refused")
    assert "http://attacker.example/pfif.dtd" in message


def test_a_dtd_alone_is_refused() -> None:
    document = f'<!DOCTYPE pfif:pfif>\n<pfif:pfif xmlns:pfif="{PFIF_NS}"/>'.encode()

    assert refusal(document) == "a DTD is refused (DOCTYPE pfif:pfif)"


def test_malformed_xml_is_refused_with_line_and_column() -> None:
    document = pfif("<pfif:person>\n  <pfif:full_name>Jan</pfif:person>\n")

    assert refusal(document) == "malformed XML: line 4, column 23: mismatched tag"


def test_an_undeclared_entity_is_malformed() -> None:
    assert refusal(pfif(person_xml(full_name="Jan &eacute;"))).startswith("malformed XML: line 3, column ")


@pytest.mark.parametrize("namespace", ["http://zesty.ca/pfif/1.3", "http://zesty.ca/pfif/1.2"])
def test_an_older_pfif_namespace_is_refused_naming_both(namespace: str) -> None:
    document = f'<pfif:pfif xmlns:pfif="{namespace}">{person_xml()}</pfif:pfif>'.encode()

    message = refusal(document)

    assert message.startswith("not PFIF 1.4: root element is {" + namespace + "}pfif")
    assert f"'{namespace}'" in message
    assert f"'{PFIF_NS}'" in message


def test_a_root_without_namespace_is_refused() -> None:
    assert "root element is pfif (no namespace)" in refusal(b"<pfif><person/></pfif>")


def test_an_empty_document_is_refused() -> None:
    assert refusal(b"") == "document is empty"
    assert refusal(b"  \n") == "document is empty"


def test_a_document_larger_than_the_limit_is_refused_before_parsing() -> None:
    document = pfif(person_xml())

    assert refusal(document + b"<not-even-parsed", max_bytes=len(document)) == (
        f"document too large: {len(document) + 16} bytes, at most {len(document)} allowed")
    assert parse(document, max_bytes=len(document)).persons[0].full_name == "Jan Peeters"


def test_more_records_than_the_limit_are_refused() -> None:
    body = (person_xml("example.org/p1", extra=note_xml("example.org/n1"))
            + person_xml("example.org/p2") + note_xml("example.org/n2", "example.org/p2"))

    assert refusal(pfif(body), max_records=3) == "too many records: 4 persons and notes, at most 3 allowed"
    assert len(parse(pfif(body), max_records=4).notes) == 1


def test_a_person_without_record_id_is_refused() -> None:
    body = person_xml() + "<pfif:person><pfif:full_name>Jan</pfif:full_name></pfif:person>"

    assert refusal(pfif(body)) == "person 2: person_record_id missing"


def test_a_blank_record_id_is_missing() -> None:
    assert refusal(pfif(person_xml(record_id="   "))) == "person 1: person_record_id missing"


@pytest.mark.parametrize(("record_id", "problem"), [
    ("no-slash-here", "'no-slash-here' is not a record id of the form domain/unique-string"),
    ("/starts-with-slash", "'/starts-with-slash' is not a record id"),
    ("example.org/", "'example.org/' is not a record id"),
    ("exa mple.org/1", "'exa mple.org/1' is not a record id"),
    ("example.org/" + "x" * 489, "is 501 characters long, at most 500 allowed"),
])
def test_a_bad_record_id_is_refused(record_id: str, problem: str) -> None:
    message = refusal(pfif(person_xml(record_id=record_id)))

    assert message.startswith("person 1: person_record_id " + problem)


def test_a_record_id_of_500_characters_is_accepted() -> None:
    record_id = "example.org/" + "x" * 488

    assert parse(pfif(person_xml(record_id=record_id))).persons[0].person_record_id == record_id


def test_a_person_without_any_name_is_refused() -> None:
    body = person_xml() + person_xml("example.org/p2") + person_xml("example.org/p3", full_name=" ")

    assert refusal(pfif(body)) == "person 3 (example.org/p3): full_name missing"


def test_full_name_is_built_from_given_and_family_names() -> None:
    body = ("<pfif:person><pfif:person_record_id>example.org/p1</pfif:person_record_id>"
            "<pfif:given_name>Jan</pfif:given_name><pfif:family_name>Peeters</pfif:family_name></pfif:person>")

    assert parse(pfif(body)).persons[0].full_name == "Jan Peeters"


@pytest.mark.parametrize("value", ["2025-02-30T10:00:00Z", "2025-02-03 10:00:00Z", "2025-02-03T10:00:00+01:00",
                                   "2025-02-03T10:00:00", "yesterday"])
def test_a_bad_date_is_refused_naming_field_and_record(value: str) -> None:
    body = person_xml(extra=f"<pfif:source_date>{value}</pfif:source_date>")

    assert refusal(pfif(body)) == (
        f"person 1 (example.org/p1): source_date '{value}' is not a UTC date YYYY-MM-DDTHH:MM:SSZ")


def test_a_bad_note_date_names_the_note() -> None:
    body = person_xml(extra=note_xml(extra="<pfif:entry_date>2025-13-01T00:00:00Z</pfif:entry_date>"))

    assert refusal(pfif(body)) == ("person 1 (example.org/p1), note 1 (example.org/n1): entry_date "
                                   "'2025-13-01T00:00:00Z' is not a UTC date YYYY-MM-DDTHH:MM:SSZ")


def test_a_status_outside_pfif_is_refused() -> None:
    body = person_xml() + note_xml(extra="<pfif:status>xyz</pfif:status>")

    message = refusal(pfif(body))

    assert message.startswith("note 1 (example.org/n1): status 'xyz' is not a PFIF 1.4 status")
    assert "believed_dead" in message


@pytest.mark.parametrize(("extra", "expected"), [
    ("<pfif:sex>unknown</pfif:sex>", "sex 'unknown' is not a PFIF 1.4 sex"),
    ("<pfif:date_of_birth>1991-02-30</pfif:date_of_birth>", "date_of_birth '1991-02-30' is not YYYY, YYYY-MM"),
    ("<pfif:age>about 30</pfif:age>", "age 'about 30' is not a number of years or a range"),
    ("<pfif:age>40-30</pfif:age>", "age '40-30' is not a number of years or a range"),
    ("<pfif:home_country>Belgium</pfif:home_country>", "home_country 'Belgium' is not an ISO 3166-1 alpha-2 code"),
    ("<pfif:description>" + "x" * 5001 + "</pfif:description>", "description is 5001 characters long, at most 5000"),
    ("<pfif:full_name>Jan</pfif:full_name>", "full_name appears more than once"),
])
def test_a_bad_person_field_is_refused_naming_it(extra: str, expected: str) -> None:
    assert expected in refusal(pfif(person_xml(extra=extra)))


def test_author_made_contact_must_be_a_boolean() -> None:
    body = note_xml(extra="<pfif:author_made_contact>yes</pfif:author_made_contact>")

    assert refusal(pfif(body)) == "note 1 (example.org/n1): author_made_contact 'yes' is not true or false"


def test_duplicate_person_record_ids_are_refused() -> None:
    body = person_xml() + person_xml(full_name="Someone Else")

    assert refusal(pfif(body)) == "person 2 (example.org/p1): duplicate person_record_id 'example.org/p1'"


def test_duplicate_note_record_ids_are_refused_across_nested_and_top_level() -> None:
    body = person_xml(extra=note_xml()) + note_xml(person_id="example.org/p9")

    assert refusal(pfif(body)) == "note 1 (example.org/n1): duplicate note_record_id 'example.org/n1'"


def test_a_nested_note_about_another_person_is_refused() -> None:
    body = person_xml(extra=note_xml(person_id="example.org/p2"))

    message = refusal(pfif(body))

    assert message == ("person 1 (example.org/p1), note 1 (example.org/n1): person_record_id 'example.org/p2' "
                       "differs from that of the person it is nested in ('example.org/p1')")


def test_a_nested_note_without_person_record_id_takes_its_persons() -> None:
    document = parse(pfif(person_xml(extra=note_xml(person_id=None))))

    assert document.persons[0].notes[0].person_record_id == "example.org/p1"


def test_a_top_level_note_without_person_record_id_is_refused() -> None:
    assert refusal(pfif(note_xml(person_id=None))) == "note 1 (example.org/n1): person_record_id missing"


def test_unknown_elements_are_ignored_and_known_ones_read_only_in_the_pfif_namespace() -> None:
    body = person_xml(extra='<sex xmlns="">nonsense</sex><x:age xmlns:x="urn:other">old</x:age>'
                            "<pfif:hobby>chess</pfif:hobby>")

    person = parse(pfif(body)).persons[0]

    assert (person.sex, person.age) == (None, None)
    assert person.full_name == "Jan Peeters"


def test_a_document_without_records_is_empty() -> None:
    assert parse(pfif("")) == PfifDocument((), ())
