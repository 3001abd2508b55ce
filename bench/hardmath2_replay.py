"""HARDMath2 dev set: how many reference answers the checker can evaluate, and
what the reference and a 10%-scaled reference score (authors' one-point check).

    python bench/hardmath2_replay.py
"""

from __future__ import annotations

import collections
import time

from harness.checker import extract_boxed
from harness.tasks.hardmath.hardmath2 import grade_hardmath2, load_hardmath2


def main() -> None:
    started = time.time()
    stats = collections.defaultdict(collections.Counter)
    for p in load_hardmath2():
        ref = grade_hardmath2(p.solution, p.solution, p.parameters)["status"]
        stats[p.type][f"ref_{ref}"] += 1
        if ref == "correct":
            box = extract_boxed(p.solution)[-1]
            scaled = ";".join(f"1.1 \\left({item.split('=')[-1]}\\right)" for item in box.split(";"))
            verdict = grade_hardmath2(p.solution, "$\\boxed{" + scaled + "}$", p.parameters)
            stats[p.type]["scaled_" + verdict["status"]] += 1
    print(f"HARDMath2 dev, {time.time() - started:.0f} s")
    print("| type | problems | reference evaluable | reference correct | scaled x1.1 correct |")
    print("|---|---|---|---|---|")
    total = collections.Counter()
    for t, c in stats.items():
        total.update(c)
        n = c["ref_correct"] + c["ref_wrong"] + c["ref_bad_gold"] + c["ref_parse_failure"]
        print(f"| {t} | {n} | {n - c['ref_bad_gold']} | {c['ref_correct']} | {c['scaled_correct']} |")
    n = sum(v for k, v in total.items() if k.startswith("ref_"))
    print(f"| all | {n} | {n - total['ref_bad_gold']} | {total['ref_correct']} | {total['scaled_correct']} |")


if __name__ == "__main__":
    main()
