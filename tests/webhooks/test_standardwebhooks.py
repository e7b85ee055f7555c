"""Tessera's webhook deliveries, verified by the Standard Webhooks library.

A real `tessera serve` (webhooks to loopback allowed, as only a test may)
delivers to a receiver in this process; the `standardwebhooks` reference
library checks every delivery's signature with the secret Tessera showed
once, as a product's receiver would. Then a forged body and a replayed
signature are refused by the same library.

Usage: python3 tests/webhooks/test_standardwebhooks.py [path/to/tessera]
Exit 0 when every check passed.
"""

import json
import queue
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from tessera_server import Server, binary  # noqa: E402

RECEIVED: "queue.Queue[tuple[bytes, dict[str, str]]]" = queue.Queue()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        RECEIVED.put((body, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def api(server: Server, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {server.owner}"}
    return requests.request(method, f"{server.url}/api/v1{path}", headers=headers, timeout=10, **kwargs)


def next_delivery(kind: str) -> tuple[bytes, dict[str, str]]:
    """The next delivery of event type `kind` (others are skipped)."""
    while True:
        body, headers = RECEIVED.get(timeout=60)
        if json.loads(body)["type"] == kind:
            return body, headers


def main() -> None:
    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(binary(), Path(tmp), {"TESSERA_WEBHOOK_ALLOW_PRIVATE": "true"})
        try:
            check(server, f"http://127.0.0.1:{receiver.server_address[1]}/hook")
        finally:
            server.stop()
            receiver.shutdown()
    print("webhooks verified by standardwebhooks: all checks passed")


def check(server: Server, url: str) -> None:
    created = api(server, "POST", "/webhooks", json={"url": url, "events": ["*"], "description": "test"})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("whsec_"), created.json()
    webhook_id = created.json()["id"]
    shown = api(server, "GET", f"/webhooks/{webhook_id}")
    assert "secret" not in shown.json(), "the secret is shown once"
    verifier = Webhook(secret)

    # The ping, then a real event: each verifies with the reference library.
    assert api(server, "POST", f"/webhooks/{webhook_id}/ping").status_code in (200, 202, 204)
    body, headers = next_delivery("webhook.ping")
    verifier.verify(body, headers)

    token = api(server, "POST", "/tokens", json={"name": "deploy"})
    assert token.status_code == 201, token.text
    body, headers = next_delivery("token.created")
    event = verifier.verify(body, headers)
    assert event["type"] == "token.created"
    assert event["data"]["token_id"] == token.json()["id"], event
    assert event["data"]["name"] == "deploy", event
    assert token.json()["token"] not in body.decode(), "no token value in an event"
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert name in headers, headers

    # What the library refuses: another body under this signature, another
    # secret, a signature replayed with another message id.
    forged = body.replace(b"deploy", b"deplox")
    for data, hdrs, key in (
        (forged, headers, secret),
        (body, headers, "whsec_" + "QUJD" * 8),
        (body, {**headers, "webhook-id": "msg_other"}, secret),
    ):
        try:
            Webhook(key).verify(data, hdrs)
        except WebhookVerificationError:
            continue
        raise AssertionError("a forged delivery verified")


if __name__ == "__main__":
    main()
