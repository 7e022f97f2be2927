"""/openapi.json documents the JSON contract of SPEC.md: every /api path answers a described shape."""

from __future__ import annotations

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import Document, Subscriber
from tests.support.contract import DOCUMENT_FIELDS, EVENT_FIELDS, REVIEW_FIELDS, REVIEW_NOTE_FIELDS, SEARCH_HIT_FIELDS
from tests.support.history import publish_expected
from tests.tracker.web.helpers import ADMIN_TOKEN

DOCUMENT = set(DOCUMENT_FIELDS)
EVENT = set(EVENT_FIELDS)
SOURCE = {"name", "kind", "status", "last_success_at", "last_failure_at", "last_error", "consecutive_failures"}
EXPECTATION = {"name", "status", "met_at", "document", "version", "reason", "thread"}
SUBSCRIBER = {"id", "email", "active", "sources", "expectations", "min_severity", "digest"}

# path -> (method, an array of them or one, the fields each must document)
CONTRACT = {
    "/api/changes": ("get", True, EVENT),
    "/api/documents": ("get", True, DOCUMENT | {"source", "versions"}),
    "/api/documents/{document_id}": ("get", False, DOCUMENT | {"source", "versions"}),
    "/api/documents/{document_id}/versions": ("get", True, {"version", "fetched_at", "url", "status", "sha256"}),
    "/api/documents/{document_id}/diff": ("get", False, {"document", "from", "to", "severity", "reasons", "ops"}),
    "/api/sources": ("get", True, SOURCE),
    "/api/expectations": ("get", True, EXPECTATION),
    "/api/expectations/{name}": ("get", False, EXPECTATION),
    "/api/search": ("get", True, set(SEARCH_HIT_FIELDS)),
    "/api/admin/sources": ("get", True, SOURCE),
    "/api/admin/subscribers": ("get", True, SUBSCRIBER),
    "/api/admin/deliveries": ("get", True, {"id", "event_id", "subscriber", "status", "attempts", "last_error"}),
    "/api/admin/subscribers/{subscriber_id}/revoke": ("post", False, SUBSCRIBER),
    "/api/admin/channels": ("get", True, {"name", "scheme", "active", "sources", "expectations", "min_severity"}),
    "/api/admin/channel-deliveries": ("get", True, {"id", "event_id", "channel", "status", "attempts", "last_error"}),
    "/api/events/{event_id}/review": ("post", False, EVENT),
}


@pytest.fixture
def openapi(client):
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def resolve(openapi: dict, schema: dict) -> dict:
    """The schema itself, following a $ref into components and a nullable anyOf to its object."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        return resolve(openapi, openapi["components"]["schemas"][name])
    if "anyOf" in schema:
        [present] = [option for option in schema["anyOf"] if option.get("type") != "null"]
        return resolve(openapi, present)
    return schema


def answer_schema(openapi: dict, path: str, method: str) -> dict:
    return openapi["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]


def element(openapi: dict, path: str) -> dict:
    """The object schema of the path's answer, or of each element when it answers an array."""
    method, is_array, _ = CONTRACT[path]
    schema = resolve(openapi, answer_schema(openapi, path, method))
    if is_array:
        assert schema["type"] == "array", path
        schema = resolve(openapi, schema["items"])
    assert schema["type"] == "object", path
    return schema


def test_every_api_path_is_in_the_contract(openapi):
    assert {path for path in openapi["paths"] if path.startswith("/api/")} == set(CONTRACT)


@pytest.mark.parametrize("path", sorted(CONTRACT))
def test_each_api_answer_documents_the_spec_fields(openapi, path):
    fields = CONTRACT[path][2]
    schema = element(openapi, path)
    assert fields <= set(schema["properties"]), path
    assert fields <= set(schema["required"]), path  # always present, null or not


