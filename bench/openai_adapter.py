"""Throughput and fault tolerance of the openai: adapter against the loopback server.

The server runs in its own process (so it does not share the client's GIL)
and answers every request after a fixed latency. Printed side by side, from
one run:

1. achieved requests/s at a given concurrency for the harness adapter, the
   official `openai` SDK (AsyncOpenAI, max_retries=0) and lm-eval's
   `local-chat-completions` at the same num_concurrent, each as a ratio of
   the ideal concurrency / latency (32 / 0.1 s = 320 req/s);
2. with a fraction of responses failing (half 429 with Retry-After: 0, half
   500), whether every request was still answered exactly once.

Run: python bench/openai_adapter.py [--requests 640 --concurrency 32 --latency-ms 100 --fault-rate 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

from harness.adapters.openai_api import Args, OpenAIAdapter
from harness.api import GenerateRequest, RequestContext


@contextlib.contextmanager
def loopback_server(latency_ms: float, rates: dict[str, float] | None = None, seed: int = 0):
    """The loopback server in a child process; yields its base URL."""
    cmd = [sys.executable, "-m", "harness.testing.openai_server", "--latency-ms", str(latency_ms), "--seed", str(seed)]
    for kind, rate in (rates or {}).items():
        cmd += [f"--rate-{kind}", str(rate)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Timer:
    """Wall-clock and this process's CPU time (the client's; the server is another process)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def server_stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/stats", timeout=10) as r:
        return json.loads(r.read())


def prompts(n: int, tag: str) -> list[str]:
    return [f"{tag} request {i}: say something" for i in range(n)]


def run_harness(base_url: str, texts: list[str], concurrency: int, **args) -> tuple[Timer, list, dict]:
    model = OpenAIAdapter("mock", Args(base_url=base_url, concurrency=concurrency, **args))
    try:
        warm = [GenerateRequest(f"warm-up {i}", max_tokens=16) for i in range(concurrency)]
        model.generate(warm, [RequestContext("bench", str(i), 0) for i in range(len(warm))])
        reqs = [GenerateRequest(t, max_tokens=16) for t in texts]
        with Timer() as timer:
            outs = model.generate(reqs, [RequestContext("bench", str(i), 0) for i in range(len(reqs))])
        return timer, outs, dict(model.stats)
    finally:
        model.close()


def run_sdk(base_url: str, texts: list[str], concurrency: int) -> Timer:
    from openai import AsyncOpenAI

    async def main() -> Timer:
        client = AsyncOpenAI(base_url=base_url, api_key="sk-local", max_retries=0)
        gate = asyncio.Semaphore(concurrency)

        async def one(text: str):
            async with gate:
                r = await client.chat.completions.create(model="mock", messages=[{"role": "user", "content": text}], max_tokens=16)
                return r.choices[0].message.content

        await asyncio.gather(*(one(f"warm-up {i}") for i in range(concurrency)))
        with Timer() as timer:
            await asyncio.gather(*(one(t) for t in texts))
        await client.close()
        return timer

    return asyncio.run(main())


def run_bare_aiohttp(base_url: str, texts: list[str], concurrency: int) -> Timer:
    """The floor: one aiohttp POST per prompt, no retries, no validation."""
    import aiohttp

    async def main() -> Timer:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

            async def one(text: str):
                body = {"model": "mock", "messages": [{"role": "user", "content": text}], "max_tokens": 16}
                async with session.post(base_url + "/chat/completions", json=body) as r:
                    return json.loads(await r.read())["choices"][0]["message"]["content"]

            await asyncio.gather(*(one(f"warm-up {i}") for i in range(concurrency)))
            with Timer() as timer:
                await asyncio.gather(*(one(t) for t in texts))
            return timer

    return asyncio.run(main())


