#!/usr/bin/env bash
# GPU readiness check (issue 18): one script that, from a fresh checkout on a CUDA machine, sets up
# Python, runs the CUDA-marked tests, the paper table's two longest rows for 30 s each (seconds per
# epoch, extrapolated to their whole protocols), the training benchmark (vaekit, the plain PyTorch loop and
# pythae in fp32, bf16 and fp16 with a gradient scaler), the K = 5000 NLL's throughput against the
# GPU's measured matmul rate, a 2-GPU DDP run where there are two GPUs, and prints one summary table.
#
#   bash bench/gpu_check.sh               on a CUDA machine: --budget (560 s) at most, set-up included
#   bash bench/gpu_check.sh --cpu-smoke   the same steps on a CPU with tiny sizes, GPU-only parts skipped
#   bash bench/gpu_check.sh --dry-run     print each step's commands and the table, run nothing
#   bash bench/gpu_check.sh --prepare     where PyPI is reachable: fill .gpu-carry/ (MNIST, pythae's
#                                         wheels) for a GPU machine that reaches no package registry
#
# Options: --budget SECONDS (all steps together; 560 by default, 480 for --cpu-smoke).
# Environment: OUT (when set: the table goes to $OUT/gpu_check_summary.md, the whole log to
# $OUT/gpu_check.log), VAEKIT_BENCH_MNIST (MNIST's folder; default .gpu-carry/mnist when present,
# else ../shared/data/mnist), VAEKIT_GPU_PYTHON (use this interpreter instead of setting one up).
#
# Each step runs under its own `timeout`, cut to what is left of the budget, so one slow step
# cannot eat the others' time; a failing step does not stop the next one. Exit status: 1 when a
# step failed (a skipped step is not a failure), else 0. docs/benchmarks.md ("GPU check") says how
# to read the table.

set -uo pipefail # not -e: a failing step is recorded and the next one still runs

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPT="$ROOT/bench/gpu_check.sh"
CARRY="$ROOT/.gpu-carry"
# What pythae 0.1.2 needs beyond the GPU image's packages (it has no pydantic), for --prepare.
CARRY_WHEELS=(pythae==0.1.2 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5)
GPU_PYTHON_VERSION=${GPU_PYTHON_VERSION:-3.12} # the GPU image's python3
SKIPPED=77                                     # a step's exit status for "skipped" (the reason is its key figure)
cd "$ROOT" || exit 2

# --- helpers shared by the steps (each step runs as `bash gpu_check.sh --step NAME` under timeout) ---

# The key figure of the running step: one line for the summary table.
key() { printf '%s\n' "$*" | sed 's/^ *//' >"$KEYS/$STEP_NAME"; }
# Skip the running step, with the reason as its key figure.
skip() {
	echo "skipped: $*"
	key "$*"
	exit "$SKIPPED"
}
# Run a command, or only show it under --dry-run. Its output is also kept in $WORK/out-STEP, where
# the step reads its key figure from.
run() {
	echo "+ $*"
	[ "$DRY" = 1 ] && return 0
	"$@" 2>&1 | tee -a "$WORK/out-$STEP_NAME"
	return "${PIPESTATUS[0]}"
}
# The last "summary: ..." line a bench script printed (they print one to quote), without the label.
summary_line() { grep '^summary: ' "$WORK/out-$STEP_NAME" 2>/dev/null | tail -1 | sed 's/^summary: //'; }
# MNIST's folder on stdout, or skip the running step (exit status $SKIPPED) where it is missing.
mnist_or_skip() {
	local mnist=${VAEKIT_BENCH_MNIST:-$ROOT/../shared/data/mnist}
	compgen -G "$mnist/train-images-idx3-ubyte*" >/dev/null && echo "$mnist" && return 0
	skip "no MNIST in $mnist: run --prepare where ../shared/data/mnist exists, and carry .gpu-carry" >&2
}
# " (dry run)" under --dry-run, else nothing: appended to key figures that then have no numbers.
dry_note() { [ "$DRY" = 1 ] && echo " (dry run)"; }

