"""lm-eval tasks through the harness runner: `harness eval --task lm-eval:NAME` (needs the [lm-eval] extra)."""
