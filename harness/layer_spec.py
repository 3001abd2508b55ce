"""Parse layer selections such as `all`, `none`, `8-14` or `0,3,5-7` (steering methods, the spectral lens)."""

from __future__ import annotations

from harness.api import HarnessError


def parse_layers(spec: str, n_layers: int, what: str = "layers") -> tuple[int, ...]:
    """The sorted layer indices named by `spec`; negative indices count from the end."""
    text = spec.strip().lower()
    if text == "all":
        return tuple(range(n_layers))
    if text in ("none", ""):
        return ()
    chosen: set[int] = set()
    for part in text.replace(" ", "").split(","):
        lo_text, dash, hi_text = part.partition("-") if not part.startswith("-") else ("", "", "")
        try:
            if dash:
                lo, hi = int(lo_text), int(hi_text)
                if hi < lo:
                    raise ValueError
                chosen.update(range(lo, hi + 1))
            else:
                chosen.add(int(part) % n_layers if int(part) < 0 else int(part))
        except ValueError:
            raise HarnessError(f"{what} '{spec}': '{part}' is not a layer index or range; write all, none, 8-14 or 0,3,5-7") from None
    bad = sorted(i for i in chosen if not 0 <= i < n_layers)
    if bad:
        raise HarnessError(f"{what} '{spec}': layer {bad[0]} does not exist; the model has layers 0-{n_layers - 1}")
    return tuple(sorted(chosen))


def format_layers(layers: tuple[int, ...], n_layers: int) -> str:
    """The inverse of `parse_layers`, compact (`0-3,7`), for settings and file names."""
    if len(layers) == n_layers:
        return "all"
    if not layers:
        return "none"
    runs: list[list[int]] = []
    for i in layers:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
