"""The doors of data-subject requests: `python -m backend dsr find|export|erase` (exit codes, --yes, files) and the
admin page (find, downloads, erase after typing ERASE, the re-scan), over a person's messages planted in DuckDB."""
from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from backend.cli import main
from backend.gateway.identity import Identity
from backend.models import Forbidden
from backend.platform import Platform
from backend.privacy.subject import subject_request
from backend.privacy.subject_requests import find_subject_data
from backend.settings import Settings
from tests.pages.conftest import pages_on, run, texts
from tests.pages.signin import signed_in

ROOT = Path(__file__).resolve().parents[2]
EMAIL, NAME, PHONE = "ann.okafor@example.com", "Ann Okafor", "+44 20 7946 0958"


def plant(store) -> None:
    """Two conversations: one where Ann gave her e-mail, name and phone (stored before redaction existed), one not."""
    with store.transaction("chat") as cur:
        for cid, title in (("c-ann", f"Question from {NAME}"), ("c-other", "Savings rates")):
            cur.execute("INSERT INTO conversations (id, collection, tenant, title) VALUES (?, 'demo', 'default', ?)",
                        [cid, title])
        cur.execute("INSERT INTO messages (conversation_id, turn, role, content) VALUES ('c-ann', 1, 'user', ?)",
                    [f"I am {NAME} ({EMAIL.upper()}), call me on 020 7946 0958 about my fee"])
        cur.execute("INSERT INTO messages (conversation_id, turn, role, content) VALUES ('c-other', 1, 'user', ?)",
                    ["What is the savings rate? Ask Bea Lund, bea@example.org"])


@pytest.fixture
def planted(data_dir):
    with Platform(Settings(data_dir=data_dir)) as platform:
        plant(platform.store)
    return data_dir


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["dsr", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_find_exit_codes_and_masked_listing(planted, capsys):
    code, out, err = cli(capsys, "find", "--email", EMAIL, "--phone", "02079460958", "--name", "okafor, ann")
    assert code == 0, err
    assert "conversations" in out and "messages" in out and "<EMAIL_ADDRESS>" in out and "<PHONE_NUMBER>" in out
    assert EMAIL not in out.lower() and "okafor" not in out.lower()
    assert "fine-tune datasets: not present in this installation" in out
    code, out, _ = cli(capsys, "find", "--email", "nobody@example.com", "--json")
    assert code == 1 and json.loads(out)["occurrences"] == []
    code, _, err = cli(capsys, "find")
    assert code == 2 and "at least one identifier" in err
    code, _, err = cli(capsys, "find", "--email", "ann.example.com")
    assert code == 2 and "error: email 'ann.example.com' is not an e-mail address" in err


def test_cli_export_then_erase_needs_yes_then_nothing_is_left(planted, capsys, tmp_path):
    out_file = tmp_path / "ann.json"
    code, out, err = cli(capsys, "export", "--email", EMAIL, "--name", NAME, "--format", "json", "--out", str(out_file))
    assert code == 0, err
    report = json.loads(out_file.read_text())
    assert report["summary"]["by_store"]["conversations"] == 3  # the title, and the message's e-mail and name
    assert EMAIL in {o["value"].lower() for o in report["stores"]["conversations"]}
    code, _, err = cli(capsys, "export", "--email", EMAIL, "--format", "pdf", "--out", str(tmp_path / "ann.pdf"))
    assert code == 0 and (tmp_path / "ann.pdf").read_bytes().startswith(b"%PDF")

    code, _, err = cli(capsys, "erase", "--email", EMAIL, "--name", NAME, "--phone", PHONE)
    assert code == 2 and "--yes" in err
    code, out, err = cli(capsys, "erase", "--email", EMAIL, "--name", NAME, "--phone", PHONE, "--yes")
    assert code == 0, err
    assert "re-scan: 0 erasable occurrence(s) left, 0 retained" in out
    assert cli(capsys, "find", "--email", EMAIL, "--name", NAME, "--phone", PHONE)[0] == 1

    with Platform(Settings(data_dir=planted)) as platform:
        rows = dict(platform.store.query("SELECT conversation_id, content FROM messages"))
        audit = platform.gateway.audit_log(action="dsr.")
    assert rows == {"c-ann": "I am <PERSON> (<EMAIL_ADDRESS>), call me on <PHONE_NUMBER> about my fee",
                    "c-other": "What is the savings rate? Ask Bea Lund, bea@example.org"}
    assert [r["action"] for r in audit] == ["dsr.find", "dsr.erase", "dsr.export", "dsr.export"]  # newest first
    assert {r["actor"] for r in audit} == {f"cli:{getpass.getuser()}"} and {r["details"]["via"] for r in audit} == {"cli"}
    assert audit[1]["details"]["touched"] == {"conversations": {"conversations": 1, "messages": 1}}
    assert "okafor" not in json.dumps(audit, default=str).lower()


def test_a_non_admin_identity_is_refused(planted):
    with Platform(Settings(data_dir=planted)) as platform:
        for role in ("operator", "analyst"):
            with pytest.raises(Forbidden):
                find_subject_data(platform, Identity("olga", "default", role), subject_request(emails=[EMAIL]))
        assert platform.gateway.audit_log(action="dsr.") == []  # a refused request reads and records nothing


def test_the_page_finds_exports_and_erases_after_erase_is_typed(data_dir, monkeypatch):
    with pages_on(monkeypatch, data_dir):
        from components.platform import get_platform

        plant(get_platform().store)
        app = run(signed_in(AppTest.from_file(str(ROOT / "pages" / "privacy_requests.py"), default_timeout=120)))
        assert app.title[0].value == "Data-subject requests"
        app.text_area(key="dsr_emails").set_value(EMAIL)
        app.text_area(key="dsr_names").set_value(NAME)
        app.button[0].click()  # the form's Find
        run(app)
        by_store, occurrences = (frame.value for frame in app.dataframe)
        assert by_store.to_dict("records") == [{"store": "conversations", "occurrences": 3}]
        assert set(occurrences["store"]) == {"conversations"} and len(occurrences) == 3
        assert not any(EMAIL in c.lower() or "Okafor" in c for c in occurrences["context"])
        assert [b.label for b in app.get("download_button")] == ["Download JSON", "Download PDF"]
        erase = app.button(key="dsr_erase")
        assert erase.disabled and erase.proto.type == "secondary"  # not a green primary for a destructive action
        app.text_input(key="dsr_confirm").set_value("ERASE")
        run(app)
        app.button(key="dsr_erase").click()
        run(app)
        assert "Re-scan: 0 erasable occurrences left" in texts(app, ("success",))
        assert get_platform().store.scalar("SELECT content FROM messages WHERE conversation_id = 'c-other'") == \
            "What is the savings rate? Ask Bea Lund, bea@example.org"

        refused = run(signed_in(AppTest.from_file(str(ROOT / "pages" / "privacy_requests.py"), default_timeout=60),
                                "operator"))
        assert "not allowed for your role" in texts(refused, ("error",)) and not refused.text_area
