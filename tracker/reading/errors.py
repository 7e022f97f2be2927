"""What reading a fetched body can fail with."""

from __future__ import annotations

from tracker.items import FailureReason


class SelectorNotFound(ValueError):
    """The configured CSS selector matched nothing on the page."""

    def __init__(self, selector: str):
        self.selector = selector
        super().__init__(f"CSS selector {selector!r} matched nothing on the page; the page layout may have changed")


class UnreadableDocument(ValueError):
    """A document that cannot be read: a damaged PDF, a page nested too deep or too big."""


class ContentError(Exception):
    """A body that was fetched but cannot be turned into content: a recorded failure, with its reason."""

    def __init__(self, message: str, reason: FailureReason = FailureReason.UNREADABLE):
        super().__init__(message)
        self.reason = reason