# --- the steps ---

step_setup() {
	local started=$SECONDS how py bench_py pypath=""
	if [ -n "${VAEKIT_GPU_PYTHON:-}" ]; then
		py=$VAEKIT_GPU_PYTHON how="VAEKIT_GPU_PYTHON"
		pypath="$ROOT/src:$CARRY/site"
	elif [ "$MODE" = cpu ]; then
		# The developer environment, made by `make dev` unless it is there already (re-running make
		# would reinstall whenever pyproject.toml is newer than the venv).
		py="$ROOT/.venv/bin/python" how="reused .venv"
		if ! "$py" -c 'import vaekit, pytest' 2>/dev/null; then
			run make dev || {
				key "make dev failed"
				return 1
			}
			how="make dev"
		fi
	elif python3 -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
		# The lent GPU machines reach no package registry, and their image's python3 holds a CUDA
		# torch and all of vaekit's dependencies: vaekit runs from src/, and `make gpu-env` unpacks
		# the carried wheels (pythae) into .gpu-carry/site.
		py=$(command -v python3) how="image python3, offline (make gpu-env)"
		pypath="$ROOT/src:$CARRY/site"
		if command -v make >/dev/null; then
			run make gpu-env PYTHON="$py"
		elif compgen -G "$CARRY/wheels/*.whl" >/dev/null; then # an image without make: its one command
			run "$py" -m pip install --quiet --no-index --no-deps --no-compile --upgrade --target "$CARRY/site" "$CARRY"/wheels/*.whl
		fi || echo "unpacking the carried wheels failed: pythae will be missing from the training benchmark"
	else
		# A CUDA machine without torch that reaches PyPI: a venv with PyPI's (CUDA) torch build.
		py="$ROOT/.venv-gpu/bin/python" how="make gpu-venv (PyPI)"
		run make gpu-venv VENV=.venv-gpu || {
			key "make gpu-venv failed"
			return 1
		}
	fi
	bench_py=$py
	if [ "$MODE" = cpu ] && [ -x "$ROOT/.venv-bench/bin/python" ] && "$ROOT/.venv-bench/bin/python" -c 'import pythae' 2>/dev/null; then
		bench_py="$ROOT/.venv-bench/bin/python" # make bench-env's: vaekit beside pythae
	fi
	printf 'PY=%q\nBENCH_PY=%q\nPYPATH=%q\n' "$py" "$bench_py" "$pypath" >"$WORK/env"
	[ "$DRY" = 1 ] && {
		key "dry run: $how"
		return 0
	}
	local versions
	versions=$(PYTHONPATH="$pypath${PYTHONPATH:+:$PYTHONPATH}" "$py" - "$MODE" 2>&1 <<-'EOF'
		import sys
		import pytest, torch, vaekit  # noqa: F401  (each must import)
		line = f"torch {torch.__version__}"
		if torch.cuda.is_available():
		    line += f", CUDA {torch.version.cuda}, {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
		elif sys.argv[1] == "gpu":
		    sys.exit(f"{line} sees no CUDA GPU")
		print(line)
	EOF
	) || {
		key "the environment is broken: $(tail -1 <<<"$versions")"
		return 1
	}
	echo "setup took $((SECONDS - started)) s: $how; $versions"
	key "$((SECONDS - started)) s: $how; $versions"
}

step_tests() {
	# Only the files that hold CUDA tests: collecting the whole suite would import modules whose
	# extras (the explorer's fastapi, playwright) the GPU image lacks.
	local files
	mapfile -t files < <(grep -rlE --include='test_*.py' 'mark\.cuda' tests | sort)
	[ "${#files[@]}" -gt 0 ] || {
		key "no test is marked cuda"
		return 1
	}
	run "$PY" -m pytest -m cuda -rs -p no:cacheprovider --basetemp "$WORK/pytest" "${files[@]}"
	local rc=$?
	local counts
	counts=$(grep -E '[0-9]+ (passed|failed|skipped|error)' "$WORK/out-tests" 2>/dev/null | tail -1 | sed 's/=//g; s/^ *//; s/ *$//')
	key "${counts:-pytest exit $rc}$(dry_note)"
	return "$rc"
}

