"""superinfo_lib.jobs: the CPU queues' shared flags, their checks and the per-run lock."""

import argparse

import pytest

from superinfo_lib import jobs


def parser(tmp_path):
    p = argparse.ArgumentParser()
    jobs.add_queue_args(p, "results", tmp_path / "work")
    return p


def test_queue_args_repeat_for_workers_without_the_worker_flag(tmp_path):
    argv = ["--synthetic", "--smoke", "--results-dir", str(tmp_path / "r"), "--run", '{"a": 1}']
    args = jobs.parse_queue_args(parser(tmp_path), argv, tmp_path / "results", tmp_path / "smoke")
    assert args.command_args == argv[:4] and args.run == '{"a": 1}'
    assert args.data_sha256 is None and args.threads >= 1 and args.precision in ("bf16", "fp32")
    # Smoke without synthetic images: a small slice of the real data.
    args = jobs.parse_queue_args(
        parser(tmp_path), ["--smoke", "--list-runs"], tmp_path / "results", tmp_path / "s"
    )
    assert (args.train_limit, args.test_limit) == (512, 256) and args.results_dir == tmp_path / "s"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--budget-s", "0"], "--budget-s must be > 0"),
        (["--parallel", "0"], "--parallel must be >= 1"),
        (["--smoke", "--synthetic"], "--smoke results must not go into"),
    ],
)
def test_queue_args_refuse_bad_values_by_name(tmp_path, capsys, argv, message):
    results_dir = tmp_path / "results"
    argv = argv + (["--results-dir", str(results_dir)] if "--smoke" in argv else ["--synthetic"])
    with pytest.raises(SystemExit):
        jobs.parse_queue_args(parser(tmp_path), argv, results_dir, tmp_path / "smoke")
    assert message in capsys.readouterr().err


def test_only_names_runs_of_the_queue(tmp_path, capsys):
    jobs.check_only(parser(tmp_path), ["a-s0"], ["a-s0", "b-s0"])
    jobs.check_only(parser(tmp_path), None, ["a-s0"])
    with pytest.raises(SystemExit):
        jobs.check_only(parser(tmp_path), ["a-s0", "c-s9"], ["a-s0", "b-s0"])
    assert "unknown run(s) c-s9; the runs are: a-s0, b-s0" in capsys.readouterr().err


def test_a_second_worker_on_the_same_run_stops(tmp_path):
    held = jobs.lock_run(tmp_path / "run", "claim-b0-s0")
    with pytest.raises(SystemExit, match="claim-b0-s0: another process is running it"):
        jobs.lock_run(tmp_path / "run", "claim-b0-s0")
    held.close()  # released: the run may start again
    jobs.lock_run(tmp_path / "run", "claim-b0-s0").close()
