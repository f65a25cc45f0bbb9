"""The official `openai` Python client, unchanged, against the server's /v1: models, plain and streamed completions,
conversation history in the messages, citations in the extension field, and errors as the client's exceptions."""
from __future__ import annotations

import json

import httpx
import openai
import pytest

from backend.gateway import api_models as m
from tests.gateway.api_world import World, build_world
from tests.live_server import serve

pytestmark = pytest.mark.slow
FEE = "What is the fee for international transfers?"
CARD = "How long does a customer have to report a card payment they did not make?"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("openai") / "data")


@pytest.fixture(scope="module")
def url(world):
    with serve(world.data_dir) as base:
        yield base


def client(url: str, world: World, key: str = "alice") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=world.keys[key], max_retries=0, timeout=120)


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def test_models_are_the_callers_collections(url, world):
    assert [model.id for model in client(url, world).models.list()] == ["acme-policies"]
    assert sorted(model.id for model in client(url, world, "ada").models.list()) == [
        "acme-archive", "acme-policies", "globex-policies"]
    assert [model.owned_by for model in client(url, world, "gina").models.list()] == ["globex"]


def test_a_plain_completion_with_citations(url, world):
    completion = client(url, world).chat.completions.create(
        model="acme-policies", messages=[{"role": "system", "content": "Be brief."}, user(FEE)])
    m.ChatCompletion.model_validate(completion.model_dump())
    message = completion.choices[0].message
    assert "12 EUR" in message.content and "19" not in message.content
    citations = message.model_extra["citations"]
    assert citations and all(c["title"].startswith("Acme") for c in citations)
    assert "[1]" in message.content and citations[0]["marker"] == 1
    assert completion.choices[0].finish_reason == "stop" and completion.model == "acme-policies"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_earlier_messages_are_the_conversation(url, world):
    completion = client(url, world).chat.completions.create(model="acme-policies", messages=[
        user(FEE), {"role": "assistant", "content": "The fee for international transfers is 12 EUR per transfer [1]."},
        user("and for domestic transfers?")])
    assert "1 EUR" in completion.choices[0].message.content
    assert "domestic" in completion.choices[0].message.content


def test_a_streamed_completion_matches_the_plain_one(url, world):
    api = client(url, world)
    plain = api.chat.completions.create(model="acme-policies", messages=[user(CARD)]).choices[0].message
    chunks = list(api.chat.completions.create(model="acme-policies", messages=[user(CARD)], stream=True,
                                              stream_options={"include_usage": True}))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == plain.content and "45 days" in text
    finished = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert len(finished) == 1 and finished[0].choices[0].finish_reason == "stop"
    assert finished[0].choices[0].delta.model_extra["citations"] == plain.model_extra["citations"]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].usage is not None and not chunks[-1].choices  # include_usage: one last chunk with usage
    assert len({chunk.id for chunk in chunks}) == 1


def test_the_stream_is_server_sent_events_ending_with_done(url, world):
    lines = []
    with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=120,
                      headers={"Authorization": f"Bearer {world.keys['alice']}"},
                      json={"model": "acme-policies", "messages": [user(FEE)], "stream": True}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert {event["object"] for event in events} == {"chat.completion.chunk"}


def test_errors_are_the_clients_exceptions(url, world):
    api = client(url, world)
    with pytest.raises(openai.NotFoundError) as unknown:
        api.chat.completions.create(model="no-such-collection", messages=[user(FEE)])
    with pytest.raises(openai.NotFoundError) as other_tenant:
        api.chat.completions.create(model="globex-policies", messages=[user(FEE)])
    assert unknown.value.body["field"] == other_tenant.value.body["field"] == "model"
    with pytest.raises(openai.NotFoundError):  # a stream fails before its first event, with the status
        api.chat.completions.create(model="globex-policies", messages=[user(FEE)], stream=True)
    with pytest.raises(openai.BadRequestError) as last_not_user:
        api.chat.completions.create(model="acme-policies", messages=[user(FEE), {"role": "assistant", "content": "?"}])
    assert last_not_user.value.body["field"] == "messages"
    with pytest.raises(openai.UnprocessableEntityError) as two_choices:
        api.chat.completions.create(model="acme-policies", messages=[user(FEE)], n=2)
    assert two_choices.value.body["field"] == "n"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="gw_wrong", max_retries=0).models.list()
    with pytest.raises(openai.PermissionDeniedError):
        client(url, world, "stan").chat.completions.create(model="acme-policies", messages=[user(FEE)])
    with pytest.raises(openai.RateLimitError) as quota:  # globex's monthly quota is used up
        client(url, world, "gina").chat.completions.create(model="globex-policies", messages=[user(FEE)])
    assert "quota" in quota.value.message and quota.value.response.headers["Retry-After"]