step_train() {
	local precision=$1 only=vaekit,plain note=""
	if [ "$MODE" = cpu ] && [ "$precision" = fp16 ]; then
		skip "fp16 needs CUDA: float16 autocast with a gradient scaler (vaekit refuses it on a CPU)"
	fi
	local mnist
	mnist=$(mnist_or_skip) || exit "$SKIPPED"
	if [ "$DRY" = 1 ] || "$BENCH_PY" -c 'import pythae' 2>/dev/null; then
		only+=,pythae # bench.train_speed leaves it out of bf16 and fp16 itself, saying why
	else
		note=" (pythae missing)"
		echo "pythae is not importable by $BENCH_PY: left out (--prepare makes its wheels; carry .gpu-carry)"
	fi
	run "$BENCH_PY" -m bench.train_speed --device "$DEVICE" --precision "$precision" --rounds 1 \
		--epochs "$EPOCHS" "${LIMIT[@]}" --threads "$THREADS" --only "$only"
	local rc=$?
	key "$(summary_line)$note$(dry_note)"
	return "$rc"
}

step_nll() {
	run "$PY" -m bench.nll_speed --device "$DEVICE" --images "$NLL_IMAGES" --k "$NLL_K" \
		--budgets "$NLL_BUDGETS" --square "$SQUARE" --threads "$THREADS"
	local rc=$?
	key "$(summary_line)$(dry_note)"
	return "$rc"
}

step_paper() {
	# Seconds per epoch of the paper table's longest rows on this device, and each one's whole
	# protocol at that rate: the budget a GPU would need, by extrapolation (bench.paper_table's summary).
	local mnist
	mnist=$(mnist_or_skip) || exit "$SKIPPED"
	run "$PY" -m bench.paper_table --rows "$PAPER_ROWS" --budget "$PAPER_BUDGET" --points 1 --curve-k "$PAPER_K" \
		--k "$PAPER_K" --device "$DEVICE" --runs "$WORK/paper" --data-dir "$mnist"
	local rc=$?
	key "$(summary_line)$(dry_note)"
	return "$rc"
}

step_ddp() {
	local gpus=0 module=vaekit out="$WORK/ddp"
	command -v nvidia-smi >/dev/null && gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
	# `-m vaekit` needs src/vaekit/__main__.py; `-m vaekit.cli` is the same command without it.
	[ -f "$ROOT/src/vaekit/__main__.py" ] || module=vaekit.cli
	# `python -m torch.distributed.run` is torchrun (no PATH lookup); `vaekit resume --nproc 2`
	# goes through vaekit's own launcher. Both on the bundled digits, 2 + 1 epochs.
	local train=("$PY" -m torch.distributed.run --standalone --nproc-per-node 2 -m "$module" train --data digits
		--epochs 2 --batch-size 128 --device cuda --out "$out" --force -q)
	local resume=("$PY" -m "$module" resume "$out" --epochs 3 --nproc 2 -q)
	if [ "$DRY" = 1 ]; then
		echo "would run (with 2 GPUs): ${train[*]}"
		echo "                    then: ${resume[*]}"
	fi
	if [ "$MODE" != gpu ] || [ "$gpus" -lt 2 ]; then
		skip "needs 2 CUDA GPUs; nvidia-smi lists $gpus"
	fi
	local started=$SECONDS
	run "${train[@]}" || {
		key "torchrun --nproc-per-node 2 ... train failed"
		return 1
	}
	local trained=$((SECONDS - started))
	run "${resume[@]}" || {
		key "train: ${trained} s; vaekit resume --nproc 2 failed"
		return 1
	}
	local loss
	loss=$("$PY" -c 'import json, sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["train_loss"])' \
		"$out/metrics.jsonl" 2>&1)
	key "2 GPUs: train 2 epochs ${trained} s, resume to 3 $((SECONDS - started - trained)) s; epoch-3 train_loss $loss"
}

