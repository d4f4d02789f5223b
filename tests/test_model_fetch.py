"""`fvcli model fetch` runs tensorflow_hub's real download code against a local server."""

import http.server
import io
import os
import tarfile
import threading

import pytest

from support.helpers import run
from fvcli.config.model_names import DEMO_MODEL_DIR
from support.slim_inception import hub_cache_folder

pytestmark = pytest.mark.slow  # builds and serves a model


@pytest.fixture
def model_server():
    """Serves the demo SavedModel as the tar.gz TF-Hub sends for ?tf-hub-format=compressed."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for entry in os.listdir(DEMO_MODEL_DIR):
            tar.add(os.path.join(DEMO_MODEL_DIR, entry), arcname=entry)
    payload = archive.getvalue()
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-tar")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/models/demo/1", requests
    server.shutdown()


def test_fetch_downloads_into_the_cache_and_later_loads_need_no_server(
        model_server, tmp_path, monkeypatch):
    handle, requests = model_server
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    fetched = run("model", "fetch", handle)
    assert fetched.exit_code == 0, fetched.output
    folder = hub_cache_folder(str(tmp_path), handle)
    assert fetched.output.strip() == folder
    assert os.path.isfile(os.path.join(folder, "saved_model.pb"))
    assert requests == ["/models/demo/1?tf-hub-format=compressed"]
    listed = run("layers", "--model", handle)
    assert listed.exit_code == 0, listed.output
    assert "conv3" in listed.output
    assert len(requests) == 1  # served from the cache
