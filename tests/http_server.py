"""A local HTTP file server for tests of remote inputs (no network here): 127.0.0.1 only, with byte ranges.

Python's ``http.server`` answers ``Range`` requests with the whole file; uproot's HTTP source
(fsspec/aiohttp) reads ROOT files by byte ranges, so this handler serves single ranges
(``bytes=a-b``, ``bytes=a-``, ``bytes=-n``) with ``206 Partial Content`` as real servers do.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """``SimpleHTTPRequestHandler`` plus single byte ranges; counts the requests it served."""

    requests_served: list[str]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass  # quiet test output

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self.requests_served.append(f"GET {self.path} {self.headers.get('Range', '')}".strip())
        spec = self.headers.get("Range")
        path = self.translate_path(self.path)
        m = _RANGE.match(spec.strip()) if spec else None
        if m is None or not os.path.isfile(path):
            return super().do_GET()
        size = os.path.getsize(path)
        first, last = m.groups()
        if first == "":  # the last n bytes
            start, stop = max(size - int(last), 0), size - 1
        else:
            start, stop = int(first), min(int(last) if last else size - 1, size - 1)
        if start >= size or start > stop:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return
        with open(path, "rb") as fh:
            fh.seek(start)
            body = fh.read(stop - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{stop}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", self.date_time_string(int(os.path.getmtime(path))))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 - the base class's name
        self.requests_served.append(f"HEAD {self.path}")
        super().do_HEAD()


@contextmanager
def serve_folder(folder: str | Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``folder`` on 127.0.0.1 (a free port) in a thread: yields (base URL, request log); stops after."""
    log: list[str] = []
    handler = type("Handler", (RangeHandler,), {"requests_served": log})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
