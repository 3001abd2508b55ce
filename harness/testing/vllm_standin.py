"""A stand-in for the `vllm` executable, for tests of the `vllm:` adapter without vLLM.

`vllm serve MODEL --port P [--served-model-name N] ...` serves the loopback
OpenAI-compatible server (harness.testing.openai_server, with vLLM's
`/health` route) on 127.0.0.1:P until SIGTERM. It appends what happened to the
file named by $HARNESS_VLLM_STANDIN_LOG (one JSON object per line: its argv and
pid on start, "ready", "stopped by SIGTERM"), waits
$HARNESS_VLLM_STANDIN_DELAY_S seconds before serving (a model loading), and
exits with status 1 at once when MODEL is `broken` (a failed start).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

from harness.testing.openai_server import LoopbackOpenAIServer


def _note(**event) -> None:
    path = os.environ.get("HARNESS_VLLM_STANDIN_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"pid": os.getpid(), **event}) + "\n")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="vllm")
    p.add_argument("command", choices=["serve"])
    p.add_argument("model")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--served-model-name", default=None)
    known, _ = p.parse_known_args(argv)
    _note(argv=argv)
    if known.model == "broken":
        print("ValueError: no model named 'broken'", flush=True)
        sys.exit(1)
    time.sleep(float(os.environ.get("HARNESS_VLLM_STANDIN_DELAY_S", "0")))
    server = LoopbackOpenAIServer(models=(known.served_model_name or known.model,), port=known.port)

    def stop(signum, frame) -> None:
        _note(event="stopped by SIGTERM")
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    _note(event="ready")
    print(f"serving {known.model} on {server.base_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