# --- --prepare: what an offline GPU machine needs, gathered where PyPI is reachable ---

prepare() {
	local mnist=${VAEKIT_BENCH_MNIST:-$ROOT/../shared/data/mnist}
	mkdir -p "$CARRY/wheels" "$CARRY/mnist" || exit 1
	# Wheels for the GPU image's Python (README of the device tool: manylinux, cp312), no deps:
	# CARRY_WHEELS names each one pythae needs that the image lacks.
	"${PYTHON:-python3}" -m pip download --no-deps --only-binary=:all: --python-version "$GPU_PYTHON_VERSION" \
		--implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
		--platform manylinux2014_x86_64 -d "$CARRY/wheels" "${CARRY_WHEELS[@]}" || exit 1
	cp "$mnist"/*-ubyte* "$CARRY/mnist/" || {
		echo "no MNIST in $mnist (set VAEKIT_BENCH_MNIST)"
		exit 1
	}
	du -sh "$CARRY"
	echo "ready: carry .gpu-carry to the GPU machine (device run: carry [\".gpu-carry\"]) and run bash bench/gpu_check.sh"
}

# --- the main script ---

if [ "${1:-}" = "--step" ]; then # one step, started by the main script under `timeout`
	STEP_NAME=$2
	shift 2
	read -ra LIMIT <<<"$LIMIT_TEXT" # arrays do not cross into a child process: passed as text
	"step_${STEP_NAME%%-*}" "$@"
	exit $?
fi

MODE=gpu DRY=0 BUDGET="" PY=""
while [ $# -gt 0 ]; do
	case $1 in
	--cpu-smoke) MODE=cpu ;;
	--dry-run) DRY=1 ;;
	--prepare)
		prepare
		exit 0
		;;
	--budget)
		BUDGET=${2:?--budget needs seconds}
		shift
		;;
	-h | --help)
		sed -n '2,22p' "$SCRIPT" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "unknown option $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done

# Sizes: on a GPU, the real benchmarks cut to fit the budget; on a CPU, the smallest that still
# run every code path. Each step's limit is in seconds, cut further to what is left of the budget.
if [ "$MODE" = gpu ]; then
	DEVICE=cuda EPOCHS=3 LIMIT=() THREADS=$(($(nproc) < 8 ? $(nproc) : 8))
	NLL_IMAGES=2000 NLL_K=5000 NLL_BUDGETS=21,24,26 SQUARE=8192 BUDGET=${BUDGET:-560}
	PAPER_ROWS=lvae5,iwae2-k50 PAPER_BUDGET=30 PAPER_K=500
	STEPS=("setup 120" "tests 150" "paper 130" "train-fp32 110" "train-bf16 75" "train-fp16 75" "nll 80" "ddp 100")
else
	DEVICE=cpu EPOCHS=1 LIMIT=(--limit 1200) THREADS=2
	NLL_IMAGES=20 NLL_K=200 NLL_BUDGETS=19 SQUARE=512 BUDGET=${BUDGET:-480}
	PAPER_ROWS=vae1-k1 PAPER_BUDGET=1 PAPER_K=20 # one epoch of the smallest row: the code path, not a figure
	STEPS=("setup 150" "tests 120" "paper 90" "train-fp32 90" "train-bf16 90" "train-fp16 30" "nll 60" "ddp 30")
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
KEYS="$WORK/keys"
mkdir -p "$KEYS"
LOG=/dev/null
if [ -n "${OUT:-}" ]; then
	mkdir -p "$OUT" && LOG="$OUT/gpu_check.log" && : >"$LOG"
fi
if [ -z "${VAEKIT_BENCH_MNIST:-}" ] && compgen -G "$CARRY/mnist/train-images-idx3-ubyte*" >/dev/null; then
	export VAEKIT_BENCH_MNIST="$CARRY/mnist"
fi
export MODE DRY WORK KEYS DEVICE EPOCHS THREADS NLL_IMAGES NLL_K NLL_BUDGETS SQUARE PAPER_ROWS PAPER_BUDGET PAPER_K PYTHONUNBUFFERED=1
export LIMIT_TEXT="${LIMIT[*]}"

say() { printf '%s\n' "$*" | tee -a "$LOG"; }

say "# vaekit GPU check: $(date '+%Y-%m-%d %H:%M'), ${HOSTNAME:-$(uname -n)}, mode $MODE$([ "$DRY" = 1 ] && echo ', dry run'), budget ${BUDGET} s"
say "checkout: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git') ($(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) changed files)"
command -v nvidia-smi >/dev/null &&
	say "GPUs: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | paste -sd ';')"

NAMES=() STATUS=() FIGURES=() TIMES=()
started_all=$SECONDS
setup_ok=1
for entry in "${STEPS[@]}"; do
	name=${entry% *} limit=${entry#* } args=()
	[ "${name%%-*}" = train ] && args=("${name#train-}")
	left=$((BUDGET - (SECONDS - started_all)))
	((limit > left - 5)) && limit=$((left - 5))
	say ""
	say "=== $name (limit ${limit} s, ${left} s of the budget left) ==="
	step_started=$SECONDS
	if ((limit < 10)); then
		rc=1 # not run, so not checked: a failure of the check, not a skip
		echo "not run: no time left in the --budget of ${BUDGET} s" >"$KEYS/$name"
	elif [ "$setup_ok" = 0 ]; then
		rc=$SKIPPED
		echo "setup failed" >"$KEYS/$name"
	else
		if [ -z "${PY:-}" ] && [ -f "$WORK/env" ]; then # what setup chose: the interpreters and the import path
			# shellcheck source=/dev/null
			source "$WORK/env"
			export PY BENCH_PY
			[ -n "$PYPATH" ] && export PYTHONPATH="$PYPATH${PYTHONPATH:+:$PYTHONPATH}"
		fi
		# timeout runs the step in its own process group and kills all of it (pytest's and the
		# benchmarks' child processes too) at the limit; -k: SIGKILL 10 s after a SIGTERM ignored.
		timeout -k 10 "$limit" bash "$SCRIPT" --step "$name" "${args[@]}" 2>&1 | tee -a "$LOG"
		rc=${PIPESTATUS[0]}
	fi
	figure=$(cat "$KEYS/$name" 2>/dev/null)
	case $rc in
	0) status=PASS ;;
	"$SKIPPED") status=SKIP ;;
	124 | 137)
		status=FAIL
		figure="timed out after ${limit} s${figure:+; $figure}"
		;;
	*)
		status=FAIL
		figure=${figure:-exit status $rc}
		;;
	esac
	[ "$DRY" = 1 ] && [ "$status" = PASS ] && status=DRY
	[ "$name" = setup ] && [ "$status" = FAIL ] && setup_ok=0
	NAMES+=("$name") STATUS+=("$status") FIGURES+=("${figure//|//}") TIMES+=("$((SECONDS - step_started))")
done

failed=()
table="| step | status | key figure | s |"$'\n'"| --- | --- | --- | --- |"
for i in "${!NAMES[@]}"; do
	table+=$'\n'"| ${NAMES[$i]} | ${STATUS[$i]} | ${FIGURES[$i]} | ${TIMES[$i]} |"
	[ "${STATUS[$i]}" = FAIL ] && failed+=("${NAMES[$i]}")
done
verdict="all steps passed or were skipped"
[ "${#failed[@]}" -gt 0 ] && verdict="FAILED: ${failed[*]}"
report="## vaekit GPU check, $(date '+%Y-%m-%d %H:%M'), mode $MODE, $((SECONDS - started_all)) s in all"$'\n\n'"$table"$'\n\n'"$verdict"
say ""
say "$report"
[ -n "${OUT:-}" ] && printf '%s\n' "$report" >"$OUT/gpu_check_summary.md"
rm -rf "$WORK"
[ "${#failed[@]}" -eq 0 ]
