"""How long ``hf_hub_download`` takes to give up on an unresponsive hub with only huggingface_hub's own time-outs.

    python scripts/hub_timeouts.py [--seconds 150] [--timeout 2]

Starts two local "hubs" on 127.0.0.1: one that accepts connections and never answers (a silent
proxy or firewall), one that answers a status line and then one header line per second (a
trickle). Against each, with ``HF_HUB_ETAG_TIMEOUT`` and ``HF_HUB_DOWNLOAD_TIMEOUT`` set to
``--timeout`` seconds, it times ``hf_hub_download`` of a file that is not cached, for at most
``--seconds``, and prints how it ended. Both settings are per-read time-outs that huggingface_hub
retries, so they do not bound the wall-clock time; this is why :mod:`wnlb_zoo.weights.hub` asks the
hub with a wall-clock deadline of its own before any download.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import huggingface_hub

_CHILD = """
import os, sys, tempfile, threading, time
from huggingface_hub import hf_hub_download
start = time.monotonic()
limit = float(sys.argv[1])
def give_up():
    time.sleep(limit)
    print(f"still waiting after {time.monotonic() - start:.0f} s", flush=True)
    os._exit(0)
threading.Thread(target=give_up, daemon=True).start()
try:
    hf_hub_download("org/repo", "model.safetensors", cache_dir=tempfile.mkdtemp())
except Exception as error:
    print(f"failed after {time.monotonic() - start:.1f} s: {type(error).__name__}", flush=True)
"""


def serve(trickle: bool) -> int:
    """A local hub that never answers, or trickles a header line per second; returns its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    connections = []

    def answer(connection: socket.socket) -> None:
        connection.recv(65536)
        try:
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            while True:
                connection.sendall(b"X-Pad: 1\r\n")
                time.sleep(1)
        except OSError:
            pass

    def accept() -> None:
        while True:
            connection, _ = server.accept()
            connections.append(connection)  # kept open: a silent hub never closes either
            if trickle:
                threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return server.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="how long to wait at most (default 150)")
    parser.add_argument("--timeout", type=int, default=2, help="HF_HUB_*_TIMEOUT in seconds (default 2)")
    args = parser.parse_args()
    version = huggingface_hub.__version__
    print(f"huggingface_hub {version}, HF_HUB_ETAG_TIMEOUT and HF_HUB_DOWNLOAD_TIMEOUT {args.timeout} s")
    for name, trickle in (("silent hub", False), ("trickling hub", True)):
        port = serve(trickle)
        environment = {
            **os.environ,
            "HF_ENDPOINT": f"http://127.0.0.1:{port}",
            "HF_HUB_ETAG_TIMEOUT": str(args.timeout),
            "HF_HUB_DOWNLOAD_TIMEOUT": str(args.timeout),
            "HF_HUB_CACHE": tempfile.mkdtemp(),
        }
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, str(args.seconds)], env=environment, capture_output=True, text=True
        )
        print(f"{name}: {result.stdout.strip() or result.stderr.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
