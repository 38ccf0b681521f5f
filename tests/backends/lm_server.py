"""A small, real OpenAI-compatible server over a local transformers model, for the tests.

Run as its own process (``python -m tests.backends.lm_server --model DIR``); it prints
``listening on http://127.0.0.1:PORT/v1`` when ready. It answers what vLLM answers where
the tests need it:

- ``GET /v1/models``;
- ``POST /v1/completions`` with ``echo`` + ``logprobs`` + ``max_tokens: 0`` (a prompt
  string or a list of them): each prompt is tokenised whole, with the tokenizer's special
  tokens (as vLLM does), and every token gets its log-probability given the tokens before
  it (the first one ``None``), the decoded token text, and the top-``logprobs`` tokens
  plus the prompt's own token in ``top_logprobs``; ``text_offset`` is the running length
  of the decoded tokens;
- ``POST /v1/completions`` and ``/v1/chat/completions`` with ``max_tokens > 0``: greedy
  generation (the chat one through the tokenizer's chat template), streamed as server-sent
  events when ``stream`` is true, with a ``finish_reason`` and ``[DONE]``.

It shares no code with :mod:`arena.backends`: the scores come straight from the model's
forward pass, so comparing the openai backend's log-likelihoods with the transformers
backend's tests the HTTP path (tokenisation at the boundary, BOS, whitespace) end to end.
Requests are served one at a time (a lock around the model).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a Hugging Face model folder")
    parser.add_argument("--served-model-name", default="local")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(args.model, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        args.model, local_files_only=True, dtype=torch.float32
    )
    model.eval()  # type: ignore[no-untyped-call]
    lock = threading.Lock()

    def piece(token_id: int) -> str:
        return str(tokenizer.decode([token_id]))

    def echo(prompt: str, top_n: int) -> dict[str, Any]:
        ids: list[int] = tokenizer(prompt)["input_ids"]
        tokens = [piece(t) for t in ids]
        lps: list[float | None] = [None] if ids else []
        tops: list[dict[str, float] | None] = [None] if ids else []
        if len(ids) > 1:
            with lock, torch.inference_mode():
                logits = model(input_ids=torch.tensor([ids])).logits[0].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            for pos in range(1, len(ids)):
                row = logprobs[pos - 1]
                lps.append(float(row[ids[pos]]))
                best = torch.topk(row, max(1, top_n))
                pairs = zip(best.values, best.indices, strict=True)
                top = {piece(int(i)): float(v) for v, i in pairs}
                top[tokens[pos]] = float(row[ids[pos]])
                tops.append(top)
        offsets, pos_chars = [], 0
        for t in tokens:
            offsets.append(pos_chars)
            pos_chars += len(t)
        return {
            "text": "".join(tokens),
            "logprobs": {
                "tokens": tokens,
                "token_logprobs": lps,
                "top_logprobs": tops,
                "text_offset": offsets,
            },
            "finish_reason": "length",
        }

    def generate(ids: list[int], max_tokens: int) -> list[str]:
        with lock, torch.inference_mode():
            out = model.generate(
                torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=tokenizer.eos_token_id,
            )
        new = [int(t) for t in out[0, len(ids) :]]
        if new and new[-1] == tokenizer.eos_token_id:
            new = new[:-1]
        pieces, shown = [], ""
        for n in range(1, len(new) + 1):  # incremental decoding, as a streaming server does
            text = str(tokenizer.decode(new[:n]))
            if not text.endswith("\ufffd"):
                pieces.append(text[len(shown) :])
                shown = text
        return [p for p in pieces if p]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def _json(self, obj: Any, status: int = 200) -> None:
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._json({"object": "list", "data": [{"id": args.served_model_name}]})
            else:
                self._json({"error": {"message": f"no route {self.path}"}}, 404)

        def do_POST(self) -> None:
            try:
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            except ValueError:
                self._json({"error": {"message": "malformed JSON"}}, 400)
                return
            if req.get("model") != args.served_model_name:
                self._json({"error": {"message": f"model {req.get('model')!r} not found"}}, 404)
                return
            max_tokens = int(req.get("max_tokens") or 16)
            if self.path == "/v1/completions":
                prompts = req["prompt"] if isinstance(req["prompt"], list) else [req["prompt"]]
                if req.get("echo"):
                    if req.get("max_tokens") != 0:
                        self._json({"error": {"message": "echo needs max_tokens 0 here"}}, 400)
                        return
                    top_n = int(req.get("logprobs") or 1)
                    choices = [{"index": i, **echo(p, top_n)} for i, p in enumerate(prompts)]
                    self._json({"object": "text_completion", "choices": choices})
                    return
                ids = tokenizer(prompts[0])["input_ids"]
                self._answer(generate(ids, max_tokens), bool(req.get("stream")), chat=False)
            elif self.path == "/v1/chat/completions":
                encoded: Any = tokenizer.apply_chat_template(
                    req["messages"], add_generation_prompt=True, tokenize=True
                )
                if not isinstance(encoded, list):  # a BatchEncoding in newer transformers
                    encoded = list(encoded["input_ids"])
                self._answer(generate(encoded, max_tokens), bool(req.get("stream")), chat=True)
            else:
                self._json({"error": {"message": f"no route {self.path}"}}, 404)

        def _answer(self, pieces: list[str], stream: bool, *, chat: bool) -> None:
            def choice(text: str, reason: str | None) -> dict[str, Any]:
                part = {"delta": {"content": text}} if chat else {"text": text}
                return {"index": 0, **part, "finish_reason": reason}

            if not stream:
                text = "".join(pieces)
                part = {"message": {"role": "assistant", "content": text}} if chat else {}
                body = {"index": 0, "text": text, **part, "finish_reason": "stop"}
                self._json({"choices": [body]})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for p in pieces:
                self.wfile.write(f"data: {json.dumps({'choices': [choice(p, None)]})}\n\n".encode())
            self.wfile.write(f"data: {json.dumps({'choices': [choice('', 'stop')]})}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def log_message(self, format: str, *a: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    httpd.daemon_threads = True
    print(f"listening on http://127.0.0.1:{httpd.server_address[1]}/v1", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        httpd.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
