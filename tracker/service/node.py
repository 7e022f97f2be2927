"""`rulewatch node`: a Scrapyd crawl node of a [cluster], serving the `rulewatch` project.

Scrapyd finds the project through its config's [settings] section and the job
processes find the Scrapy settings through SCRAPY_SETTINGS_MODULE, so a node
needs Rulewatch installed (pip install rulewatch) but no egg deployed. The
scheduler tells each job which config file to read (`[cluster] node_config`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SETTINGS_MODULE = "spiders.settings"


def scrapyd_conf(bind: str, port: int, directory: Path, project: str, max_jobs: int) -> str:
    return f"""# Written by `rulewatch node`; edits are overwritten at its next start.
[scrapyd]
bind_address = {bind}
http_port = {port}
poll_interval = 1.0
max_proc = {max_jobs}
logs_dir = {directory / "logs"}
eggs_dir = {directory / "eggs"}
dbs_dir = {directory / "dbs"}
jobs_to_keep = 50
finished_to_keep = 500

[settings]
{project} = {SETTINGS_MODULE}
"""


def run_node(bind: str, port: int, directory: Path, project: str = "rulewatch", max_jobs: int = 0) -> None:
    """Replaces this process with Scrapyd, configured from the arguments; never returns."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "scrapyd.conf").write_text(scrapyd_conf(bind, port, directory, project, max_jobs), encoding="utf-8")
    os.chdir(directory)  # Scrapyd reads ./scrapyd.conf
    os.environ["SCRAPY_SETTINGS_MODULE"] = SETTINGS_MODULE
    os.execv(sys.executable, [sys.executable, "-m", "scrapyd", "--pidfile", str(directory / "scrapyd.pid")])
