"""`replay:FILE.jsonl`: score outputs produced elsewhere (a paper's published
generations, another harness's logs) with our scorers.

One JSON object a line: {"id": ..., "output": "..."} and optionally "task"
(to hold several tasks in one file) and "outputs" (a list, for tasks that make
several generation requests per sample). A sample missing from the file
becomes an error sample, not a crash.
"""

from __future__ import annotations

from harness.api import GenerateRequest, Generation, HarnessError, ModelAdapter, RequestContext
from harness.io import read_jsonl
from harness.registry import register_model


@register_model
class ReplayAdapter(ModelAdapter):
    name = "replay"
    description = "Recorded outputs from a JSONL file of {id, output[, task]} lines."
    capabilities = frozenset({"generate", "images", "structured_output"})
    answers_depend_on_context = True

    def __init__(self, target: str, args=None):
        super().__init__(target, args)
        if not target:
            raise HarnessError("replay needs a file: --model replay:PATH.jsonl")
        self.outputs: dict[tuple[str | None, str], list] = {}
        for n, row in enumerate(read_jsonl(target), 1):
            if "id" not in row or ("output" not in row and "outputs" not in row):
                raise HarnessError(f"replay file {target} line {n} lacks 'id' or 'output'; each line needs both")
            outs = row["outputs"] if "outputs" in row else [row["output"]]
            if not isinstance(outs, list) or not all(o is None or isinstance(o, str) for o in outs):
                raise HarnessError(f"replay file {target} line {n}: 'output' must be a string (or 'outputs' a list of strings)")
            key = (row.get("task"), str(row["id"]))
            if key in self.outputs:
                raise HarnessError(f"replay file {target} line {n}: id '{row['id']}' appears twice; keep one line per sample")
            self.outputs[key] = outs

    def fingerprint(self) -> str:
        from harness.fingerprint import sha256_of

        return f"replay:{sha256_of(sorted((str(k), v) for k, v in self.outputs.items()))}"

    def _lookup(self, ctx: RequestContext) -> Generation:
        outs = self.outputs.get((ctx.task, ctx.sample_id)) or self.outputs.get((None, ctx.sample_id))
        if outs is None:
            return Generation(
                text=None, error=f"no output for sample '{ctx.sample_id}' of task '{ctx.task}' in {self.target}", permanent=True
            )
        if ctx.index >= len(outs):
            return Generation(
                text=None, error=f"replay holds {len(outs)} output(s) for '{ctx.sample_id}', request {ctx.index + 1} asked", permanent=True
            )
        if outs[ctx.index] is None:
            return Generation(text=None, error=f"replay output for '{ctx.sample_id}' is null", permanent=True)
        return Generation(text=outs[ctx.index], finish_reason="replay")

    def generate(self, requests: list[GenerateRequest], contexts: list[RequestContext]) -> list[Generation]:
        return [self._lookup(c) for c in contexts]
