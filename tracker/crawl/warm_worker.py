"""A warm crawl process: one reactor, started once, running one check after another.

    python -m tracker.crawl.warm_worker [--config FILE]

Started and fed by tracker.crawl.warm.WarmCrawler, in frames (tracker.crawl.orders). Each
("check", orders) runs the ordered spiders, sharing one SharedHosts. This process fetches
and reads, and stores nothing: it never loads the database's libraries. Each outcome goes
back to the service as ("outcome", source, item, read, seconds left): a snapshot with what
it read (its content, or why it was refused, within the per-document budget), or a 304 or
a failure as it came. A spider that follows a stored document's links asks the service
with ("links", source, key) and waits for ("links", [...]). The check ends with
("done", resident memory in kB). The reactor stays up between checks, so a check pays no
start-up. End of stdin ends the process. Progress goes to stderr, escaped; whatever else
would be printed goes there too, so nothing can garble a frame. On a configuration error
it exits with code 2, on any other error with 1, as the one-shot worker does.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import queue
import signal
import sys
import threading
from typing import IO, Any

from scrapy.crawler import CrawlerRunner
from scrapy.resolver import dnscache
from scrapy.settings import Settings
from scrapy.utils.log import configure_logging
from scrapy.utils.misc import load_object
from scrapy.utils.reactor import install_reactor
from twisted.internet import defer

from spiders.politeness import SharedHosts
from spiders.settings import crawl_settings
from tracker.config import load_config
from tracker.crawl.orders import (
    CrawlOrder,
    escape_log_messages,
    quiet_noisy_loggers,
    read_frame,
    spider_arguments,
    write_frame,
)
from tracker.items import Snapshot
from tracker.kinds import kind_of
from tracker.outcomes import ReadingBudget, read_snapshot
from tracker.settings import Config, ConfigError

log = logging.getLogger("rulewatch.crawl")
LINKS_WAIT = 60.0  # seconds to wait for the service to give a document's stored links


def resident_kb() -> int:
    """This process's resident memory (VmRSS), in kB; 0 where /proc does not tell."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def private_stdout() -> IO[bytes]:
    """A stream to the real stdout for the frames; fd 1 itself then points at stderr."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return answers


class Sender:
    """Hands each outcome of one source to the service, read first when it is a snapshot."""

    def __init__(self, config: Config, name: str, answers: IO[bytes]):
        self.source = config.source(name)
        self.kind = kind_of(self.source.kind)
        self.budget = config.fetch.document_budget
        self.answers = answers

    def handle(self, item: Any) -> None:
        if isinstance(item, Snapshot):
            budget = ReadingBudget(self.budget)
            read = read_snapshot(self.kind, item, self.source, budget)
            write_frame(self.answers, ("outcome", self.source.name, item, read, budget.left))
        else:
            write_frame(self.answers, ("outcome", self.source.name, item, None, None))


def serve(config: Config) -> int:
    answers = private_stdout()
    settings = Settings(crawl_settings(config.fetch))
    install_reactor(settings["TWISTED_REACTOR"], settings["ASYNCIO_EVENT_LOOP"])
    from twisted.internet import reactor as installed

    # Typed as Twisted's interfaces, which name neither run(installSignalHandlers=) nor the
    # thread pool of the reactor just installed.
    reactor: Any = installed

    escape_log_messages()
    configure_logging(settings)
    runner = CrawlerRunner(settings)
    quiet_noisy_loggers()
    # What CrawlerProcess sets up on the reactor it starts: Scrapy's caching DNS resolver
    # (emptied before each check below, so a check resolves names afresh) and its threads.
    resolver_class = load_object(settings["TWISTED_DNS_RESOLVER"])
    resolver_class.from_crawler(runner, reactor).install_on_reactor()
    reactor.getThreadPool().adjustPoolsize(maxthreads=settings.getint("REACTOR_THREADPOOL_MAXSIZE"))
    # Ctrl-C reaches the whole process group; the service decides when this process ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    links_given: queue.Queue[list[str] | None] = queue.Queue()
    frozen: list[bool] = []
    exit_code = 0

    def stop(code: int = 0) -> None:
        nonlocal exit_code
        exit_code = exit_code or code
        if reactor.running:
            reactor.stop()

    def stored_links(name: str):
        def links(key: str) -> list[str]:
            write_frame(answers, ("links", name, key))
            try:
                given = links_given.get(timeout=LINKS_WAIT)
            except queue.Empty:
                raise RuntimeError(f"the service gave no stored links of {key} within {LINKS_WAIT:g}s") from None
            if given is None:
                raise RuntimeError(f"the service could not read the stored links of {key}")
            return given

        return links

    @defer.inlineCallbacks
    def check(orders: list[CrawlOrder]):
        try:
            dnscache.clear()
            shared = SharedHosts()
            crawls = []
            for order in orders:
                receivers = {source.name: Sender(config, source.name, answers) for source in order.sources}
                arguments = spider_arguments(order, config, shared, receivers.__getitem__, stored_links)
                crawls.append(runner.crawl(kind_of(order.kind).spider_class(), **arguments))
            outcomes = yield defer.DeferredList(crawls, consumeErrors=True)
            for succeeded, failure in outcomes:
                if not succeeded:
                    log.error("a crawl failed: %s", failure.getTraceback())
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            stop(2)
            return
        except Exception:
            log.exception("the check failed")
            stop(1)
            return
        write_frame(answers, ("done", resident_kb()))
        if not frozen:
            # What the first check loaded (the spiders, the readers) lives as long as the process:
            # the collector need not walk it again on every full collection (~5% of a check's CPU).
            frozen.append(True)
            gc.collect()
            gc.freeze()

    def read_messages() -> None:
        while True:
            try:
                message = read_frame(sys.stdin.buffer)
            except EOFError:
                break
            if message[0] == "check":
                reactor.callFromThread(check, message[1])
            elif message[0] == "links":
                links_given.put(message[1])
        reactor.callFromThread(stop)

    threading.Thread(target=read_messages, name="check-reader", daemon=True).start()
    reactor.run(installSignalHandlers=False)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracker.crawl.warm_worker")
    parser.add_argument("--config")
    args = parser.parse_args(argv)
    try:
        return serve(load_config(args.config))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
