"""Where a CLI command goes (a given server, the data dir's running one, or the file), and server.json's life cycle."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from backend.cli import build_parser, main
from backend.client import KEY_ENV, SERVER_ENV, ServerError, choose_server, error_for
from backend.commands.ask import ANSWER_KEYS, answer_json
from backend.gateway import discovery
from backend.gateway.identity import SCOPES, RateLimited, Unauthorized
from backend.gateway.service import Gateway
from backend.models import Answer, InputError


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_server_file(data_dir, url: str, pid: int, key: str = "gw_00000000_" + "a" * 43) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    discovery.discovery_path(data_dir).write_text(json.dumps({"url": url, "pid": pid, "key": key}))


@pytest.fixture
def health_server():
    """A loopback HTTP server whose /api/v1/health answers 200 (only the health check is exercised here)."""

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.path == "/api/v1/health"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}' if ok else b"{}")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# --- the choice ---------------------------------------------------------------------------------
def test_a_given_server_needs_a_key_and_the_message_names_the_variable(tmp_path):
    with pytest.raises(InputError, match=KEY_ENV) as raised:
        choose_server("http://127.0.0.1:8501", tmp_path, environ={})
    assert raised.value.field == KEY_ENV and "--server" in str(raised.value)
    with pytest.raises(InputError, match=KEY_ENV) as raised:
        choose_server(None, tmp_path, environ={SERVER_ENV: "http://127.0.0.1:8501"})
    assert SERVER_ENV in str(raised.value)


def test_the_flag_wins_over_the_environment_and_the_key_comes_from_it(tmp_path):
    environ = {SERVER_ENV: "http://env.example:1", KEY_ENV: " gw_key "}
    server = choose_server("http://flag.example:2/", tmp_path, environ=environ)
    assert (server.url, server.key, server.discovered) == ("http://flag.example:2", "gw_key", False)
    server = choose_server(None, tmp_path, environ=environ)
    assert server.url == "http://env.example:1"


def test_a_given_url_must_be_http(tmp_path):
    with pytest.raises(InputError, match="--server: 'localhost:8501' is not a server URL"):
        choose_server("localhost:8501", tmp_path, environ={KEY_ENV: "k"})


def test_no_server_file_means_the_file_itself(tmp_path):
    assert choose_server(None, tmp_path, environ={}) is None


def test_a_stale_file_of_a_dead_process_means_the_file_itself(tmp_path, health_server):
    write_server_file(tmp_path, health_server, dead_pid())
    assert choose_server(None, tmp_path, environ={}) is None


def test_a_live_process_that_does_not_answer_means_the_file_itself(tmp_path):
    write_server_file(tmp_path, "http://127.0.0.1:9", os.getpid())  # port 9 (discard): nothing answers there
    assert choose_server(None, tmp_path, environ={}) is None


def test_a_live_answering_server_is_used_with_the_files_key_even_if_a_key_is_set(tmp_path, health_server):
    write_server_file(tmp_path, health_server, os.getpid(), key="gw_11111111_" + "b" * 43)
    server = choose_server(None, tmp_path, environ={KEY_ENV: "gw_other"})
    assert (server.url, server.key, server.discovered) == (health_server, "gw_11111111_" + "b" * 43, True)


@pytest.mark.parametrize("content", ["", "{not json", '{"url": "http://x"}', '{"url": "", "pid": 1, "key": "k"}', "[]"])
def test_a_malformed_server_file_is_no_server(tmp_path, content):
    discovery.discovery_path(tmp_path).write_text(content)
    assert discovery.read_discovery(tmp_path) is None
    assert choose_server(None, tmp_path, environ={}) is None


# --- the server's errors -----------------------------------------------------------------------
def test_error_bodies_become_errors_with_status_and_message():
    limited = error_for(httpx.Response(429, json={"error": {"message": "slow down", "field": None}},
                                       headers={"Retry-After": "7"}))
    assert isinstance(limited, RateLimited) and limited.retry_after == 7
    assert str(limited) == "429: slow down (retry after 7 s)"
    bad = error_for(httpx.Response(422, json={"error": {"message": "k: too big", "field": "k"}}))
    assert isinstance(bad, InputError) and bad.field == "k" and str(bad) == "422: k: too big"
    proxy = error_for(httpx.Response(502, text="<html>Bad   gateway</html>"))
    assert isinstance(proxy, ServerError) and proxy.status == 502 and str(proxy) == "502: <html>Bad gateway</html>"


# --- the CLI's dispatch -------------------------------------------------------------------------
def test_the_cli_says_which_variable_is_missing(data_dir, capsys, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert main(["--server", "http://127.0.0.1:9", "search", "refund"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: GROUNDWORK_API_KEY: set it to an API key of the server at http://127.0.0.1:9")


def test_an_unreachable_given_server_is_a_one_line_error(data_dir, capsys, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "gw_00000000_" + "a" * 43)
    assert main(["--server", "http://127.0.0.1:9", "search", "refund"]) == 2
    err = capsys.readouterr().err
    assert "using the server at http://127.0.0.1:9" in err
    assert "error: cannot reach the server at http://127.0.0.1:9" in err


def test_commands_without_an_api_say_why_instead_of_calling_a_given_server(data_dir, capsys, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "gw_00000000_" + "a" * 43)
    for argv, name in ((["eval", "run", "--config", "x.yaml"], "eval run"), (["traces", "prune"], "traces prune"),
                       (["simulate", "--questions", "q.txt", "--rate", "1", "--duration", "1"], "simulate")):
        assert main(["--server", "http://127.0.0.1:9", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: `{name}` cannot run through a server (") and "drop --server" in err


def test_a_server_that_holds_the_file_but_does_not_answer_yet_is_named(data_dir, capsys):
    """A server between opening the file and binding its port: the file is in use, and the message says by whom."""
    data_dir.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, duckdb; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "time.sleep(120)", str(data_dir / "groundwork.duckdb")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        write_server_file(data_dir, "http://127.0.0.1:9", holder.pid)
        assert main(["stats"]) == 2
        err = capsys.readouterr().err
        assert "is in use by another Groundwork process" in err
        assert err.rstrip().endswith(f"the server at http://127.0.0.1:9 (process {holder.pid}) does not answer its "
                                     "health check yet: wait until it has started, then run this again")
    finally:
        holder.kill()
        holder.wait()


def test_decide_never_looks_for_a_server(data_dir, capsys, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)  # a --server without a key would fail if it were consulted
    assert main(["--server", "http://127.0.0.1:9", "decide", "cost", "--monthly-queries", "1M", "--json"]) == 0
    assert "break_even_queries" in json.loads(capsys.readouterr().out)


def test_every_command_that_opens_the_store_either_runs_remotely_or_says_why():
    parser = build_parser()
    leaves = {
        ("ask", "q"), ("search", "q"), ("ingest", "p"), ("stats",), ("traces", "list"), ("traces", "prune"),
        ("eval", "list"), ("eval", "run", "--config", "c.yaml"), ("eval", "beir", "d"),
        ("simulate", "--questions", "q", "--rate", "1", "--duration", "1"),
    }
    for argv in leaves:
        args = parser.parse_args(list(argv))
        assert getattr(args, "store", True)
        assert getattr(args, "remote", None) or getattr(args, "local_only", None), argv
    assert not parser.parse_args(["decide", "catalog"]).store


def test_the_remote_answer_keeps_the_local_json_keys():
    assert tuple(answer_json(Answer(text="x"))) == ANSWER_KEYS


# --- where uvicorn listens -------------------------------------------------------------------------
UVICORN = "/usr/lib/python3/site-packages/uvicorn/__main__.py"


@pytest.mark.parametrize(("argv", "url"), [
    ([UVICORN, "components.asgi:app", "--ws-max-size", "209715200", "--host", "127.0.0.1", "--port", "8501"],
     "http://127.0.0.1:8501"),
    (["/venv/bin/uvicorn", "components.asgi:app", "--host=0.0.0.0", "--port=8080"], "http://127.0.0.1:8080"),
    ([UVICORN, "components.asgi:app", "--host", "::"], "http://[::1]:8000"),
    ([UVICORN, "components.asgi:app", "--host", "::1", "--port", "9000"], "http://[::1]:9000"),
    ([UVICORN, "components.asgi:app"], "http://127.0.0.1:8000"),
    ([UVICORN, "components.asgi:app", "--uds", "/tmp/gw.sock"], None),
    ([UVICORN, "components.asgi:app", "--port", "0"], None),
    ([UVICORN, "components.asgi:app", "--no-such-flag"], None),
    (["/usr/bin/pytest", "tests"], None),
    ([], None),
])
def test_listen_url_reads_uvicorns_own_command_line(argv, url, monkeypatch):
    monkeypatch.delenv("UVICORN_HOST", raising=False)
    monkeypatch.delenv("UVICORN_PORT", raising=False)
    assert discovery.listen_url(argv) == url


def test_listen_url_honours_uvicorns_environment(monkeypatch):
    monkeypatch.setenv("UVICORN_PORT", "9123")
    assert discovery.listen_url([UVICORN, "components.asgi:app"]) == "http://127.0.0.1:9123"


# --- server.json's life cycle -------------------------------------------------------------------
@pytest.fixture
def gateway(store, settings):
    gateway = Gateway(store, settings)
    gateway.bootstrap(demo=False)
    return gateway


def local_cli_keys(gateway: Gateway) -> list[dict]:
    return [k for k in gateway.list_keys(user="admin") if k["name"] == discovery.KEY_NAME]


def test_publish_writes_a_private_file_with_a_working_admin_key(gateway, data_dir):
    key_id = discovery.publish(gateway, data_dir, "http://127.0.0.1:8501")
    path = discovery.discovery_path(data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in data_dir.iterdir() if p.name.startswith(".server.json")] == []  # no temp file left
    found = discovery.read_discovery(data_dir)
    assert (found.url, found.pid) == ("http://127.0.0.1:8501", os.getpid())
    identity = gateway.authenticate_key(found.key)
    assert (identity.user, identity.role, identity.key_id, identity.scopes) == ("admin", "admin", key_id, frozenset(SCOPES))
    stored = json.dumps(gateway.list_keys(), default=str) + json.dumps(gateway.audit_log(), default=str)
    assert found.key not in stored  # hashed like every key, never in the audit log


def test_publish_revokes_keys_an_earlier_run_left_and_replaces_its_file(gateway, data_dir):
    left, _ = gateway.create_key("admin", SCOPES, name=discovery.KEY_NAME)
    other, _ = gateway.create_key("admin", ["read"], name="someone else's")
    write_server_file(data_dir, "http://127.0.0.1:1", dead_pid(), key=left)
    discovery.publish(gateway, data_dir, "http://127.0.0.1:8501")
    with pytest.raises(Unauthorized, match="revoked"):
        gateway.authenticate_key(left)
    gateway.authenticate_key(other)  # a key of another name is not the server's to revoke
    assert [k["status"] for k in local_cli_keys(gateway)] == ["revoked", "active"]
    assert discovery.read_discovery(data_dir).url == "http://127.0.0.1:8501"


def test_without_a_url_publish_only_cleans_up(gateway, data_dir):
    gateway.create_key("admin", SCOPES, name=discovery.KEY_NAME)
    write_server_file(data_dir, "http://127.0.0.1:1", dead_pid())
    assert discovery.publish(gateway, data_dir, None) is None
    assert not discovery.discovery_path(data_dir).exists()
    assert [k["status"] for k in local_cli_keys(gateway)] == ["revoked"]


def test_withdraw_removes_the_file_and_revokes_the_key(gateway, data_dir):
    key_id = discovery.publish(gateway, data_dir, "http://127.0.0.1:8501")
    raw = discovery.read_discovery(data_dir).key
    discovery.withdraw(gateway, data_dir, key_id)
    assert not discovery.discovery_path(data_dir).exists()
    with pytest.raises(Unauthorized, match="revoked"):
        gateway.authenticate_key(raw)


def test_withdraw_leaves_another_processs_file(gateway, data_dir):
    key_id = discovery.publish(gateway, data_dir, "http://127.0.0.1:8501")
    write_server_file(data_dir, "http://127.0.0.1:8502", os.getpid() + 1)
    discovery.withdraw(gateway, data_dir, key_id)
    assert discovery.read_discovery(data_dir).url == "http://127.0.0.1:8502"
    assert [k["status"] for k in local_cli_keys(gateway)] == ["revoked"]
