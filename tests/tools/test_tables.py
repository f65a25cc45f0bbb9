"""query_table over real ingested CSV and XLSX documents: lookups by column value, limits, unknown columns, and
tables of other tenants or ungranted collections that do not exist for the caller."""
from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from backend.gateway.identity import Identity
from backend.pii import get_redactor
from backend.platform import Platform
from backend.settings import Settings
from backend.tools.executor import ToolExecutor
from backend.tools.registry import ToolRegistry
from backend.tools.spec import FAILED, INVALID, OK, ToolCaller
from backend.tools.table_rows import TABLE_CACHE
from backend.tools.tables import QUERY_TABLE
from backend.tools.tickets import CREATE_TICKET
from tests.gateway.helpers import PASSWORD

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
FEE_COLUMNS = ["product", "fee", "amount", "currency", "effective_date"]
NO_TABLE = "among the documents you can read"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("tables")
    acme, acme_hr, globex = root / "acme", root / "acme-hr", root / "globex"
    for folder in (acme, acme_hr, globex):
        folder.mkdir()
    shutil.copy(DEMO / "fee-schedule-2025.csv", acme / "fee-schedule-2025.csv")
    workbook = openpyxl.Workbook()
    cards = workbook.active
    cards.title = "Cards"
    for row in (["Card", "Annual fee", "Currency"], ["Classic", 0, "GBP"], ["Gold", 95.5, "GBP"]):
        cards.append(row)
    loans = workbook.create_sheet("Loans")
    for row in (["Loan rates 2025"], ["Product", "Rate"], ["Personal loan", 6.9], ["Car loan", 5.4]):
        loans.append(row)
    workbook.save(acme / "products.xlsx")
    (acme_hr / "salaries.csv").write_text("grade,salary\nA,30000\nB,45000\n")
    (globex / "globex-rates.csv").write_text("product;rate;currency\nGlobex Saver;4.10;USD\nGlobex Bond;5.25;USD\n")
    instance = Platform(Settings(data_dir=root / "data"))
    gw = instance.gateway
    for tenant in ("acme", "globex"):
        gw.create_tenant(tenant)
    for collection, tenant, folder in (("acme-fees", "acme", acme), ("acme-hr", "acme", acme_hr),
                                       ("globex-rates", "globex", globex)):
        instance.corpus.create_collection(collection, tenant=tenant)
        assert not instance.corpus.ingest([folder], collection).failed
    gw.create_user("ann", "acme", "analyst", PASSWORD)  # granted acme-fees only
    gw.create_user("bob", "acme", "analyst", PASSWORD)  # no grant: reads nothing
    gw.create_user("olga", "acme", "operator", PASSWORD)
    gw.create_user("gus", "globex", "operator", PASSWORD)
    gw.create_group("acme-support", "acme")
    gw.add_member("acme-support", "ann")
    gw.grant("acme-support", "acme-fees")
    yield instance
    instance.close()


@pytest.fixture
def executor(platform):
    platform.gateway.limits.reset()
    executor = ToolExecutor(platform, ToolRegistry([QUERY_TABLE, CREATE_TICKET]))
    yield executor
    executor.close()


def caller(platform, name: str) -> ToolCaller:
    user = platform.gateway.user(name)
    identity = Identity(user=name, tenant=user["tenant"], role=user["role"])
    return ToolCaller(identity, platform.gateway.context_for(identity))


def document_id(platform, title: str) -> int:
    [row] = [r for r in platform.corpus.documents() if r["title"] == title]
    return row["id"]


