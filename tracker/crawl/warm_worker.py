"""A warm crawl process: one reactor, started once, running one check after another.

    python -m tracker.crawl.warm_worker [--config FILE]

Started and fed by tracker.crawl.warm.WarmCrawler. Each line on stdin is one check,
{"sources": [names]}; it runs as the one-shot worker runs it (tracker.crawl.worker:
prepare_crawls, its spiders sharing one SharedHosts, finish_crawls), and its answer is one
line on stdout: {"results": {name: tally}, "rss_kb": resident memory after the check}.
The reactor stays up between checks, so a check pays no start-up. End of stdin ends the
process. Progress goes to stderr, escaped, as in the one-shot worker; whatever else would
be printed goes there too, so nothing can garble an answer. On a configuration or database
error it exits with code 2, on any other error with 1, as the one-shot worker does.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from typing import Any

from scrapy.crawler import CrawlerRunner
from scrapy.resolver import dnscache
from scrapy.settings import Settings
from scrapy.utils.log import configure_logging
from scrapy.utils.misc import load_object
from scrapy.utils.reactor import install_reactor
from twisted.internet import defer

from spiders.settings import crawl_settings
from storage.db import DatabaseError, open_database
from tracker.config import load_config
from tracker.crawl.worker import escape_log_messages, finish_crawls, prepare_crawls, quiet_noisy_loggers
from tracker.settings import Config, ConfigError

log = logging.getLogger("rulewatch.crawl")


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


def private_stdout():
    """A stream to the real stdout for the answers; fd 1 itself then points at stderr."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return answers


def serve(config: Config) -> int:
    engine = open_database(config.database_url)
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
    exit_code = 0

    def stop(code: int = 0) -> None:
        nonlocal exit_code
        exit_code = exit_code or code
        if reactor.running:
            reactor.stop()

    @defer.inlineCallbacks
    def check(names: list[str]):
        try:
            dnscache.clear()
            crawls, results = prepare_crawls(config, engine, names)
            outcomes = yield defer.DeferredList(
                [runner.crawl(crawl.spider, **crawl.arguments) for crawl in crawls], consumeErrors=True
            )
            for succeeded, failure in outcomes:
                if not succeeded:
                    log.error("a crawl of %s failed: %s", names, failure.getTraceback())
            results.update(finish_crawls(crawls))
        except (ConfigError, DatabaseError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            stop(2)
            return
        except Exception:
            log.exception("the check of %s failed", names)
            stop(1)
            return
        answers.write(json.dumps({"results": results, "rss_kb": resident_kb()}) + "\n")

    def read_checks() -> None:
        for line in sys.stdin:
            reactor.callFromThread(check, json.loads(line)["sources"])
        reactor.callFromThread(stop)

    threading.Thread(target=read_checks, name="check-reader", daemon=True).start()
    reactor.run(installSignalHandlers=False)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracker.crawl.warm_worker")
    parser.add_argument("--config")
    args = parser.parse_args(argv)
    try:
        return serve(load_config(args.config))
    except (ConfigError, DatabaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
