"""bench.paper_table's rows spell models and objectives that ``vaekit train`` accepts."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Read in a child: in this process "bench" names the tests' package of that name.
ROWS = json.loads(subprocess.run(
    [sys.executable, "-c", "import json; from bench.paper_table import ROWS, CODE_ROWS, PAPER_EPOCHS; print(json.dumps("
     "{'epochs': PAPER_EPOCHS, 'rows': [[r.name, getattr(r, 'objective', 'lvae'), getattr(r, 'layers', 5), r.theirs, "
     "r.train_options(), r.protocol('DATA', 0), r.epochs] for r in ROWS],"
     "'code': [[r.name, r.protocol('DATA', 0), r.train_options()] for r in CODE_ROWS]}))"],
    cwd=ROOT, capture_output=True, text=True, check=True,
).stdout)  # fmt: skip


def test_the_table_has_burdas_twelve_mnist_rows_and_the_ladder_vae() -> None:
    burda = [row for row in ROWS["rows"] if row[1] != "lvae"]
    assert len({row[0] for row in burda}) == 12
    assert {row[3] for row in burda if row[0] in ("vae1-k1", "iwae2-k50")} == {86.76, 82.90}
    assert ROWS["epochs"] == sum(3**i for i in range(8)) and {row[6] for row in burda} == {ROWS["epochs"]}
    assert all("--batch-size 20 --lr 1e-3 --lr-schedule burda" in " ".join(row[5]) for row in burda)
    (ladder,) = (row for row in ROWS["rows"] if row[1] == "lvae")
    assert ladder[0] == "lvae5" and ladder[3] == 81.74 and ladder[6] == 2000
    assert "--batch-size 256 --lr 2e-4 --lr-schedule constant --adam-eps 1e-4 --epochs 2000" in " ".join(ladder[5])
    # 200 epochs of warm-up at 235 steps per epoch (60,000 images at batch 256, the last batch partial)
    assert "objective.warmup_steps=47000" in ladder[4]


def test_each_paper_row_has_a_code_twin_with_their_codes_start_and_optimizer() -> None:
    paper = {row[0]: row for row in ROWS["rows"] if row[1] != "lvae"}
    twins = {name.removesuffix("-code"): (protocol, options) for name, protocol, options in ROWS["code"]}
    assert set(twins) == set(paper) and all(name.endswith("-code") for name, _, _ in ROWS["code"])
    for name, (protocol, options) in twins.items():
        assert options == paper[name][4]  # the same model and objective
        text = " ".join(protocol)
        assert "--init glorot-uniform --output-bias marginals --adam-beta1 0.99 --adam-eps 5e-6" in text
        assert "1e-4" not in text and text.replace(" --init glorot-uniform --output-bias marginals --adam-beta1 0.99 "
                                                   "--adam-eps 5e-6", " --adam-eps 1e-4") == " ".join(paper[name][5])  # fmt: skip


def test_a_code_twins_whole_command_trains_and_records_its_settings(tmp_path: Path) -> None:
    _, protocol, options = next(row for row in ROWS["code"] if row[0] == "iwae2-k5-code")
    # Their protocol on the bundled digits, for one epoch.
    mnist = protocol.index("--data")
    protocol = [*protocol[:mnist], "--data", "digits", *protocol[mnist + 4:]]
    protocol[protocol.index("--epochs") + 1] = "1"
    run = tmp_path / "run"
    command = [sys.executable, "-m", "vaekit", "train", *protocol, *options, "--out", str(run)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    train = json.loads((run / "config.json").read_text())["train"]
    assert (train["init"], train["output_bias"], train["adam_beta1"], train["adam_eps"]) == ("glorot-uniform", "marginals", 0.99, 5e-6)


@pytest.mark.parametrize("name", ["vae1-k5", "iwae2-k5", "lvae5"])
def test_a_rows_options_train(tmp_path: Path, name: str) -> None:
    _, objective, layers, _, options, _, _ = next(row for row in ROWS["rows"] if row[0] == name)
    run = tmp_path / "run"
    command = [sys.executable, "-m", "vaekit", "train", "--data", "digits", "--binarize", "dynamic", "--epochs", "1",
               "--batch-size", "20", "--lr-schedule", "burda", "--adam-eps", "1e-4", *options,
               "--out", str(run), "-q"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())
    expected = {"iwae": ("iwae", "hvae"), "vae": ("elbo-k", "vae"), "lvae": ("beta-elbo", "lvae")}[objective]
    assert (config["model"]["objective"]["name"], config["model"]["name"]) == expected
    if layers == 5:
        assert config["model"]["options"]["upper_latents"] == [32, 16, 8, 4]
        assert config["model"]["options"]["upward"] == "means" and config["model"]["options"]["share_top_down"] is False
        assert config["model"]["options"]["prior_hidden"] == [[512, 512], [256, 256], [128, 128], [64, 64]]
        assert config["model"]["net"]["activation"] == "leaky_relu"
    else:
        assert config["model"]["name"] == ("hvae" if layers == 2 else "vae")


@pytest.mark.parametrize("name, theirs", [("vae1-k1", "86.76"), ("lvae5", "81.74")])
def test_a_budget_run_reports_nll_against_wall_and_cpu_time_and_status_shows_it(tmp_path: Path, name: str, theirs: str) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from data.helpers import write_idx_folder

    write_idx_folder(tmp_path / "mnist", n_train=40, n_test=10, rows=4, cols=4)
    common = ["--rows", name, "--k", "10", "--data-dir", str(tmp_path / "mnist")]
    budget = subprocess.run(
        [sys.executable, "-m", "bench.paper_table", *common, "--runs", str(tmp_path / "paper"), "--budget", "0.5",
         "--points", "2", "--curve-k", "4"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert budget.returncode == 0, budget.stderr
    row = next(line for line in budget.stdout.splitlines() if line.startswith(f"| {name} |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert len(cells) == 5 and all("CPU s" in cell for cell in cells[2:4]), row
    run = tmp_path / "paper-budget-0.5" / name
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(r["epoch_cpu_s"] > 0 for r in records)
    # Every NLL measured is in the row's history, its one record of them: each point's weights at K = 4 (a
    # point whose slice the first epoch already overran, on a loaded machine, reuses the NLL of the same
    # weights), the end at K = 10.
    point_epochs = {int(re.search(r", (\d+) ep: ", cell).group(1)) for cell in cells[2:4]}
    history_file = run / "bench-paper-nll-history.jsonl"
    history = [json.loads(line) for line in history_file.read_text().splitlines()]
    assert [r["k"] for r in history] == [4] * len(point_epochs) + [10] and not list(run.glob("bench-paper-nll-k*.json"))
    assert [r["epoch"] for r in history[:-1]] == sorted(point_epochs)
    assert all(r["device"] == "cpu" and len(r["measured"]) == 10 for r in history)
    saved = history[-1]
    assert saved["epoch"] == records[-1]["epoch"] and cells[4] == f"K=10: {saved['nll']:.2f} ± {saved['nll_stderr']:.2f}"
    shown = subprocess.run([sys.executable, "-m", "bench.paper_table", *common, "--runs", str(run.parent), "--history"],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert f"| {name} | {theirs} | {saved['epoch']} | 10 | {saved['nll']:.2f} ± {saved['nll_stderr']:.2f} |" in shown.stdout
    assert len([line for line in shown.stdout.splitlines() if line.startswith(f"| {name} |")]) == len(history)
    # The summary extrapolates the epochs after the first (or the only one) to the whole protocol.
    times = sorted(r["epoch_time_s"] for r in records[1:]) or [records[0]["epoch_time_s"]]
    median = times[len(times) // 2] if len(times) % 2 else (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2
    epochs = 2000 if name == "lvae5" else 3280
    summary = [line for line in budget.stdout.splitlines() if line.startswith("summary: ")]
    assert summary == [f"summary: on cpu: {name} {median:.2f} s/epoch, its {epochs} epochs in {median * epochs / 3600:.1f} h"]

    status = subprocess.run(
        [sys.executable, "-m", "bench.paper_table", *common, "--runs", str(run.parent), "--status"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert f"| {name} | {theirs} | {saved['nll']:.2f} ± {saved['nll_stderr']:.2f} | {saved['epoch']} |" in status.stdout

    # An NLL measured before the last epochs is shown with its epoch, not as the run's current one.
    history_file.write_text("".join(json.dumps(r) + "\n" for r in [*history[:-1], {**saved, "epoch": saved["epoch"] - 1}]))
    status = subprocess.run(
        [sys.executable, "-m", "bench.paper_table", *common, "--runs", str(run.parent), "--status"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert f"{saved['nll']:.2f} ± {saved['nll_stderr']:.2f} at epoch {saved['epoch'] - 1} |" in status.stdout

    # --evaluate measures the NLL so far without training; over 2 processes it is one process's.
    if name == "vae1-k1":
        history_file.write_text("".join(json.dumps(r) + "\n" for r in history[:-1]))  # no NLL at K = 10 yet
        evaluated = subprocess.run(
            [sys.executable, "-m", "bench.paper_table", *common, "--runs", str(run.parent), "--evaluate", "--nproc", "2"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert evaluated.returncode == 0, evaluated.stderr
        assert (run / "metrics.jsonl").read_text().count("\n") == len(records)  # nothing trained
        again = [json.loads(line) for line in history_file.read_text().splitlines()]
        assert again[:-1] == history[:-1] and {**again[-1], "measured": saved["measured"]} == saved
        assert f"| {name} | {theirs} | {saved['nll']:.2f} ± {saved['nll_stderr']:.2f} | {saved['epoch']} |" in evaluated.stdout

        # A row that another process is training is not evaluated under it.
        from vaekit.runtime.lock import run_folder_lock

        with run_folder_lock(run, "resume"):
            refused = subprocess.run(
                [sys.executable, "-m", "bench.paper_table", *common, "--runs", str(run.parent), "--evaluate"],
                cwd=ROOT, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
        assert refused.returncode == 1 and f"--evaluate {name}: run folder" in refused.stderr
        assert f"in use by PID {os.getpid()}" in refused.stderr


def test_status_names_a_row_with_no_epoch_as_not_started(tmp_path: Path) -> None:
    status = subprocess.run(
        [sys.executable, "-m", "bench.paper_table", "--rows", "vae1-k5", "--runs", str(tmp_path), "--status"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert "| vae1-k5 | 86.47 | - | 0 | 0.00 h | not started in --runs |" in status.stdout


def test_a_runs_folder_or_plot_folder_that_is_not_there_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    for args, said in (
        (["--runs", str(tmp_path / "nope"), "--status"], "no such folder"),
        (["--runs", str(tmp_path / "file"), "--history"], "is a file: name the folder"),
        (["--runs", str(tmp_path), "--history", "--plot", str(tmp_path / "no" / "p.png")], "no folder"),
    ):
        refused = subprocess.run([sys.executable, "-m", "bench.paper_table", *args], cwd=ROOT, capture_output=True,
                                 text=True, timeout=120)  # fmt: skip
        assert refused.returncode == 1 and said in refused.stderr, refused.stderr
    assert not (tmp_path / "no").exists()


def test_device_reaches_the_training_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.paper_table", "--rows", "vae1-k1", "--runs", str(tmp_path / "paper"),
         "--budget", "1", "--points", "1", "--device", "tpu", "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "device must be auto, cpu, cuda or mps, got 'tpu'" in result.stderr
    assert "--device tpu" in result.stdout  # the command as printed before it ran


def test_a_snapshot_is_one_checkpoints_state_and_resumes(tmp_path: Path) -> None:
    runs = tmp_path / "live"
    run = runs / "vae1-k1"
    command = [sys.executable, "-m", "vaekit", "train", "--data", "digits", "--binarize", "dynamic", "--epochs", "2",
               "--batch-size", "64", "--out", str(run), "-q"]  # fmt: skip
    assert subprocess.run(command, capture_output=True, text=True, timeout=120).returncode == 0
    # As a training between writes leaves it: model.safetensors and trainer.json of an older
    # epoch, a metrics line of the epoch after the checkpoint, and one cut short.
    stale = json.loads((run / "trainer.json").read_text())
    (run / "trainer.json").write_text(json.dumps({**stale, "epoch": 1}))
    from safetensors.torch import load_file

    from vaekit.training.checkpoint import save_model_tensors

    save_model_tensors(run / "model.safetensors", load_file(run / "model.safetensors"), {"epoch": 1, "step": 1})
    with (run / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"epoch": 3, "train_loss": 1.0}) + "\n" + '{"epoch": 4, "tr')
    dest = tmp_path / "repo"
    (dest / "vae1-k1").mkdir(parents=True)
    (dest / "vae1-k1" / "earlier.txt").write_text("an earlier snapshot")

    done = subprocess.run(
        [sys.executable, "-m", "bench.paper_table", "--rows", "vae1-k1,iwae2-k5", "--runs", str(runs), "--snapshot", str(dest)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "vae1-k1: epoch 2 of 3280 copied to" in done.stdout and "iwae2-k5: no checkpoint" in done.stdout
    copy = dest / "vae1-k1"
    assert not (copy / "earlier.txt").exists() and not list(dest.glob(".*"))  # replaced whole, nothing left over
    assert (copy / "trainer.safetensors").read_bytes() == (run / "trainer.safetensors").read_bytes()
    assert not (copy / "model.safetensors").exists() and not (copy / "trainer.json").exists()  # another epoch's
    assert [json.loads(line)["epoch"] for line in (copy / "metrics.jsonl").read_text().splitlines()] == [1, 2]

    resumed = subprocess.run([sys.executable, "-m", "vaekit", "resume", str(copy), "--epochs", "3", "-q"],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert [json.loads(line)["epoch"] for line in (copy / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert json.loads((copy / "trainer.json").read_text())["epoch"] == 3


def test_a_snapshot_keeps_the_newer_nll_report_of_the_run_and_the_earlier_snapshot(tmp_path: Path) -> None:
    # An NLL measured on a snapshot (--evaluate --runs DEST) is newer than the live run's last one.
    run, dest = tmp_path / "live" / "iwae2-k50", tmp_path / "repo" / "iwae2-k50"
    command = [sys.executable, "-m", "vaekit", "train", "--data", "digits", "--binarize", "dynamic", "--epochs", "1",
               "--batch-size", "64", "--out", str(run), "-q"]  # fmt: skip
    assert subprocess.run(command, capture_output=True, text=True, timeout=120).returncode == 0
    dest.mkdir(parents=True)
    reports = {
        (run, "bench-paper-nll-k5000.json"): {"epoch": 180, "nll": 86.2, "nll_stderr": 0.2},
        (dest, "bench-paper-nll-k5000.json"): {"epoch": 245, "nll": 85.9, "nll_stderr": 0.2},
        (run, "eval-test-k5000.json"): {"weights": "last", "weights_epoch": 300, "nll": 85.5},
        (dest, "eval-test-k5000.json"): {"weights": "last", "weights_epoch": 245, "nll": 85.9},
        (run, "eval-test-k10.json"): {"weights": "last", "nll": 90.0},  # no epoch: the run's on a tie
        (dest, "eval-test-k10.json"): {"weights": "last", "nll": 91.0},
        (dest, "eval-test-k500.json"): {"weights": "last", "weights_epoch": 200, "nll": 86.0},  # the snapshot's only
    }
    for (folder, name), record in reports.items():
        (folder / name).write_text(json.dumps(record))
    lines = {run: [{"epoch": 100, "k": 5000, "nll": 87.0, "nll_stderr": 0.2}, {"epoch": 180, "k": 5000, "nll": 86.2, "nll_stderr": 0.2}],
             dest: [{"epoch": 100, "k": 5000, "nll": 87.0, "nll_stderr": 0.2}, {"epoch": 245, "k": 5000, "nll": 85.9, "nll_stderr": 0.2}]}  # fmt: skip
    for folder, history in lines.items():
        (folder / "bench-paper-nll-history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
    done = subprocess.run(
        [sys.executable, "-m", "bench.paper_table", "--rows", "iwae2-k50", "--runs", str(run.parent), "--snapshot", str(dest.parent)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    nll = {name: json.loads((dest / name).read_text())["nll"] for name in
           ("eval-test-k5000.json", "eval-test-k10.json", "eval-test-k500.json")}  # fmt: skip
    assert nll == {"eval-test-k5000.json": 85.5, "eval-test-k10.json": 90.0, "eval-test-k500.json": 86.0}
    assert not (dest / "bench-paper-nll-k5000.json").exists()  # taken into the merged history
    assert (dest / "trainer.safetensors").read_bytes() == (run / "trainer.safetensors").read_bytes()
    merged = [json.loads(line) for line in (dest / "bench-paper-nll-history.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["nll"]) for r in merged] == [(100, 87.0), (180, 86.2), (245, 85.9)]  # each once, in order


def test_a_damaged_checkpoint_is_refused_and_the_earlier_snapshot_kept(tmp_path: Path) -> None:
    run = tmp_path / "live" / "vae1-k1"
    command = [sys.executable, "-m", "vaekit", "train", "--data", "digits", "--epochs", "1", "--out", str(run), "-q"]
    assert subprocess.run(command, capture_output=True, text=True, timeout=120).returncode == 0
    best = bytearray((run / "model-best.safetensors").read_bytes())
    best[-1] ^= 0xFF
    (run / "model-best.safetensors").write_bytes(bytes(best))
    earlier = tmp_path / "repo" / "vae1-k1"
    earlier.mkdir(parents=True)
    (earlier / "metrics.jsonl").write_text('{"epoch": 1}\n')
    done = subprocess.run(
        [sys.executable, "-m", "bench.paper_table", "--rows", "vae1-k1", "--runs", str(run.parent),
         "--snapshot", str(tmp_path / "repo")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and "model-best.safetensors is corrupted" in done.stderr and "nothing copied" in done.stderr
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == ["vae1-k1"]  # no staging folder left
    assert (earlier / "metrics.jsonl").read_text() == '{"epoch": 1}\n' and len(list(earlier.iterdir())) == 1


def test_a_run_without_a_checkpoint_is_not_snapshot(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from pathlib import Path; from bench.paper_table import snapshot; "
         "snapshot(Path(sys.argv[1]), Path(sys.argv[2]))", str(tmp_path / "run"), str(tmp_path / "dest")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "has no checkpoint (trainer.safetensors) to snapshot" in done.stderr
    assert not (tmp_path / "dest").exists()
    (tmp_path / "file").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "bench.paper_table", "--runs", str(tmp_path), "--snapshot", str(tmp_path / "file")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "is a file: name a folder" in done.stderr


HISTORY_SEEDED = """
import json, sys, types
from pathlib import Path
from bench import paper_table