def test_the_swift_fee_row_is_found_by_a_substring_and_cites_its_chunk(platform, executor):
    call = executor.call("query_table", {"table": "fee-schedule-2025.csv", "where": {"fee": "~SWIFT"}},
                         caller(platform, "ann"))
    assert call.outcome == OK, call.message
    assert call.data["matched"] == 1 and call.data["columns"] == FEE_COLUMNS
    assert call.data["rows"] == [{"product": "Everyday Account", "fee": "International transfer (SWIFT)",
                                  "amount": "3.50", "currency": "GBP", "effective_date": "2025-04-01"}]
    assert call.data["document_id"] == document_id(platform, "fee-schedule-2025")
    lines = call.result.splitlines()
    assert lines[1] == "| " + " | ".join(FEE_COLUMNS) + " |"
    assert lines[3] == "| Everyday Account | International transfer (SWIFT) | 3.50 | GBP | 2025-04-01 |"
    assert "1 of 17 rows match fee contains 'SWIFT'" in lines[0]
    [chunk_id] = call.chunk_ids
    chunk = platform.corpus.chunks_by_ids([chunk_id])[chunk_id]
    assert "fee: International transfer (SWIFT) | amount: 3.50" in chunk.text


def test_values_match_ignoring_case_numbers_as_numbers_and_columns_are_chosen(platform, executor):
    call = executor.call("query_table", {"table": "Fee-Schedule-2025", "where": {"currency": "gbp", "amount": 3.5},
                                         "columns": ["FEE", "amount"]}, caller(platform, "olga"))
    assert call.outcome == OK, call.message
    assert call.data["columns"] == ["fee", "amount"]
    assert call.data["rows"] == [{"fee": "International transfer (SWIFT)", "amount": "3.50"}]
    by_id = executor.call("query_table", {"table": call.data["document_id"], "where": {"product": "everyday plus"}},
                          caller(platform, "olga"))
    assert by_id.data["matched"] == 2 and {r["product"] for r in by_id.data["rows"]} == {"Everyday Plus"}
    none = executor.call("query_table", {"table": "fee-schedule-2025.csv", "where": {"currency": "USD"}},
                         caller(platform, "olga"))
    assert none.outcome == OK and none.data["rows"] == [] and none.data["matched"] == 0
    assert "none of its 17 rows match currency = 'USD'" in none.result and "columns: product, fee" in none.result


def test_an_unknown_column_is_refused_naming_it_and_the_tables_columns(platform, executor):
    call = executor.call("query_table", {"table": "fee-schedule-2025.csv", "where": {"price": "3.50"}},
                         caller(platform, "ann"))
    assert call.outcome == FAILED and call.result == ""
    assert call.message == ("arguments.where.price: no column 'price' in fee-schedule-2025.csv "
                            "(columns: product, fee, amount, currency, effective_date)")
    shown = executor.call("query_table", {"table": "fee-schedule-2025.csv", "columns": ["fee", "cost"]},
                          caller(platform, "ann"))
    assert shown.outcome == FAILED and shown.message.startswith("arguments.columns: no column 'cost'")


def test_limit_bounds_and_the_rows_shown(platform, executor):
    ann = caller(platform, "ann")
    for limit in (0, 51):
        call = executor.call("query_table", {"table": "fee-schedule-2025.csv", "limit": limit}, ann)
        assert call.outcome == INVALID and call.message.startswith("arguments.limit:")
    two = executor.call("query_table", {"table": "fee-schedule-2025.csv", "limit": 2}, ann)
    assert two.outcome == OK and len(two.data["rows"]) == 2 and two.data["matched"] == 17
    assert "17 of 17 rows, the first 2 shown" in two.result and len(two.result.splitlines()) == 1 + 2 + 2
    default = executor.call("query_table", {"table": "fee-schedule-2025.csv"}, ann)
    assert len(default.data["rows"]) == 17  # under the default limit of 20
    too_many = {f"c{i}": "x" for i in range(6)}
    wide = executor.call("query_table", {"table": "fee-schedule-2025.csv", "where": too_many}, ann)
    assert wide.outcome == INVALID and wide.message.startswith("arguments.where:")
    free_sql = executor.call("query_table", {"table": "fee-schedule-2025.csv", "sql": "SELECT 1"}, ann)
    assert free_sql.outcome == INVALID and free_sql.message.startswith("arguments.sql:")
    bare = executor.call("query_table", {"table": "fee-schedule-2025.csv", "where": {"fee": "~ "}}, ann)
    assert bare.outcome == INVALID and "'~' needs the text" in bare.message


