"""The live progress view: counts, best so far and the time-left arithmetic."""

from __future__ import annotations

from types import SimpleNamespace

from cappuccino_ray.search.progress import ComboStatus, SearchProgress, progress_table


def test_table_counts_best_and_eta() -> None:
    status = {
        "3d/1h": ComboStatus(done=2, running=1, failed=0, best=0.5),
        "7d/4h": ComboStatus(done=1, running=0, failed=1, best=0.75),
    }
    text = progress_table("phase 1", status, total=10, elapsed_s=120.0)
    # 4 finished in 120 s -> 30 s each -> 6 left take 180 s.
    assert "4/10 trials finished, 1 running" in text
    assert "elapsed 2m00s, left ~3m00s" in text
    assert "best so far: 7d/4h objective 0.7500" in text
    lines = text.splitlines()
    assert lines[2].split() == ["3d/1h", "2", "1", "0", "0.5000"]


def test_no_finished_trial_means_unknown_eta() -> None:
    text = progress_table("p", {"a": ComboStatus(running=2)}, total=4, elapsed_s=5)
    assert "left ~?" in text and "best so far" not in text


def test_callback_groups_trials_by_combination() -> None:
    def trial(combo: str, status: str, obj: float | None) -> SimpleNamespace:
        return SimpleNamespace(
            config={"phase": 2, "algo": combo},
            status=status,
            last_result={} if obj is None else {"objective": obj},
        )

    cb = SearchProgress("p", total=5)
    s = cb.status(
        [
            trial("ppo", "TERMINATED", 1.0),
            trial("ppo", "RUNNING", 2.0),
            trial("ddqn", "ERROR", None),
            trial("ddqn", "PENDING", None),
        ]
    )
    assert (s["ppo"].done, s["ppo"].running, s["ppo"].best) == (1, 1, 2.0)
    assert (s["ddqn"].failed, s["ddqn"].done) == (1, 0)
