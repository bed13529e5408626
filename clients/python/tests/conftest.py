"""Real Strata servers for the client's tests: ``bin/strata serve`` (the shaded server jar,
server/target/strata.jar, built by Maven; bin/strata builds it if it is missing) on a free loopback
port chosen by the server (``--listen 127.0.0.1:0``, the port read from its first line), over a
temporary data directory, stopped with SIGTERM at the end of the session."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the strata_client package, without installing it
REPO = HERE.parents[2]
STRATA = REPO / "bin" / "strata"
SERVING = re.compile(r"serving on (\S+):(\d+) ")

ADMIN_TOKEN = "adm1n-pytest"
WRITER_TOKEN = "wr1ter-pytest"


@dataclass
class Server:
    address: str
    process: subprocess.Popen
    log: Path


def _start(data_dir: Path, *extra: str) -> Server:
    log = data_dir.with_suffix(".log")
    stderr = open(log, "wb")
    process = subprocess.Popen(
        [str(STRATA), "serve", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0",
         "--flush-interval", "off", "--set", "metrics.listen=off", *extra],
        stdout=subprocess.PIPE,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in process.stdout], daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=180)  # a first run may build the jar
            m = SERVING.search(line)
            if m:
                return Server(f"{m.group(1)}:{m.group(2)}", process, log)
    except queue.Empty:
        process.kill()
        raise RuntimeError(f"strata serve did not start; its log: {log}\n{log.read_text(errors='replace')[-4000:]}")


def _stop(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    """A server with default settings (no tokens), except that nothing flushes by time."""
    s = _start(tmp_path_factory.mktemp("strata") / "data")
    yield s
    _stop(s)


@pytest.fixture(scope="session")
def strict_server(tmp_path_factory) -> Server:
    """A server with tokens (admin and writer) and one flush permit that writers wait for 1 ms
    only, so that a flush behind another one is refused with RESOURCE_EXHAUSTED + RetryInfo."""
    s = _start(
        tmp_path_factory.mktemp("strata-strict") / "data",
        "--max-pending-flushes", "1",
        "--write-stall-timeout", "1ms",
        "--set", f"auth.token.pytest-admin=admin:{ADMIN_TOKEN}",
        "--set", f"auth.token.pytest-app=writer:{WRITER_TOKEN}",
    )
    yield s
    _stop(s)
