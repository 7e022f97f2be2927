"""Numbers in paths and queries that no database integer can hold: 404 or 422, never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.history import PRESS
from tests.tracker.web.helpers import ADMIN_TOKEN

HUGE = "99999999999999999999"  # over 2**64
OVER_INT64 = str(2**63)
OVER_INT32 = str(2**31)  # ids and version numbers are INTEGER columns


def test_every_route_taking_a_number_refuses_huge_ones(admin_client, history):
    press = history.documents[PRESS]
    client = TestClient(admin_client.app, raise_server_exceptions=False)  # a 500 is an answer here
    client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    pages = []
    for big in (HUGE, OVER_INT64, OVER_INT32):
        pages += [
            f"/documents/{big}",
            f"/documents/{big}/diff",
            f"/documents/{big}/diff/export",
            f"/documents/{big}/versions/1/raw",
            f"/documents/{press}/versions/{big}/raw",
            f"/documents/{press}/versions/2/attachments/{big}/raw",
            f"/documents/{press}/versions/{big}/attachments/0/raw",
            f"/documents/{press}/diff?from={big}",
            f"/documents/{press}/diff?to={big}",
            f"/documents/{press}/diff/export?from=1&to={big}",
            f"/documents/{big}/diff/export.docx",
            f"/documents/{press}/diff/export.docx?from=1&to={big}",
            f"/documents/{big}/versions/1/evidence.warc.gz",
            f"/documents/{press}/versions/{big}/evidence.warc.gz",
            f"/feeds/documents/{big}.atom",
            f"/feeds/documents/{big}.rss",
            f"/api/documents/{big}",
            f"/api/documents/{big}/versions",
            f"/api/documents/{big}/diff",
            f"/api/documents/{press}/diff?from={big}",
            f"/api/documents/{press}/diff?to={big}",
            f"/api/changes?limit={big}",
        ]
    pages += [
        f"/documents/{press}/diff?from=1e30",
        f"/api/documents/{press}/diff?from=1e30",
        f"/documents/{press}/diff?to=%C2%B2",
        f"/api/documents/{press}/diff?to=-1",
    ]
    wrong = [(path, client.get(path).status_code) for path in pages]
    for path in (f"/admin/subscribers/{HUGE}/revoke", f"/api/admin/subscribers/{HUGE}/revoke", f"/review/{HUGE}"):
        wrong.append((path, client.post(path, data={}).status_code))
    for big in (HUGE, OVER_INT64, OVER_INT32):
        path = f"/api/events/{big}/review"
        wrong.append((path, client.post(path, json={"status": "reviewed"}).status_code))
    assert [(path, status) for path, status in wrong if status not in (404, 422)] == []
    # Numbers that fit are still looked up.
    assert client.get("/documents/999999999").status_code == 404
    assert client.get("/api/documents/999999999/diff").status_code == 404
    assert client.get(f"/documents/{press}/diff?from=1&to=2147483647").status_code == 404
    assert client.get(f"/api/documents/{press}/diff?from=1&to=2").status_code == 200
    assert client.get("/api/changes?limit=2147483647").status_code == 200


# --- adversarial pass (issue 10): what still breaks --------------------------------------

EDGE_TIMES = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00%2B14:00"]  # past datetime's range once in UTC


def test_times_at_the_edge_of_the_calendar_are_refused_not_a_500(client):
    client = TestClient(client.app, raise_server_exceptions=False)
    answers = [
        (path, client.get(path).status_code)
        for moment in EDGE_TIMES
        for path in (
            f"/changes?since={moment}",
            f"/changes?until={moment}",
            f"/api/changes?since={moment}",
            f"/api/changes?until={moment}",
        )
    ]
    # Refused as any other unusable filter is (the API's filter errors are 400s), naming the parameter.
    assert [(path, status) for path, status in answers if status != 400] == []
    answer = client.get(f"/api/changes?until={EDGE_TIMES[0]}")
    assert answer.json()["detail"].startswith("until: ") and "UTC" in answer.json()["detail"]
    assert "since: " in client.get(f"/changes?since={EDGE_TIMES[1]}").text
    # The calendar's first and last moments in UTC itself are still usable.
    for moment in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "9999-12-31", "0001-01-01"):
        assert client.get(f"/api/changes?since={moment}").status_code == 200
        assert client.get(f"/changes?until={moment}").status_code == 200
