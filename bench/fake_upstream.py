"""A fake image upstream speaking both wire contracts Pixdash calls (docs/API.md §2, §3).

    python bench/fake_upstream.py --port 8765 [--latency 2 --jitter 0.5 --fail-rate 0.1]

A real HTTP/1.1 server (stdlib ThreadingHTTPServer, keep-alive) for end-to-end tests and
benchmarks: nothing here may ever call a real provider.

Endpoints
    POST /v1beta/models/{model}:generateContent     Gemini REST, key in x-goog-api-key
    POST /v1/images/generations                     OpenAI JSON, Authorization: Bearer
    POST /v1/images/edits                           OpenAI multipart (image[] / image, mask)
    GET  /files/{name}.png                          result URLs (models named dall-e*)
    GET  /health                                    "ok"; GET /stats → request counters

Answers are real PNGs (Pillow) of the size asked for: Gemini's ~1 MP size for the
aspectRatio (or --gemini-scale times it), OpenAI's ``size``. DALL-E-style models answer a
URL unless ``response_format`` is b64_json; gpt-image models refuse ``response_format``.

Failure knobs, server-wide (CLI flags)
    --key KEY          the only accepted key (default "test-key"); any other gets Gemini's
                       400 API_KEY_INVALID or OpenAI's 401 invalid_api_key
    --latency S        seconds before answering (default 0), plus uniform(0, --jitter)
    --fail-rate P      that fraction of calls answers 503
    --rate-limit-rate P  that fraction answers 429 with Retry-After: 0

Failure knobs, per request: markers in the prompt
    [[block]]          safety block: Gemini promptFeedback.blockReason=SAFETY (and
                       [[block-finish]] → finishReason IMAGE_SAFETY); OpenAI 400
                       moderation_blocked
    [[noimage]]        Gemini: text only, finishReason STOP; OpenAI: 400 bad request
    [[fail]] / [[429]] every call answers 500 / 429
    [[fail-once]]      the first call with this exact prompt answers 503, later ones work
    [[fail-every=N]]   every Nth call with this exact prompt fails like [[noimage]]
                       (n=4 with N=4 → exactly one of the four images fails)
    [[hang]]           never answers (until --hang seconds, default 600)
    [[sleep=S]]        this call waits S seconds
    [[px=N]]           the image is N×N pixels whatever size was asked (benchmarks: small)
    [[bytes=N]]        the image is a PNG of about N bytes (incompressible noise rows), so a
                       benchmark can ask for a 1.5 MB answer

GET /stats counts answers by status and accepted TCP connections ("connections"), so a
benchmark can tell how many new connections a gateway opened.
"""

import argparse
import base64
import functools
import io
import itertools
import json
import random
import re
import sys
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

GEMINI_SIZES = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
SAFETY_MARK = "[[block]]"


