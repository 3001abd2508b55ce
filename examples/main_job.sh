#!/usr/bin/env bash
# The main job, offline: train the Assign-and-Add paper's transformer and evaluate it,
# score the shipped published outputs of real models on PHYSICS and HARDMath with the
# harness's checkers, and publish all of it as one leaderboard site.
#
#   bash examples/main_job.sh [RUNS_DIR]      (default runs/; open RUNS_DIR/site/index.html)
#
# Every step resumes: rerunning reuses what is already there.
set -euo pipefail
runs="${1:-runs}"
physics=harness/tasks/physics/data/published_outputs
hardmath=harness/tasks/hardmath/data/published_replays
cd "$(dirname "$0")/.."

# 1. Assign-and-Add: from the authors' initial weights until phase 1, then its nine pools.
harness train assign-add --init released/ck_1 --stop-at phase1 --steps 3000 --threads 1 --output "$runs/assign_add"
harness eval --model "assign-add:$runs/assign_add" --model-arg threads=1 --task assign_add --output "$runs/assign_add_eval" -q

# 2. PHYSICS: two models' published answers to the first 200 test problems, no judge.
for model in qwen2.5-72b-instruct llama-3.1-8b-instruct; do
  harness eval --model "replay:$physics/$model.jsonl.gz" --task physics --limit 200 --output "$runs/physics_$model" -q
done

# 3. HARDMath: the authors' published Mistral-7B responses, 0-shot and 5-shot, all 308 problems.
for shots in 0shot 5shot; do
  harness eval --model "replay:$hardmath/mistral7b_$shots.jsonl.gz" --task hardmath --output "$runs/hardmath_mistral7b_$shots" -q
done

# 4. One leaderboard site of every run (the training run adds its phase curves).
harness leaderboard "$runs/assign_add" "$runs/assign_add_eval" "$runs"/physics_* "$runs"/hardmath_mistral7b_* --output "$runs/site" \
  --title "harness: Assign-and-Add, PHYSICS and HARDMath (published outputs)"
echo "open $runs/site/index.html"
