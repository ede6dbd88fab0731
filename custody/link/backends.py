"""AI backends the facility gateway calls: `echo` (practice) and `openai` (any server speaking
the OpenAI-compatible `/v1/chat/completions` API with `stream: true`: vLLM, llama.cpp server,
Ollama).

A backend turns one question into an iterator of text pieces. Failures are `BackendError`s with
a message a facility operator can act on; the gateway turns them into ERROR frames. Messages
never include the question or the answer (plaintext stays out of logs and errors).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from custody.errors import BackendError, UsageError

DEFAULT_TIMEOUT = 120.0


class Backend(Protocol):
    name: str

    def stream(self, question: str, *, classification: str | None = None) -> Iterator[str]: ...


@dataclass
class EchoBackend:
    """Answers with the question itself, in pieces (practice and tests).

    `delay` seconds between pieces makes it a slow backend (kill tests).
    """

    piece: int = 4096
    delay: float = 0.0
    name: str = "echo"

    @property
    def inline(self) -> bool:
        """True when an answer never waits: the gateway may run it on its frame worker."""
        return self.delay == 0

    def stream(self, question: str, *, classification: str | None = None) -> Iterator[str]:
        if not question:
            yield ""
            return
        for i in range(0, len(question), self.piece):
            if self.delay and i:
                time.sleep(self.delay)
            yield question[i : i + self.piece]


class OpenAIBackend:
    """Streams `choices[0].delta.content` from an OpenAI-compatible chat completions server."""

    name = "openai"

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        system_prompt: str | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise UsageError(f"--openai-url must be an http(s) URL, not {url[:80]!r}")
        if not model:
            raise UsageError("the openai backend needs --model")
        self.scheme = parsed.scheme
        self.host = parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        path = parsed.path.rstrip("/")
        if not path.endswith("/chat/completions"):
            path = (path if path.endswith("/v1") else path + "/v1") + "/chat/completions"
        self.path = path
        self.model = model
        self.timeout = timeout
        self.system_prompt = system_prompt
        self._api_key = api_key if api_key is not None else os.environ.get("REDDOOR_OPENAI_KEY")

    @property
    def where(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def stream(self, question: str, *, classification: str | None = None) -> Iterator[str]:
        messages = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append({"role": "user", "content": question})
        body = json.dumps({"model": self.model, "messages": messages, "stream": True}).encode()
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        conn_cls = (
            http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_cls(self.host, self.port, timeout=self.timeout)
        try:
            try:
                conn.request("POST", self.path, body=body, headers=headers)
                resp = conn.getresponse()
            except (ConnectionError, socket.gaierror, OSError) as exc:
                if isinstance(exc, TimeoutError):
                    raise BackendError(
                        f"AI backend at {self.where} did not respond within {self.timeout:g} s"
                    ) from None
                raise BackendError(f"AI backend at {self.where} is not reachable") from None
            if resp.status != 200:
                raise BackendError(
                    f"AI backend at {self.where} answered HTTP {resp.status} {resp.reason[:60]}"
                )
            yield from self._read_sse(resp)
        finally:
            conn.close()

    def _read_sse(self, resp: http.client.HTTPResponse) -> Iterator[str]:
        done = False
        while True:
            try:
                raw = resp.readline()
            except TimeoutError:
                raise BackendError(
                    f"AI backend at {self.where} stalled for more than {self.timeout:g} s"
                ) from None
            except (OSError, http.client.HTTPException):
                raise BackendError(f"AI backend at {self.where} dropped the connection") from None
            if not raw:
                break
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue  # comments, event names, blank separators
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                break
            try:
                event = json.loads(data)
            except ValueError:
                raise BackendError(f"AI backend at {self.where} sent a malformed stream") from None
            if isinstance(event, dict) and "error" in event:
                raise BackendError(f"AI backend at {self.where} reported an error mid-answer")
            try:
                choice = event["choices"][0]
                text = (choice.get("delta") or {}).get("content")
            except (KeyError, IndexError, TypeError, AttributeError):
                raise BackendError(f"AI backend at {self.where} sent a malformed stream") from None
            if text:
                yield str(text)
            if choice.get("finish_reason"):
                done = True
        if not done:
            raise BackendError(f"AI backend at {self.where} ended the stream early")


def make_backend(
    kind: str,
    *,
    url: str | None = None,
    model: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    echo_delay: float = 0.0,
) -> Backend:
    if kind == "echo":
        return EchoBackend(delay=echo_delay)
    if kind == "openai":
        if not url:
            raise UsageError("the openai backend needs --openai-url")
        return OpenAIBackend(url, model or "", timeout=timeout)
    raise UsageError(f"unknown backend {kind!r} (echo or openai)")
