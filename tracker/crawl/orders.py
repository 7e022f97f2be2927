"""What a crawl process is asked to do, and how it talks with the service that asked.

An order names the spider (a source kind) and, for each source, what the database knows:
the validators of its documents (for conditional requests) and the URLs it holds. The
one-shot worker and a Scrapyd job build orders and store what they fetch themselves; the
warm crawl process gets its orders from the service and sends back each outcome it read,
for the service to store (tracker.crawl.warm). Nothing here touches the database.

Between the service and its warm crawl process, messages are frames on the process's
stdin and stdout: a 4-byte big-endian length, then a pickle. Only these two processes of
the same installation write them, and fetched text inside them is plain data.
"""

from __future__ import annotations

import logging
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from tracker.printable import printable
from tracker.settings import Config

HEADER = struct.Struct(">I")

# These log a traceback for every failed fetch; the tracker reports each failure in one line.
QUIETED_LOGGERS = ("scrapy.downloadermiddlewares.robotstxt", "scrapy.downloadermiddlewares.retry")


@dataclass
class SourceOrder:
    name: str
    validators: dict = field(default_factory=dict)  # by document key, as tracker.crawl.rows reads them
    known_urls: list[str] = field(default_factory=list)  # of its documents not gone


@dataclass
class CrawlOrder:
    """One spider's work: its kind, and the sources it checks (several for a kind that crawls together)."""

    kind: str
    sources: list[SourceOrder]
    together: bool


def spider_arguments(
    order: CrawlOrder,
    config: Config,
    shared_hosts: Any,
    receiver: Callable[[str], Any],
    stored_links: Callable[[str], Callable[[str], list[str]]],
) -> dict:
    """The spider's keyword arguments for `order`. `receiver(name)` takes the outcomes of a
    source (an Ingestor, or what sends them to the service); `stored_links(name)` gives a
    document's links in its stored version, by key, for a spider that follows them."""
    if order.together:
        sources = [(config.source(s.name), s.validators, receiver(s.name)) for s in order.sources]
        return {"sources": sources, "shared_hosts": shared_hosts}
    [only] = order.sources
    return {
        "source": config.source(only.name),
        "validators": only.validators,
        "known_urls": only.known_urls,
        "ingestor": receiver(only.name),
        "shared_hosts": shared_hosts,
        "stored_links": stored_links(only.name),
    }


def write_frame(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next message on `stream`; EOFError once it ended."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EOFError
    (size,) = HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def quiet_noisy_loggers() -> None:
    for name in QUIETED_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


class EscapedLogRecord(logging.LogRecord):
    """A log record whose message has its control characters escaped (tracker.printable)."""

    def getMessage(self) -> str:
        return printable(super().getMessage())


def escape_log_messages() -> None:
    """Every log line of this crawl process shows fetched text escaped.

    Scrapy's own lines quote what servers send (URLs, a Content-Encoding header…), and
    an ESC or a newline there could forge or erase a line. Set on the records, not on a
    handler: Scrapy installs a new root handler for every crawler it creates. Escaped
    when a handler formats the record, so the DEBUG lines nobody shows cost nothing."""
    logging.setLogRecordFactory(EscapedLogRecord)