def run_lm_eval(base_url: str, texts: list[str], concurrency: int) -> Timer:
    import logging

    from lm_eval.api.instance import Instance
    from lm_eval.models.api_models import JsonChatStr
    from lm_eval.models.openai_completions import LocalChatCompletion

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    lm = LocalChatCompletion(
        base_url=base_url + "/chat/completions", model="mock", num_concurrent=concurrency, max_retries=3, tokenized_requests=False
    )

    def instances(items: list[str]) -> list[Instance]:
        kwargs = {"until": ["\n\n"], "max_gen_toks": 16, "do_sample": False}
        return [
            Instance("generate_until", {}, (JsonChatStr(json.dumps([{"role": "user", "content": t}])), kwargs), i)
            for i, t in enumerate(items)
        ]

    with contextlib.redirect_stderr(io.StringIO()):  # its concurrent path draws a progress bar regardless
        lm.generate_until(instances([f"warm-up {i}" for i in range(concurrency)]), disable_tqdm=True)
        with Timer() as timer:
            lm.generate_until(instances(texts), disable_tqdm=True)
        return timer


def throughput(args) -> None:
    ideal = args.concurrency / (args.latency_ms / 1000)
    print(
        f"== throughput: {args.requests} requests, concurrency {args.concurrency}, server latency {args.latency_ms:g} ms "
        f"(ideal {ideal:.0f} req/s); median of {args.repeats} interleaved runs; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    clients = {
        "harness openai: adapter": lambda url, texts: run_harness(url, texts, args.concurrency)[0],
        "bare aiohttp (no retries)": lambda url, texts: run_bare_aiohttp(url, texts, args.concurrency),
        "openai SDK AsyncOpenAI": lambda url, texts: run_sdk(url, texts, args.concurrency),
    }
    if not args.skip_lm_eval:
        clients["lm-eval local-chat-completions"] = lambda url, texts: run_lm_eval(url, texts, args.concurrency)
    timers: dict[str, list[Timer]] = {name: [] for name in clients}
    with loopback_server(args.latency_ms) as url:
        for rep in range(args.repeats):
            for name, run in clients.items():
                timers[name].append(run(url, prompts(args.requests, f"{name} {rep}")))
    print(f"{'client':32} {'req/s':>7} {'ratio to ideal':>15} {'client CPU ms/request':>22}")
    for name, ts in timers.items():
        rate = args.requests / statistics.median(t.wall for t in ts)
        cpu_ms = 1000 * statistics.median(t.cpu for t in ts) / args.requests
        print(f"{name:32} {rate:7.1f} {rate / ideal:15.3f} {cpu_ms:22.2f}")


def fault_tolerance(args) -> None:
    rates = {"429": args.fault_rate / 2, "500": args.fault_rate / 2}
    print(f"\n== faults: {args.requests} requests, {args.fault_rate:.0%} of responses fail (half 429 with Retry-After: 0, half 500)")
    with loopback_server(args.latency_ms, rates, seed=1) as url:
        timer, outs, client = run_harness(
            url, prompts(args.requests, "faulty"), args.concurrency, max_retries=8, backoff_s=0.05, max_backoff_s=1.0
        )
        stats = server_stats(url)
    errors = sum(1 for o in outs if o.error)
    wrong = sum(1 for o, t in zip(outs, prompts(args.requests, "faulty")) if o.text != t)
    measured_prompts = stats["prompts"] - args.concurrency  # the warm-up prompts are served too
    print(f"requests sent to the server     {stats['by_path'].get('/v1/chat/completions', 0)}")
    print(f"faults injected                 {stats['faults']}")
    print(f"client retries                  {client.get('retries', 0)}")
    print(f"prompts (incl. {args.concurrency} warm-up)       {stats['prompts']}")
    print(f"answered exactly once           {stats['prompts_answered_once']} / {stats['prompts']}")
    print(f"answered more than once         {stats['prompts_answered_more_than_once']}")
    print(f"error responses / wrong answers {errors} / {wrong} of {len(outs)} measured requests ({measured_prompts} prompts)")
    print(f"throughput with faults          {args.requests / timer.wall:.1f} req/s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=640)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument("--fault-rate", type=float, default=0.1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-lm-eval", action="store_true")
    args = p.parse_args()
    throughput(args)
    fault_tolerance(args)


if __name__ == "__main__":
    main()