@functools.lru_cache(maxsize=64)
def png(width: int, height: int, shade: int = 0) -> bytes:
    """A real PNG, cached per size: the fake must not be the bottleneck of a benchmark."""
    image = Image.new("RGB", (width, height), (40 + shade % 200, 110, 180))
    for x in range(0, width, max(1, width // 8)):
        image.paste((230, 200, 60), (x, 0, min(width, x + max(1, width // 32)), height))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


@functools.lru_cache(maxsize=16)
def heavy_png(width: int, height: int, target_bytes: int) -> bytes:
    """A PNG of about ``target_bytes``: random rows (which do not compress) over a flat
    picture, as many as the target needs; cached, like png()."""
    image = Image.new("RGB", (width, height), (40, 110, 180))
    rows = min(height, max(1, -(-target_bytes // (3 * width))))
    image.paste(Image.frombytes("RGB", (width, rows), random.randbytes(3 * width * rows)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def answer_png(prompt: str, width: int, height: int, shade: int) -> bytes:
    """The picture for a call: the size asked, unless a [[px=N]] or [[bytes=N]] marker in
    the prompt says otherwise."""
    px = re.search(r"\[\[px=(\d{1,4})\]\]", prompt)
    if px:
        width = height = max(1, int(px.group(1)))
    weight = re.search(r"\[\[bytes=(\d{1,9})\]\]", prompt)
    if weight:
        return heavy_png(width, height, int(weight.group(1)))
    return png(width, height, shade)


@functools.lru_cache(maxsize=16)
def b64(data: bytes) -> str:
    """Base64 of a cached picture, cached too: the fake must not be the bottleneck."""
    return base64.b64encode(data).decode()


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.per_prompt: dict[str, int] = {}
        self.files: dict[str, bytes] = {}
        self.ids = itertools.count(1)
        self.counts: dict[str, int] = {}

    def seen(self, prompt: str) -> int:
        """How many calls (this one included) carried exactly this prompt."""
        with self.lock:
            self.per_prompt[prompt] = self.per_prompt.get(prompt, 0) + 1
            return self.per_prompt[prompt]

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1


class Failure(Exception):
    def __init__(self, kind: str):
        self.kind = kind  # "block", "noimage", "fail", "429", "503"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeUpstream/1"
    # TCP_NODELAY on every accepted connection (StreamRequestHandler.setup): without it a
    # keep-alive answer can sit in Nagle's buffer until the client's delayed ACK.
    disable_nagle_algorithm = True
    state: State

    def setup(self):
        super().setup()
        self.state.count("connections")

    def log_message(self, format, *args):  # noqa: A002 - quiet: benchmarks make thousands
        if self.state.args.verbose:
            super().log_message(format, *args)

    # --- plumbing ---------------------------------------------------------------------

    def _send(self, status: int, body, content_type="application/json", headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        request_id = f"fake-{next(self.state.ids)}"
        self.send_header("x-request-id", request_id)
        self.send_header("x-goog-request-id", request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        # Headers and body leave in ONE write (end_headers would flush the headers on
        # their own): two writes on a keep-alive connection make the second wait for
        # the client's delayed ACK, ~40 ms per answer, unless Nagle is off as well.
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(data)
        self.flush_headers()
        self.state.count(str(status))

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _wait(self, prompt: str) -> None:
        args = self.state.args
        if "[[hang]]" in prompt:
            time.sleep(args.hang)
        match = re.search(r"\[\[sleep=([\d.]+)\]\]", prompt)
        delay = float(match.group(1)) if match else args.latency + random.uniform(0, args.jitter)
        if delay > 0:
            time.sleep(delay)

    def _failure(self, prompt: str) -> None:
        args = self.state.args
        count = self.state.seen(prompt)
        if SAFETY_MARK in prompt or "[[block-finish]]" in prompt:
            raise Failure("block")
        if "[[noimage]]" in prompt:
            raise Failure("noimage")
        if "[[fail]]" in prompt:
            raise Failure("fail")
        if "[[429]]" in prompt:
            raise Failure("429")
        if "[[fail-once]]" in prompt and count == 1:
            raise Failure("503")
        every = re.search(r"\[\[fail-every=(\d+)\]\]", prompt)
        if every and count % int(every.group(1)) == 0:
            raise Failure("noimage")
        roll = random.random()
        if roll < args.fail_rate:
            raise Failure("503")
        if roll < args.fail_rate + args.rate_limit_rate:
            raise Failure("429")

    # --- routes -----------------------------------------------------------------------

    def do_GET(self):
        if self.path == "/health":
            return self._send(200, b"ok", "text/plain")
        if self.path == "/stats":
            return self._send(200, self.state.counts)
        match = re.fullmatch(r"/files/(\w+)\.png", self.path)
        if match and match.group(1) in self.state.files:
            return self._send(200, self.state.files[match.group(1)], "image/png")
        return self._send(404, {"error": {"message": "not found"}})

    def do_POST(self):
        body = self._body()
        gemini = re.fullmatch(r"/v1beta/models/([\w.\-]+):generateContent", self.path)
        if gemini:
            return self._gemini(gemini.group(1), body)
        path = self.path.removeprefix("/v1")
        if path == "/images/generations":
            try:
                fields = json.loads(body or b"{}")
            except ValueError:
                return self._openai_error(400, "invalid_json", "Body is not JSON.")
            return self._openai(fields, edits=0)
        if path == "/images/edits":
            fields, files = _multipart(self.headers.get("Content-Type", ""), body)
            images = [f for name, f in files if name in ("image", "image[]")]
            if not images:
                return self._openai_error(400, "missing_image", "image is required.")
            return self._openai(fields, edits=len(images))
        return self._send(404, {"error": {"message": f"no route {self.path}"}})

    # --- Gemini -----------------------------------------------------------------------

    def _gemini(self, model: str, body: bytes):
        self.state.count("gemini")
        if self.headers.get("x-goog-api-key") != self.state.args.key or "key=" in self.path:
            return self._send(
                400,
                _google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "API key not valid. Please pass a valid API key.",
                    "API_KEY_INVALID",
                ),
            )  # noqa: E501
        try:
            request = json.loads(body)
            parts = request["contents"][0]["parts"]
            prompt = next(p["text"] for p in parts if "text" in p)
            ratio = request["generationConfig"]["imageConfig"].get("aspectRatio", "1:1")
        except (ValueError, KeyError, IndexError, StopIteration, TypeError):
            return self._send(400, _google_error(400, "INVALID_ARGUMENT", "Bad request body."))
        if ratio not in GEMINI_SIZES:
            return self._send(400, _google_error(400, "INVALID_ARGUMENT", "Bad aspectRatio."))
        for part in parts:
            if "inline_data" in part:
                base64.b64decode(part["inline_data"]["data"], validate=True)
        self._wait(prompt)
        try:
            self._failure(prompt)
        except Failure as failure:
            return self._gemini_failure(failure.kind, prompt)
        width, height = GEMINI_SIZES[ratio]
        scale = self.state.args.gemini_scale
        data = answer_png(
            prompt, max(1, round(width * scale)), max(1, round(height * scale)), len(prompt)
        )
        answer = {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "Thinking about it…", "thought": True},
                            {"text": "Here is your image."},
                            {
                                "inlineData": {
                                    "mimeType": "image/png",
                                    "data": b64(data),
                                }
                            },
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "modelVersion": model,
            "responseId": f"resp-{next(self.state.ids)}",
        }
        return self._send(200, answer)

    def _gemini_failure(self, kind: str, prompt: str):
        if kind == "block" and "[[block-finish]]" in prompt:
            return self._send(200, {"candidates": [{"finishReason": "IMAGE_SAFETY"}]})
        if kind == "block":
            return self._send(200, {"promptFeedback": {"blockReason": "SAFETY"}})
        if kind == "noimage":
            text = {"text": "I can only describe it: a quiet picture."}
            return self._send(
                200, {"candidates": [{"content": {"parts": [text]}, "finishReason": "STOP"}]}
            )
        if kind == "429":
            error = _google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.")
            return self._send(429, error, headers={"Retry-After": "0"})
        status = 500 if kind == "fail" else 503
        return self._send(status, _google_error(status, "UNAVAILABLE", "Overloaded."))

    # --- OpenAI -----------------------------------------------------------------------

    def _openai_error(self, status: int, code: str, message: str, headers=None):
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
        return self._send(status, {"error": error}, headers=headers)

    def _openai(self, fields: dict, *, edits: int):
        self.state.count("openai")
        if self.headers.get("Authorization") != f"Bearer {self.state.args.key}":
            return self._openai_error(401, "invalid_api_key", "Incorrect API key provided.")
        model = str(fields.get("model") or "")
        prompt = str(fields.get("prompt") or "")
        if not model or not prompt:
            return self._openai_error(400, "missing_field", "model and prompt are required.")
        gpt_image = model.startswith("gpt-image")
        if gpt_image and "response_format" in fields:
            return self._openai_error(
                400, "unknown_parameter", "Unknown parameter: 'response_format'."
            )  # noqa: E501
        if str(fields.get("n", 1)) != "1":
            return self._openai_error(400, "invalid_value", "This fake makes one image per call.")
        size = re.fullmatch(r"(\d{2,4})x(\d{2,4})", str(fields.get("size") or "1024x1024"))
        if not size:
            return self._openai_error(400, "invalid_value", "Invalid size.")
        self._wait(prompt)
        try:
            self._failure(prompt)
        except Failure as failure:
            if failure.kind == "block":
                return self._openai_error(
                    400, "moderation_blocked", "Rejected by the safety system."
                )  # noqa: E501
            if failure.kind == "noimage":
                return self._openai_error(400, "invalid_value", "Could not make this image.")
            if failure.kind == "429":
                return self._openai_error(
                    429, "rate_limit_exceeded", "Slow down.", {"Retry-After": "0"}
                )  # noqa: E501
            status = 500 if failure.kind == "fail" else 503
            return self._openai_error(status, "server_error", "The server had an error.")
        data = answer_png(prompt, int(size.group(1)), int(size.group(2)), len(prompt) + edits)
        item: dict = {"revised_prompt": prompt if not gpt_image else None}
        if gpt_image or fields.get("response_format") == "b64_json":
            item["b64_json"] = b64(data)
        else:
            name = f"f{next(self.state.ids)}"
            self.state.files[name] = data
            host = self.headers.get("Host", "127.0.0.1")
            item["url"] = f"http://{host}/files/{name}.png"
        return self._send(200, {"created": int(time.time()), "data": [item]})


def _google_error(code: int, status: str, message: str, reason: str = "") -> dict:
    details = []
    if reason:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        )
    return {"error": {"code": code, "message": message, "status": status, "details": details}}


def _multipart(content_type: str, body: bytes) -> tuple[dict, list]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields, files = {}, []
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files.append((name, payload))
        else:
            fields[name] = payload.decode()
    return fields, files


def bound_handler(args) -> type[Handler]:
    return type("BoundHandler", (Handler,), {"state": State(args)})


def make_server(args) -> ThreadingHTTPServer:
    handler = bound_handler(args)
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer((args.host, args.port), handler)
    server.daemon_threads = True
    return server


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--key", default="test-key")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--rate-limit-rate", type=float, default=0.0)
    parser.add_argument("--hang", type=float, default=600.0)
    parser.add_argument("--gemini-scale", type=float, default=1.0)
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    server = make_server(args)
    print(f"fake upstream listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
