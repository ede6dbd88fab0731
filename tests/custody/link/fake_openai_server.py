"""A small real HTTP server speaking the OpenAI-compatible streaming chat completions protocol.

POST /v1/chat/completions with {"stream": true}: answers "You asked: <last user message>" as
server-sent events, a few characters per event, then `data: [DONE]`. `mode` makes it fail:
"http500", "garbage", "cut" (closes mid-stream). `numbered` puts the request's number in front,
so the same question never gets the same answer twice (as with a real model).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    def __init__(self, piece: int = 7) -> None:
        self.piece = piece
        self.mode = "ok"
        self.numbered = False
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                if self.path != "/v1/chat/completions" or outer.mode == "http500":
                    self.send_response(500 if outer.mode == "http500" else 404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                text = "You asked: " + body["messages"][-1]["content"]
                if outer.numbered:
                    text = f"[{len(outer.requests)}] {text}"
                for i in range(0, len(text), outer.piece):
                    if outer.mode == "cut" and i > len(text) // 2:
                        self.wfile.flush()
                        return
                    event = {
                        "id": "x",
                        "object": "chat.completion.chunk",
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"content": text[i : i + outer.piece]},
                                "finish_reason": None,
                            }
                        ],
                    }
                    if outer.mode == "garbage":
                        self.wfile.write(b"data: {not json\n\n")
                        return
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    import sys
    import time

    with FakeOpenAI() as srv:
        print(srv.url, flush=True)
        if len(sys.argv) > 1:
            srv.mode = sys.argv[1]
        while True:
            time.sleep(3600)
