"""Field names SPEC.md fixes for the JSON of `changes --json` and /api: the tests' one copy."""

DOCUMENT_FIELDS = frozenset({"id", "key", "url", "title"})
EVENT_FIELDS = frozenset(
    {
        "id",
        "event",
        "severity",
        "reasons",
        "source",
        "document",
        "from_version",
        "to_version",
        "detected_at",
        "expectations",
        "baseline",
        "summary",
        "review",
    }
)
REVIEW_FIELDS = frozenset({"status", "by", "at", "notes"})
REVIEW_NOTE_FIELDS = frozenset({"by", "at", "text"})
SEARCH_HIT_FIELDS = frozenset({"document", "first_version", "first_seen", "last_version", "gone_in", "snippet"})
