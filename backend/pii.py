"""PII redaction with Presidio over an offline NLP engine: questions and answers are redacted before they go anywhere."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import spacy
import tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import EmailRecognizer
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig

from backend.models import GroundworkError
from backend.settings import Settings

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

    def __init__(self, nlp, language: str = "en"):
        super().__init__(
            models=[{"lang_code": language, "model_name": nlp.meta.get("name", "blank")}],
            ner_model_configuration=NerModelConfiguration(),
        )
        # presidio's __init__ sets `self.nlp = None` unannotated, so mypy takes None as the type; its load() fills this dict.
        self.nlp = {language: nlp}  # type: ignore[assignment]

    def load(self) -> None:  # already loaded in __init__; the parent would download a model
        return None


def _load_spacy(model: str):
    if not model:
        return spacy.blank("en")
    try:
        return spacy.load(model)
    except OSError:
        raise GroundworkError(
            f"spaCy model {model!r} (GROUNDWORK_SPACY_MODEL) is not installed; install it or leave the setting "
            "empty to redact with pattern recognizers only"
        ) from None


_ANALYZERS: dict[str, AnalyzerEngine] = {}
_ANALYZER_LOCK = threading.Lock()


def get_analyzer(spacy_model: str = "") -> AnalyzerEngine:
    """One analyzer per spaCy model per process: building one costs ~0.2 s (blank) to seconds (NER model)."""
    with _ANALYZER_LOCK:
        analyzer = _ANALYZERS.get(spacy_model)
        if analyzer is None:
            nlp_engine = LoadedSpacyNlpEngine(_load_spacy(spacy_model))
            registry = RecognizerRegistry(supported_languages=["en"])
            registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=["en"])
            registry.remove_recognizer("EmailRecognizer")
            registry.add_recognizer(OfflineEmailRecognizer())
            analyzer = AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en"])
            _ANALYZERS[spacy_model] = analyzer
        return analyzer


@dataclass
class Redaction:
    text: str
    entities: list[str] = field(default_factory=list)  # entity type per finding, in text order

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

    def redact(self, text: str) -> Redaction:
        findings = self.analyze(text)
        if not findings:
            return Redaction(text=text)
        result = self.anonymizer.anonymize(text=text, analyzer_results=findings, operators=self.operators)
        entities = [item.entity_type for item in sorted(result.items, key=lambda item: item.start)]
        return Redaction(text=result.text, entities=entities)

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