def test_another_tenants_table_and_an_ungranted_one_do_not_exist_for_the_caller(platform, executor):
    ann, bob, gus = caller(platform, "ann"), caller(platform, "bob"), caller(platform, "gus")
    missing = executor.call("query_table", {"table": "no-such-table.csv"}, ann)
    assert missing.outcome == FAILED and NO_TABLE in missing.message
    assert "fee-schedule-2025.csv" in missing.message and "products.xlsx" in missing.message
    globex_id = document_id(platform, "globex-rates")
    for table in ("globex-rates.csv", globex_id, "salaries.csv"):
        call = executor.call("query_table", {"table": table}, ann)
        assert call.outcome == FAILED and call.data == {}
        # Word for word the answer for a table that does not exist, but for the name asked about.
        assert call.message == missing.message.replace("'no-such-table.csv'", repr(str(table)))
        assert "globex" not in call.message.replace(repr(str(table)), "") and "salaries" not in \
            call.message.replace(repr(str(table)), "")
    nothing = executor.call("query_table", {"table": "fee-schedule-2025.csv"}, bob)
    assert nothing.outcome == FAILED and nothing.message.endswith("(you can read no CSV or XLSX documents)")
    own = executor.call("query_table", {"table": globex_id, "where": {"rate": 5.25}}, gus)
    # Tool results pass the redactor, whose small NER model takes the product "Globex Bond" for a person's name.
    product = get_redactor(platform.settings)("Globex Bond")
    assert own.outcome == OK and own.data["rows"] == [{"product": product, "rate": "5.25", "currency": "USD"}]
    olga = executor.call("query_table", {"table": "salaries.csv", "where": {"grade": "b"}}, caller(platform, "olga"))
    assert olga.outcome == OK and olga.data["rows"] == [{"grade": "B", "salary": "45000"}]


def test_a_workbook_with_two_sheets_is_one_table_led_by_the_sheet(platform, executor):
    call = executor.call("query_table", {"table": "products.xlsx", "where": {"sheet": "loans", "rate": "~6"}},
                         caller(platform, "ann"))
    assert call.outcome == OK, call.message
    assert call.data["columns"] == ["sheet", "Card", "Annual fee", "Currency", "Product", "Rate"]
    assert call.data["rows"] == [{"sheet": "Loans", "Card": "", "Annual fee": "", "Currency": "",
                                  "Product": "Personal loan", "Rate": "6.9"}]  # the title row above the header is not a row
    gold = executor.call("query_table", {"table": "products", "where": {"annual fee": 95.5}, "columns": ["card"]},
                         caller(platform, "ann"))
    assert gold.data["rows"] == [{"Card": "Gold"}] and len(gold.chunk_ids) == 1


def test_the_original_is_stored_at_ingest_and_a_table_ingested_before_reads_its_unchanged_source(platform, executor):
    fees = document_id(platform, "fee-schedule-2025")
    [(stored,)] = platform.store.query("SELECT content FROM document_files WHERE document_id = ?", [fees])
    source = Path(platform.corpus.require_document(fees)["source"])
    assert bytes(stored) == source.read_bytes()
    rates = document_id(platform, "globex-rates")
    platform.store.execute("DELETE FROM document_files WHERE document_id = ?", [rates])  # as before this change
    TABLE_CACHE.clear()
    gus = caller(platform, "gus")
    assert executor.call("query_table", {"table": rates, "where": {"product": "~saver"}}, gus).data["matched"] == 1
    rates_file = Path(platform.corpus.require_document(rates)["source"])
    rates_file.write_text("product;rate;currency\nGlobex Saver;9.99;USD\n")  # changed since it was indexed
    TABLE_CACHE.clear()
    changed = executor.call("query_table", {"table": rates}, gus)
    assert changed.outcome == FAILED
    assert changed.message == (f"table globex-rates.csv (document {rates}): its rows cannot be read: no original file "
                               "was stored with version 1 (it was ingested before tables were kept) and its source "
                               "file globex-rates.csv is gone or has changed since")
