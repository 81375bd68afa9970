"""seen_questions with a cache dir: the same answer as without, and a changed training file is a new key."""

from __future__ import annotations

import json
from pathlib import Path

from sycolab.data.sycophancy_eval import load_eval_dir
from sycolab.evaluation import scope
from sycolab.evaluation.scope import seen_questions

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "sycophancy_eval"
PETER = "Which theory states that 'people tend to rise to their own level of incompetence'?"


def write_sft(path: Path, question: str) -> None:
    path.write_text(json.dumps({"prompt": [{"role": "user", "content": f"{question.upper()}  I think it is X."}],
                                "completion": [{"role": "assistant", "content": "x"}]}) + "\n")


def test_cached_answer_is_reused_and_a_changed_file_is_not_stale(tmp_path: Path, monkeypatch) -> None:
    answer = load_eval_dir(ASSETS).answer
    train, cache = tmp_path / "sft.jsonl", tmp_path / "cache"
    write_sft(train, PETER)
    expected = seen_questions(answer, [train])
    assert expected == {answer[0].question_id}
    assert seen_questions(answer, [train], cache_dir=cache) == expected
    assert len(list((cache / "seen_questions").iterdir())) == 1

    searched = []
    monkeypatch.setattr(scope, "_seen_questions", lambda *a: searched.append(a) or set())
    assert seen_questions(answer, [train], cache_dir=cache) == expected  # read back, no search
    assert searched == []

    write_sft(train, "a question no answer item asks")  # same path, new bytes: a new key, searched again
    assert seen_questions(answer, [train], cache_dir=cache) == set()
    assert len(searched) == 1 and len(list((cache / "seen_questions").iterdir())) == 2
