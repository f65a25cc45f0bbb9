"""The project's own Presidio parts: street addresses, phones that are not numbers, and how spaCy's NER labels map to entity types."""
from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer
from presidio_analyzer.nlp_engine import NerModelConfiguration
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

# spaCy (OntoNotes) label -> Presidio entity type, as Presidio's NerModelConfiguration maps them by default. FAC is
# not mapped there either, and stays out: it mostly names products and buildings (the demo's "95-Day Notice Saver"),
# and as LOCATION it found no place on bench/data/pii_labelled.jsonl that GPE and LOC missed (bench/bench_pii.py). Only
# PERSON and LOCATION are in the default GROUNDWORK_PII_ENTITIES: ORGANIZATION and NRP would redact policies,
# teams, schemes and nationalities ("the Finance Committee", "SWIFT", "Nigerian"), so they are an opt-in. Labels
# not mapped here (CARDINAL, MONEY, FAC, ...) are dropped.
NER_ENTITY_MAPPING = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION",
                      "ORG": "ORGANIZATION", "NORP": "NRP", "DATE": "DATE_TIME", "TIME": "DATE_TIME"}

# Pipeline components Presidio never reads: it takes the entities, token offsets and lemmas (the lemmas only for
# context words, and a blank pipeline has none either, so pattern scores stay as they were without the model).
# en_core_web_sm's ner has its own tok2vec, so the shared one goes too; a listener is kept when ner needs it.
UNUSED_COMPONENTS = ("tagger", "parser", "senter", "attribute_ruler", "lemmatizer", "morphologizer",
                     "trainable_lemmatizer", "textcat", "textcat_multilabel", "entity_linker")
_LONGEST_NAME_WORD = 40


def ner_configuration(mapping: dict[str, str] | None = None) -> NerModelConfiguration:
    return NerModelConfiguration(model_to_presidio_entity_mapping=dict(mapping or NER_ENTITY_MAPPING))


def plausible_name(text: str) -> bool:
    """Whether an NER span can be a name or a place. Not with a digit or an @: "user6", "bob@corp.example" and
    "Leeds LS6 2AB" are ids, e-mail and street addresses, the pattern recognizers' part (a span NER took from an
    e-mail outscored the e-mail finding). Not with a word over 40 letters: the model labels any long unknown string."""
    return not any(c.isdigit() or c == "@" for c in text) and all(len(w) <= _LONGEST_NAME_WORD for w in text.split())


_UP = "A-ZÀ-ÖØ-ÞĀ-ŽŁŚŻŹĆĘĄŃ"  # capitals, Latin-1 and Latin Extended-A (Polish, Czech, Turkish ...)
_LOW = "a-zß-öø-ÿā-žłśżźćęąń"
_WORD = rf"[{_UP}0-9][{_UP}{_LOW}0-9'’.-]*"  # a capitalised word or an ordinal such as 42nd
_FULL_TYPES = ("Street|Avenue|Road|Lane|Boulevard|Drive|Court|Place|Square|Terrace|Way|Close|Crescent|Parkway|"
               "Highway|Row|Mews|Gardens|Grove|Walk|Parade|Circle|Embankment|Wharf")
_SHORT_TYPES = "St|Ave|Rd|Ln|Blvd|Dr|Ct|Pl|Sq|Cres|Pkwy|Hwy"
# A full type in title or lower case; an abbreviation keeps its dot unless the dot ends the sentence.
_TYPE = rf"(?:(?:{_FULL_TYPES}|{_FULL_TYPES.lower()})\b|(?:{_SHORT_TYPES})\b(?:\.(?=,|\s+[a-z0-9]))?)"
_UNIT = r"(?:Flat|Apt\.?|Apartment|Unit|Suite|Ste\.?|Room|Floor)\s+[A-Za-z0-9-]{1,6}"
_NUMBER = r"\d{1,5}[A-Za-z]?(?:[-–/]\d{1,5}[A-Za-z]?)?"
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"
_US_ZIP = r"(?:[A-Z]{2}\s+)?\d{5}(?:-\d{4})?"
_CITY = rf"[{_UP}][{_LOW}]+(?:[ -][{_UP}][{_LOW}]+){{0,2}}"
# After the street: ", Suite 4100", ", Leeds LS6 2AB", ", Springfield, IL 62704", ", 10115 Berlin", " NW".
_TAIL = (rf"(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?(?:,?\s+{_UNIT})?"
         rf"(?:,\s*{_CITY}(?:,?\s+(?:{_UK_POSTCODE}|{_US_ZIP}))?(?:,\s*{_CITY}(?:,?\s+(?:{_UK_POSTCODE}|{_US_ZIP}))?)?"
         rf"|,?\s+{_UK_POSTCODE})?")
