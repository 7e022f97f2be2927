"""The `ecfr` kind: the EAR parts being watched, as amended."""

from tracker.kinds.base import Kind
from tracker.kinds.ecfr.config import EcfrConfig

KIND = Kind(
    name="ecfr",
    config=EcfrConfig,
    spider="tracker.kinds.ecfr.spider:EcfrSpider",
    reader="tracker.kinds.ecfr.content:read",
    default_interval="6h",
)
