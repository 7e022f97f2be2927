"""The `federal_register` kind: FR documents, from public inspection to publication."""

from tracker.kinds.base import Kind
from tracker.kinds.federal_register.config import FederalRegisterConfig


def published_now(previous_evidence: dict, extra: dict) -> bool:
    """A document leaving public inspection: its formal appearance."""
    return previous_evidence.get("stage") == "public_inspection" and extra.get("stage") == "published"


def older_copy(previous_evidence: dict, extra: dict) -> bool:
    """A public-inspection copy of a document already published is old news, not a change."""
    return extra.get("stage") == "public_inspection" and previous_evidence.get("stage") == "published"


KIND = Kind(
    name="federal_register",
    config=FederalRegisterConfig,
    spider="tracker.kinds.federal_register.spider:FederalRegisterSpider",
    reader="tracker.kinds.federal_register.content:read",
    default_interval="15m",
    published_now=published_now,
    older_copy=older_copy,
)
