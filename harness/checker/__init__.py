"""Safe answer checking shared by tasks: box extraction, LaTeX -> SymPy,
equivalence with tolerances and units, and a sandboxed worker pool."""

from harness.checker.boxed import extract_boxed, final_section
from harness.checker.compare import DEFAULT_REL_TOL, Verdict, verify
from harness.checker.latex import LatexParseError, Relation, VerbalAnswerError, latex_to_sympy, normalize_latex
from harness.checker.matching import max_bipartite_matching
from harness.checker.sandbox import DEFAULT_TIMEOUT_S, SANDBOX_STATUS, CheckerPool, SandboxOutcome

__all__ = [
    "extract_boxed",
    "final_section",
    "verify",
    "Verdict",
    "DEFAULT_REL_TOL",
    "latex_to_sympy",
    "normalize_latex",
    "LatexParseError",
    "VerbalAnswerError",
    "Relation",
    "max_bipartite_matching",
    "CheckerPool",
    "SandboxOutcome",
    "SANDBOX_STATUS",
    "DEFAULT_TIMEOUT_S",
]
