"""Reference outputs: the dataset's worked solutions as a model would write
them. The released `solution` texts went through the paper's display code,
which dropped the backslash of a command right after `$` (`$boxed{`,
`$frac{`, `$epsilon`); we put it back, nothing else changes."""

from __future__ import annotations

import re

from harness.tasks.hardmath.loader import Problem

_MANGLED = re.compile(r"\$(\s*)(boxed|frac|epsilon)(?![A-Za-z])")


def reference_output(problem: Problem) -> str:
    return _MANGLED.sub(lambda m: "$" + m.group(1) + "\\" + m.group(2), problem.solution)