run = Path(sys.argv[1])
report = {"nll": 85.5, "nll_stderr": 0.22}
paper_table.vaekit = lambda *args: types.SimpleNamespace(stdout=json.dumps(report))
before = paper_table.read_history(run)  # no history file yet: the last report stands for it
first = paper_table.nll(run, 5000)
again = paper_table.nll(run, 5000)  # the same weights: reused, not measured or recorded again
print(json.dumps({"before": before, "first": first, "again": again, "history": paper_table.read_history(run)}))
"""


def test_an_nll_measured_before_the_history_was_kept_becomes_its_first_line(tmp_path: Path) -> None:
    run = tmp_path / "iwae2-k50"
    run.mkdir()
    (run / "metrics.jsonl").write_text(json.dumps({"epoch": 300, "epoch_time_s": 50.0}) + "\n")
    (run / "bench-paper-nll-k5000.json").write_text(json.dumps({"epoch": 180, "nll": 86.2, "nll_stderr": 0.23}))
    done = subprocess.run([sys.executable, "-c", HISTORY_SEEDED, str(run)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["before"] == [{"epoch": 180, "nll": 86.2, "nll_stderr": 0.23, "k": 5000}]
    assert out["first"] == out["again"] == [85.5, 0.22]
    assert [(r["epoch"], r["nll"]) for r in out["history"]] == [(180, 86.2), (300, 85.5)]
    assert not (run / "bench-paper-nll-k5000.json").exists()  # the history is the one record now


def test_speed_options_reach_a_new_row_and_a_started_one_and_command_prints_what_runs(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from data.helpers import write_idx_folder

    write_idx_folder(tmp_path / "mnist", n_train=40, n_test=10, rows=4, cols=4)
    runs, run = tmp_path / "runs", tmp_path / "runs" / "iwae2-k5-code"
    common = ["--rows", "iwae2-k5-code", "--runs", str(runs), "--data-dir", str(tmp_path / "mnist"),
              "--precision", "bf16-grad", "--min-backward-weight", "1e-4"]  # fmt: skip

    def paper_table(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bench.paper_table", *common, *extra],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip

    printed = paper_table("--time-limit", "1", "--command")
    assert printed.returncode == 0, printed.stderr
    (line,) = printed.stdout.splitlines()
    assert shlex.split(line)[:2] == ["vaekit", "train"] and not runs.exists()  # printed, nothing trained
    assert "--time-limit 1 --precision bf16-grad --min-backward-weight 0.0001 --device cpu" in line
    assert "--init glorot-uniform --output-bias marginals" in line and line.endswith(f"--out {run} --force")

    trained = paper_table("--time-limit", "1", "--k", "4")
    assert trained.returncode == 0, trained.stderr
    assert f"$ {sys.executable} -m {line.replace(chr(39), '')}" in trained.stdout
    train = json.loads((run / "config.json").read_text())["train"]
    assert (train["precision"], train["min_backward_weight"], train["init"]) == ("bf16-grad", 1e-4, "glorot-uniform")

    # A started row resumes with them (vaekit resume keeps them in the run's config).
    resumed = subprocess.run(
        [sys.executable, "-m", "bench.paper_table", *common[:6], "--min-backward-weight", "0.01", "--command"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert shlex.split(resumed.stdout) == ["vaekit", "resume", str(run), "--time-limit", "0", "--min-backward-weight", "0.01"]


@pytest.mark.parametrize("options, message", [
    (["--precision", "bf16-grad", "--status"], "--status, --evaluate, --snapshot and --history train nothing: leave them out"),
    (["--min-backward-weight", "1"], "--min-backward-weight must be in [0, 1)"),
    (["--command", "--evaluate"], "--command prints the training commands; it does not go with"),
])  # fmt: skip
def test_speed_options_and_command_refuse_what_would_do_nothing(tmp_path: Path, options: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "bench.paper_table", "--rows", "iwae2-k5", "--runs", str(tmp_path), *options],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 1 and message in result.stderr and not list(tmp_path.iterdir())


def test_status_prices_a_partial_rows_remaining_epochs_at_its_recent_cpu_time(tmp_path: Path) -> None:
    run = tmp_path / "iwae2-k50"
    run.mkdir()
    # 10 early epochs at 90 CPU-s, then 50 at 20 (a faster option switched on): the recent ones price the rest.
    records = [{"epoch": e, "epoch_time_s": 30.0, "epoch_cpu_s": 90.0 if e <= 10 else 20.0} for e in range(1, 61)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    status = subprocess.run(
        [sys.executable, "-m", "bench.paper_table", "--rows", "iwae2-k50", "--runs", str(tmp_path), "--status"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    left = (3280 - 60) * 20 / 3600
    assert f"| iwae2-k50 | 82.90 | - | 60 | 0.50 h | partial (60/3280 epochs; about {left:.1f} core-hours left at 20 CPU-s per epoch) |" in status.stdout


def test_history_plot_draws_every_nll_and_refuses_what_it_cannot_draw(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for name, points in [("iwae2-k50", [(66, 88.3), (409, 85.0)]), ("iwae2-k50-code", [(128, 85.8)])]:
        (runs / name).mkdir(parents=True)
        (runs / name / "bench-paper-nll-history.jsonl").write_text("".join(
            json.dumps({"epoch": e, "nll": v, "nll_stderr": 0.2, "k": 5000, "kept": "2026-12-03, commit abc1234"}) + "\n"
            for e, v in points) + json.dumps({"epoch": 500, "nll": 90.0, "nll_stderr": 0.3, "k": 200}) + "\n")  # fmt: skip

    def paper_table(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bench.paper_table", "--rows", "iwae2-k50,iwae2-k50-code",
                               "--runs", str(runs), *extra], cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip

    drawn = paper_table("--history", "--plot", str(tmp_path / "nll.png"))
    assert drawn.returncode == 0, drawn.stderr
    assert "| iwae2-k50 | 82.90 | 66 | 5000 | 88.30 ± 0.20 | kept 2026-12-03, commit abc1234 |" in drawn.stdout
    assert f"wrote {tmp_path / 'nll.png'}: 3 NLLs at K = 5000" in drawn.stdout  # the K = 200 line is not drawn
    assert (tmp_path / "nll.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paper_table("--history", "--plot", str(tmp_path / "nll.svg"), "--k", "200").returncode == 0
    assert b"<svg" in (tmp_path / "nll.svg").read_bytes()[:400]
    for extra, message in [
        (["--plot", str(tmp_path / "a.png")], "--plot draws the NLLs measured so far: give it with --history"),
        (["--history", "--plot", str(tmp_path / "a.jpg")], "name a .png or .svg file"),
        (["--history", "--plot", str(tmp_path / "a.png"), "--k", "7"], "no NLL at K = 7"),
    ]:
        refused = paper_table(*extra)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
    assert not list(tmp_path.glob("a.*"))


def test_status_and_history_without_rows_show_each_started_twin_beside_its_row(tmp_path: Path) -> None:
    started = tmp_path / "iwae2-k5-code"
    started.mkdir()
    records = [{"epoch": e, "epoch_time_s": 30.0, "epoch_cpu_s": 15.0} for e in (1, 2)]
    (started / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (started / "trainer.safetensors").write_bytes(b"")
    measured = tmp_path / "vae1-k1-code"
    measured.mkdir()
    (measured / "bench-paper-nll-history.jsonl").write_text(json.dumps({"epoch": 3, "nll": 90.5, "nll_stderr": 0.25, "k": 5000}) + "\n")
    (tmp_path / "iwae2-k50-code").mkdir()  # a folder with nothing in it has not started
    outputs = {}
    for mode in ("--status", "--history"):
        result = subprocess.run(
            [sys.executable, "-m", "bench.paper_table", "--runs", str(tmp_path), mode],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        outputs[mode] = result.stdout
    rows = [line.split(" | ")[0].lstrip("| ") for line in outputs["--status"].splitlines()[2:]]
    assert rows[rows.index("iwae2-k5") + 1] == "iwae2-k5-code" and rows[rows.index("vae1-k1") + 1] == "vae1-k1-code"
    assert "iwae2-k50-code" not in rows and len(rows) == 13 + 2
    assert "| iwae2-k5-code | 83.89 | - | 2 | 0.02 h | partial (2/3280 epochs;" in outputs["--status"]
    assert "| vae1-k1-code | 86.76 | 3 | 5000 | 90.50 ± 0.25 | - |" in outputs["--history"]
    named = subprocess.run(
        [sys.executable, "-m", "bench.paper_table", "--rows", "iwae2-k5", "--runs", str(tmp_path), "--status"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "iwae2-k5-code" not in named.stdout