def test_nested_shapes_are_documented(openapi):
    event = element(openapi, "/api/changes")
    assert set(resolve(openapi, event["properties"]["document"])["properties"]) == DOCUMENT
    diff = element(openapi, "/api/documents/{document_id}/diff")
    assert set(resolve(openapi, diff["properties"]["document"])["properties"]) == DOCUMENT
    op = resolve(openapi, resolve(openapi, diff["properties"]["ops"])["items"])
    assert {"op", "text", "section"} <= set(op["required"])
    expectation = element(openapi, "/api/expectations")
    assert set(resolve(openapi, expectation["properties"]["document"])["properties"]) == DOCUMENT
    thread_event = resolve(openapi, resolve(openapi, expectation["properties"]["thread"])["items"])
    assert set(thread_event["properties"]) >= EVENT and set(thread_event["required"]) >= EVENT
    for path in ("/api/changes", "/api/events/{event_id}/review"):
        review = resolve(openapi, element(openapi, path)["properties"]["review"])
        assert set(review["properties"]) == set(review["required"]) == REVIEW_FIELDS, path
        note = resolve(openapi, resolve(openapi, review["properties"]["notes"])["items"])
        assert set(note["properties"]) == set(note["required"]) == REVIEW_NOTE_FIELDS

    hit = element(openapi, "/api/search")
    assert set(resolve(openapi, hit["properties"]["document"])["properties"]) == DOCUMENT


def test_the_review_action_documents_its_body(openapi):
    body = openapi["paths"]["/api/events/{event_id}/review"]["post"]["requestBody"]
    schema = resolve(openapi, body["content"]["application/json"]["schema"])
    assert set(schema["properties"]) == {"status", "note"} and schema["required"] == ["status"]
    assert schema["properties"]["status"]["enum"] == ["new", "in_review", "reviewed", "not_relevant"]


def test_what_the_api_answers_is_what_it_documents(client, history, openapi):
    """No key goes out undocumented: the shapes and their models cannot drift apart unseen."""
    publish_expected(history)  # so the expectation has a thread
    with session_scope(history.engine) as session:
        document_id = session.exec(select(Document.id).where(Document.latest_version > 1)).first()
    client.cookies.clear()
    answers = {
        "/api/changes": client.get("/api/changes"),
        "/api/documents": client.get("/api/documents"),
        "/api/documents/{document_id}": client.get(f"/api/documents/{document_id}"),
        "/api/documents/{document_id}/versions": client.get(f"/api/documents/{document_id}/versions"),
        "/api/documents/{document_id}/diff": client.get(f"/api/documents/{document_id}/diff"),
        "/api/sources": client.get("/api/sources"),
        "/api/expectations": client.get("/api/expectations"),
        "/api/expectations/{name}": client.get("/api/expectations/gp10"),
        "/api/search": client.get("/api/search?q=exporters"),
    }
    for path, answer in answers.items():
        assert answer.status_code == 200, path
        body = answer.json()
        elements = body if CONTRACT[path][1] else [body]
        assert elements, path
        documented = set(element(openapi, path)["properties"])
        for item in elements:
            assert set(item) <= documented, (path, set(item) - documented)
    thread = answers["/api/expectations/{name}"].json()["thread"]
    documented = set(element(openapi, "/api/changes")["properties"])
    assert thread and all(set(event) <= documented for event in thread)


def test_admin_answers_are_what_they_document(admin_client, history, subscriber):
    openapi = admin_client.get("/openapi.json").json()
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with session_scope(admin_client.app.state.engine) as session:
        subscriber_id = session.exec(select(Subscriber.id)).first()
    event_id = history.events["negation"]
    answers = {
        "/api/events/{event_id}/review": admin_client.post(
            f"/api/events/{event_id}/review", headers=bearer, json={"status": "reviewed", "note": "Checked."}
        ),
        "/api/admin/sources": admin_client.get("/api/admin/sources", headers=bearer),
        "/api/admin/subscribers": admin_client.get("/api/admin/subscribers", headers=bearer),
        "/api/admin/subscribers/{subscriber_id}/revoke": admin_client.post(
            f"/api/admin/subscribers/{subscriber_id}/revoke", headers=bearer
        ),
    }
    for path, answer in answers.items():
        assert answer.status_code == 200, (path, answer.text)
        body = answer.json()
        elements = body if CONTRACT[path][1] else [body]
        assert elements, path
        documented = set(element(openapi, path)["properties"])
        assert all(set(item) <= documented for item in elements), path
