"""A spider callback that cannot read a response records a failure; nothing vanishes.

Scrapy on its own logs a callback's error (or a pipeline's, with the whole item) and
drops the document; spiders.pipelines.ReadingErrors makes it a FetchFailed instead.
"""

from tests.tracker.kinds.federal_register.test_spider import (
    JSON,
    SEARCH,
    FakeFederalRegister,
    check,
)


def test_json_nested_too_deeply_in_a_search_is_a_recorded_failure(server, fr_source, capfd):
    server.set(SEARCH, b'{"results": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", content_type=JSON, ignore_query=True)
    config, engine = fr_source()
    result = check(config, engine)
    assert result.status == "failed"
    [reason] = result.failures
    assert "could not be read" in reason and "nested too deeply" in reason
    assert "[[[[" not in capfd.readouterr().err  # no body in the log


def test_a_document_json_nested_too_deeply_fails_alone(server, fr_source):
    fr = FakeFederalRegister(server)
    fr.search(["2025-00636", "2025-00637"])
    fr.document("2025-00636")
    deep = b'{"document_number": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    server.set("/api/v1/documents/2025-00637.json", deep, content_type=JSON)
    config, engine = fr_source()
    result = check(config, engine)
    assert result.new_versions == 1
    [reason] = result.failures
    assert "2025-00637" in reason and "nested too deeply" in reason
