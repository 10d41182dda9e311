"""A hub that never answers, or answers with an error, fails ``pretrained=True`` quickly, with the offline advice."""

import http.server
import socket
import threading

import pytest
import timm

from wnlb_zoo.weights import PretrainedWeightsNotFound

# A run that fails must fail within this; with a 1 s hub timeout a pass takes a few seconds, the
# old behaviour (huggingface_hub's retries) took minutes.
DEADLINE_S = 60


def failure_within(seconds, function):
    """The exception ``function`` raises, asserting that it returns or raises within ``seconds``."""
    outcome = []

    def call():
        try:
            function()
            outcome.append(None)
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still waiting for the hub after {seconds} s"
    return outcome[0]


@pytest.fixture
def silent_hub(monkeypatch):
    """``HF_ENDPOINT`` at a local port that accepts connections (the kernel's backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as server:
        endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        yield endpoint


class NotFound(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):
        self.send_response(404)
        self.send_header("X-Error-Code", "RepoNotFound")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_hub(monkeypatch):
    """``HF_ENDPOINT`` at a local HTTP server that answers 404 to everything."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield
    server.shutdown()
    server.server_close()


def create(name):
    return timm.create_model(name, pretrained=True, features_only=True)


def test_a_hub_that_never_answers_fails_within_the_timeout(exported, manifest, online, silent_hub, monkeypatch):
    monkeypatch.setenv("WNLB_ZOO_HUB_TIMEOUT", "1")
    error = failure_within(DEADLINE_S, lambda: create(exported.record.name))
    assert isinstance(error, PretrainedWeightsNotFound)
    message = str(error)
    assert f"the hub at {silent_hub} cannot be reached (no answer within 1 s, WNLB_ZOO_HUB_TIMEOUT)" in message
    assert "pretrained_cfg_overlay=dict(file=" in message
    assert f"hf download {exported.record.repo_id}" in message


def test_a_hub_that_answers_with_an_error_says_so(exported, manifest, online, refusing_hub):
    error = failure_within(DEADLINE_S, lambda: create(exported.record.name))
    assert isinstance(error, PretrainedWeightsNotFound)
    assert "refused the file (RepositoryNotFoundError" in str(error)


def test_offline_mode_is_read_when_the_weights_are_looked_for(exported, manifest, online, silent_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PretrainedWeightsNotFound, match="HF_HUB_OFFLINE is set"):
        create(exported.record.name)


@pytest.mark.parametrize("value", ["abc", "0", "-2", "nan"])
def test_a_bad_hub_timeout_is_an_error_naming_the_variable(exported, manifest, online, monkeypatch, value):
    monkeypatch.setenv("WNLB_ZOO_HUB_TIMEOUT", value)
    with pytest.raises(ValueError, match=f"WNLB_ZOO_HUB_TIMEOUT='{value}' is not a number of seconds"):
        create(exported.record.name)
