"""The `reginfo` kind: each followed RIN's Unified Agenda entry and its EO 12866 reviews."""

from tracker.kinds.base import Kind
from tracker.kinds.reginfo.config import ReginfoConfig

KIND = Kind(
    name="reginfo",
    config=ReginfoConfig,
    spider="tracker.kinds.reginfo.spider:ReginfoSpider",
    reader="tracker.kinds.reginfo.content:read",
    default_interval="6h",
    judge="tracker.kinds.reginfo.content:judge",
    signal="tracker.kinds.reginfo.content:signal",
)
