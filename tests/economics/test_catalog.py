"""The pricing catalog: the shipped file loads, bad rows are named field by field, saves are atomic with a .bak."""
import pytest

from backend.economics import catalog as catalog_module
from backend.economics.catalog import (
    SECTIONS,
    catalog_from_sections,
    catalog_to_data,
    load_catalog,
    restore_backup,
    save_catalog,
    validate_catalog,
)
from backend.models import InputError


def test_shipped_catalog_has_every_section_with_source_and_date(catalog):
    for section in SECTIONS:
        for row in getattr(catalog, section):
            assert row.source and row.date.year >= 2026
    reference = catalog.find("llm_apis", "standard API model")
    assert (reference.input_per_m, reference.source.startswith("REFERENCE.md (source material, 2026)")) == (2.5, True)
    assert all("illustrative" in gpu.source for gpu in catalog.gpus)
    assert catalog.find("embedding_apis", None).per_m == 0.02


def _data(catalog):
    return catalog_to_data(catalog)


def test_bad_field_names_section_row_and_field(catalog):
    data = _data(catalog)
    data["gpus"][1]["hourly_usd"] = -1
    with pytest.raises(InputError) as err:
        validate_catalog(data, "pricing.yaml")
    message = str(err.value)
    assert "pricing catalog pricing.yaml" in message
    assert "gpus row 2 ('NVIDIA A10G 24GB'): field hourly_usd" in message
    assert "greater than 0" in message


def test_text_in_a_number_field_and_missing_source(catalog):
    data = _data(catalog)
    data["llm_apis"][0]["input_per_m"] = "cheap"
    del data["vector_dbs"][0]["source"]
    with pytest.raises(InputError) as err:
        validate_catalog(data)
    message = str(err.value)
    assert "llm_apis row 1 ('standard API model'): field input_per_m" in message
    assert "vector_dbs row 1 ('managed starter tier'): field source: Field required" in message


def test_duplicate_names_unknown_fields_and_bad_dates(catalog):
    data = _data(catalog)
    data["gpus"][1]["name"] = data["gpus"][0]["name"]
    with pytest.raises(InputError, match="gpus row 2: name 'NVIDIA L4 24GB' appears twice"):
        validate_catalog(data)
    data = _data(catalog)
    data["gpus"][0]["colour"] = "green"
    with pytest.raises(InputError, match="gpus row 1 .*field colour: Extra inputs are not permitted"):
        validate_catalog(data)
    data = _data(catalog)
    data["rerankers"][0]["date"] = "last tuesday"
    with pytest.raises(InputError, match="rerankers row 1 .*field date"):
        validate_catalog(data)


def test_empty_missing_and_malformed_files(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(InputError, match="empty.yaml is empty"):
        load_catalog(empty)
    with pytest.raises(InputError, match="does not exist"):
        load_catalog(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("llm_apis:\n  - name: x\n   input_per_m: [1,\n")
    with pytest.raises(InputError, match=r"broken.yaml is not valid YAML at line \d+"):
        load_catalog(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(InputError, match="expected sections"):
        load_catalog(listing)
    missing = tmp_path / "missing.yaml"
    missing.write_text("llm_apis: []\n")
    with pytest.raises(InputError, match="section llm_apis: List should have at least 1 item"):
        load_catalog(missing)


def test_save_round_trips_and_keeps_the_previous_file(catalog, catalog_file):
    before = catalog_file.read_text()
    data = _data(catalog)
    data["llm_apis"][0]["input_per_m"] = 3.0
    backup = save_catalog(validate_catalog(data), catalog_file)
    assert backup.name == "pricing.yaml.bak" and backup.read_text() == before
    reloaded = load_catalog(catalog_file)
    assert reloaded.llm_apis[0].input_per_m == 3.0
    assert reloaded.model_dump() == validate_catalog(data).model_dump()
    assert not [p for p in catalog_file.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_write_leaves_the_old_file_whole(catalog, catalog_file, monkeypatch):
    before = catalog_file.read_text()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(catalog_module.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_catalog(catalog, catalog_file)
    assert catalog_file.read_text() == before
    leftovers = [p.name for p in catalog_file.parent.iterdir() if p.name.startswith(".pricing.yaml.") and p.name.endswith(".tmp")
                 and "bak" not in p.name]
    assert leftovers == []


def test_editor_records_are_validated_before_saving(catalog):
    records = _data(catalog)["gpus"]
    records[0]["hourly_usd"] = float("nan")  # an emptied cell in st.data_editor
    records.append({key: None for key in records[0]})  # an added row left blank is ignored
    with pytest.raises(InputError, match=r"gpus row 1 \('NVIDIA L4 24GB'\): field hourly_usd: Field required"):
        catalog_from_sections({"gpus": records}, base=catalog)
    records[0]["hourly_usd"] = 0.9
    updated = catalog_from_sections({"gpus": records}, base=catalog)
    assert updated.gpus[0].hourly_usd == 0.9 and len(updated.gpus) == len(catalog.gpus)
    assert updated.llm_apis == catalog.llm_apis
    with pytest.raises(InputError, match="unknown section 'gpu'"):
        catalog_from_sections({"gpu": records}, base=catalog)


def test_restore_backup_puts_the_previous_catalog_back(catalog, catalog_file):
    data = _data(catalog)
    data["vector_dbs"][0]["monthly_usd"] = 80.0
    save_catalog(validate_catalog(data), catalog_file)
    catalog_file.write_text("gpus: [")  # then someone breaks the file by hand
    restored = restore_backup(catalog_file)
    assert restored.vector_dbs[0].monthly_usd == 70.0
    assert load_catalog(catalog_file).vector_dbs[0].monthly_usd == 70.0
    assert (catalog_file.parent / "pricing.yaml.broken").read_text() == "gpus: ["


def test_find_names_the_known_rows(catalog):
    with pytest.raises(InputError, match="gpus: no row named 'TPU' \\(known: NVIDIA L4 24GB, "):
        catalog.find("gpus", "TPU")


def test_prices_past_a_sane_bound_are_refused_on_their_field(catalog):
    # QA: $1e12 per 1M tokens was accepted
    raw = catalog_to_data(catalog)
    raw["llm_apis"][0]["input_per_m"] = 1e12
    raw["gpus"][0]["hourly_usd"] = 250_000
    with pytest.raises(InputError) as err:
        validate_catalog(raw)
    message = str(err.value)
    assert "field input_per_m: 1,000,000,000,000.0 is above the sane bound of 1,000.0" in message
    assert "field hourly_usd: 250,000 is above the sane bound of 1,000.0" in message and "check the unit" in message
    raw = catalog_to_data(catalog)
    raw["llm_apis"][0]["output_per_m"] = 600.0  # the dearest real APIs stay inside the bound
    validate_catalog(raw)
