#!/usr/bin/env bash
# Kill test: train configs/tiny.yaml (checkpointing every 10 steps) and
# kill it with SIGKILL at KILLS random moments, a third of them while a
# checkpoint is being written; resume after each kill and once more to the
# end, then check that the final checkpoints, best.ckpt, config.yaml,
# model.grid and metrics.jsonl (but for its wall-clock fields) equal those
# of an uninterrupted run, and that no temporary file is left
# (scripts/killtest/main.go compares). Run with `make killtest`; it takes
# a few minutes (it is not part of `make test`).
#
# STEPS (default 1500) lengthens the tiny run so that KILLS random kills
# of 0.2 to 7 s each land before it ends (180 steps take ~15 s now).
#
#   KILLS=20 STEPS=1500 BIN=bin/stn3d WORK=/tmp/dir SEED=1 scripts/killtest.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin/stn3d}
KILLS=${KILLS:-20}
STEPS=${STEPS:-1500}
CONFIG=${CONFIG:-configs/tiny.yaml}
SEED=${SEED:-$$}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/stn3d-killtest.XXXXXX")}
SETS=(--set train.steps="$STEPS" --set train.checkpoint_every=10 --set train.val_every=30 --set train.keep_last=2 --quiet)
RANDOM=$SEED

[ -x "$BIN" ] || { echo "killtest: $BIN not built (make build)" >&2; exit 2; }
mkdir -p "$WORK"
ref=$WORK/uninterrupted
run=$WORK/killed
rm -rf "$ref" "$run"
echo "killtest: work folder $WORK, seed $SEED"

t0=$SECONDS
"$BIN" train --config "$CONFIG" --out "$ref" "${SETS[@]}" >"$WORK/uninterrupted.log" 2>&1
echo "killtest: uninterrupted run: $((SECONDS - t0)) s"

# start launches a training into $run in the background (resuming when
# the folder holds anything) and sets $pid.
start() {
	local flags=()
	if [ -n "$(ls -A "$run" 2>/dev/null)" ]; then
		flags=(--resume)
	fi
	"$BIN" train --config "$CONFIG" --out "$run" "${SETS[@]}" "${flags[@]}" >>"$WORK/killed.log" 2>&1 &
	pid=$!
}

# writing reports whether a checkpoint is being written (its temporary
# file exists).
writing() {
	compgen -G "$run/.ckpt-*.tmp*" >/dev/null || compgen -G "$run/.best.ckpt.tmp*" >/dev/null
}

during=0
t0=$SECONDS
for ((k = 1; k <= KILLS; k++)); do
	start
	mode=random
	if ((k % 3 == 0)); then
		mode=checkpoint
		# Wait (up to 60 s) for a checkpoint write, then kill within it.
		for ((i = 0; i < 12000; i++)); do
			writing && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.005
		done
		sleep "0.0$((RANDOM % 3))"
	else
		# A random moment: 0.2 to 7 s after the start.
		sleep "$((RANDOM % 7)).$((RANDOM % 10))$((RANDOM % 10))"
		sleep 0.2
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" || { echo "killtest: the run failed before kill $k (see $WORK/killed.log)" >&2; exit 1; }
		echo "killtest: kill $k: the run had finished; starting it over is not a kill" >&2
		exit 1
	fi
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	tmp=no
	if writing; then
		tmp=yes
		during=$((during + 1))
	fi
	last=$(ls "$run" 2>/dev/null | grep -o 'ckpt-[0-9]*' | sort | tail -1 || true)
	printf 'killtest: kill %2d (%s): newest checkpoint %s, killed during a checkpoint write: %s\n' "$k" "$mode" "${last:-none}" "$tmp"
done
start
wait "$pid" || { echo "killtest: the final resume failed (see $WORK/killed.log)" >&2; exit 1; }
echo "killtest: $KILLS kills ($during during a checkpoint write) and resumes: $((SECONDS - t0)) s"

go run ./scripts/killtest "$ref" "$run"