# "Chapter 7 Month End Close" and "Section 4 Drive Safely" are headings, not addresses.
_NOT_A_HEADING = r"(?<!\b(?:Chapter|Section|Appendix|Annex|Part|Step|Phase|Level|Tier|Stage|Version|Page|Clause|Article|Rule|Table|Figure)\s)"
_NOT_A_QUANTITY = r"(?!\s*(?:%|per\b|days?\b|hours?\b|weeks?\b|months?\b|years?\b|minutes?\b|working\b|business\b))"

# English order: [unit,] number, one to four capitalised words, a street type, then unit, city, postcode.
_ENGLISH = (rf"\b(?:{_UNIT},?\s+)?{_NOT_A_HEADING}{_NUMBER}\s+(?:(?:{_WORD}\s+){{1,4}}{_TYPE}|(?!Norway)[{_UP}][{_LOW}]+(?:way|gate)\b)"
            rf"{_TAIL}")
# German, Swiss, Austrian, Dutch: the street type is part of the name and the number follows ("Hauptstraße 5").
_COMPOUND = (rf"\b[{_UP}][{_LOW}]*(?:straße|strasse|str\.|gasse|weg|platz|allee|damm|straat|gracht|laan|plein|kade|singel)"
             rf"\s+\d{{1,4}}[a-zA-Z]?{_NOT_A_QUANTITY}(?:,\s*(?:\d{{4,5}}\s+)?{_CITY})?")
# French: number first, then the type in lower or title case, then the name ("8 Rue de la Paix").
_FRENCH = (rf"\b\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+(?:[Rr]ue|[Aa]venue|[Bb]oulevard|[Qq]uai|[Cc]hemin|[Ii]mpasse|[Aa]llée)\s+"
           rf"(?:(?:de\s+la|de|du|des|d['’])\s*)?[{_UP}][\w'’-]+(?:\s+[{_UP}][\w'’-]+){{0,3}}")
# Spanish, Italian, Portuguese and Polish: the type and the name, then the number ("Calle de Alcalá 45", "ul. Długa 10/12").
_ROMANCE = (rf"\b(?:Calle|C/|Avenida|Avda\.|Paseo|Plaza|Via|Viale|Piazza|Corso|Rua|Travessa|Largo|ul\.|ulica|al\.|aleja)\s*"
            rf"(?:(?:de\s+la|de\s+los|de\s+las|del|de|della|di|do|da|dos)\s+)?[{_UP}][\w'’-]+(?:\s+[{_UP}][\w'’-]+){{0,2}}"
            rf",?\s+\d{{1,4}}[a-zA-Z]?(?:/\d{{1,4}})?{_NOT_A_QUANTITY}")
# Spanish and Italian order with the number first: "23 Calle Mayor".
_NUMBER_FIRST_ROMANCE = rf"\b\d{{1,4}}\s+(?:Calle|Avenida|Via|Rua)\s+(?:(?:de|del|della|da|do)\s+)?[{_UP}][\w'’-]+(?:\s+[{_UP}][\w'’-]+){{0,2}}"


class StreetAddressRecognizer(PatternRecognizer):
    """Street addresses by shape: house number, street name and type, optional unit, city and postcode, in the
    English order and a few European ones. Case-sensitive: "5 days down the road" is no address."""

    def __init__(self):
        patterns = [
            Pattern("street address (number, name, type)", _ENGLISH, 0.6),
            Pattern("street address (compound name, number)", _COMPOUND, 0.6),
            Pattern("street address (French)", _FRENCH, 0.6),
            Pattern("street address (type, name, number)", _ROMANCE, 0.55),
            Pattern("street address (number, type, name)", _NUMBER_FIRST_ROMANCE, 0.55),
        ]
        super().__init__(supported_entity="STREET_ADDRESS", patterns=patterns, name="StreetAddressRecognizer",
                         context=["address", "live", "lives", "moved", "deliver", "send", "post", "street"],
                         global_regex_flags=re.MULTILINE)


# A digit run that is an operand or a result ("12345678 * 1000 = 12345678000") or has a decimal part
# ("1234567890.00") is a number, not a phone: the calculator's results were redacted as PHONE_NUMBER. A phone's own
# "+" prefix, brackets, a sentence's full stop and a "phone:" label still leave it a phone.
_OPERATOR_BEFORE = re.compile(r"[=*×÷/]\s*$|\d[.,]$")
_OPERATOR_AFTER = re.compile(r"^\s*[=*×÷/]|^[.,]\d")


class NumberAwarePhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer, without the digit runs that arithmetic or a decimal part shows to be numbers."""

    def analyze(self, text, entities, nlp_artifacts=None):
        return [r for r in super().analyze(text, entities, nlp_artifacts)
                if not (_OPERATOR_BEFORE.search(text[max(0, r.start - 3):r.start])
                        or _OPERATOR_AFTER.search(text[r.end:r.end + 3]))]
