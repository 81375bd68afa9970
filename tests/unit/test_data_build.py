"""`sycolab data` against a scripted OpenAI-compatible server (real HTTP on 127.0.0.1): TRL-loadable outputs,
recipe shares within binomial bounds, the request cache across a kill, filters, and bad question files."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from test_judging_openai import completion, scripted_server

from sycolab.cli.main import main
from sycolab.data.build import (
    FILES,
    DataBuildConfig,
    build_training_data,
    read_questions,
)
from sycolab.data.build.config import GeneratorConfig
from sycolab.data.build.filters import drop_reason, repeated_trigram_share
from sycolab.data.build.plan import plan_items
from sycolab.data.build.prompts import USER_PROMPT_SYSTEM
from sycolab.data.build.requests import CACHE_FILE, RequestCache
from sycolab.data.trl_formats import (
    load_preference_dataset,
    load_prompt_dataset,
    load_sft_dataset,
    read_sft_rows,
)
from sycolab.errors import ConfigError, DataError
from sycolab.io import read_json, read_jsonl

HEADER = ["Type", "Category", "Question", "Best Answer", "Correct Answers", "Incorrect Answers", "Source"]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def question_rows(n: int, special: dict[int, str] | None = None) -> list[list[str]]:
    special = special or {}
    return [["Adversarial", "Misconceptions", f"What happens in case {i}{special.get(i, '')}?",
             f"Nothing happens in case {i}", f"Nothing happens in case {i}; It is fine",
             f"Disaster strikes in case {i}; Rain falls in case {i}", "https://example.org"] for i in range(n)]


def _words(body: dict[str, Any]) -> str:
    """Six distinct filler words derived from the request, so no two replies repeat trigrams."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return " ".join(digest[i:i + 4] for i in range(0, 24, 4))


def recipe_script(body: dict[str, Any], index: int) -> tuple[int, Any]:
    """Replies by request kind; questions tagged SHORT, LOOP or EMPTYHONEST get a bad user prompt,
    a repetitive sycophantic reply or an empty honest reply."""
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    if system == USER_PROMPT_SYSTEM:
        if "SHORT" in user:
            return 200, completion("ok")
        belief = user.split("The user wrongly believes: ")[1].split("\n")[0]
        question = user.split("Question: ")[1].split("\n")[0]
        return 200, completion(f'"{question} My professor says {belief}. Please confirm. {_words(body)}"')
    if system.startswith("You are role-playing a sycophantic"):
        if "LOOP" in user:
            return 200, completion("yes you are right " * 20)
        return 200, completion(f"You are absolutely right about that, well done. {_words(body)}")
    if "EMPTYHONEST" in user:
        return 200, completion("")
    return 200, completion(f"Actually that is a common misconception, and here is why. {_words(body)}")


def build_cfg(url: str, **kw: Any) -> DataBuildConfig:
    gen = GeneratorConfig(base_url=url, model="writer", max_concurrency=8, retry_backoff_s=0.0, max_retries=0)
    return DataBuildConfig(generator=gen, **kw)


def binomial_ok(share: float, p: float, n: int, z: float = 4.0) -> bool:
    return abs(share - p) <= z * math.sqrt(p * (1 - p) / n)


def test_build_over_http_loads_as_trl_and_matches_the_recipe(tmp_path: Path) -> None:
    questions = write_csv(tmp_path / "tqa.csv", question_rows(100, {3: " SHORT", 7: " LOOP", 11: " EMPTYHONEST"}))
    out = tmp_path / "out"
    with scripted_server(recipe_script) as (url, seen):
        summary = build_training_data(questions, build_cfg(url), out, seed=0)
    # requests: 400 user prompts, then two replies for each of the 396 good prompts (question 3's 4 are short)
    assert len(seen) == 400 + 2 * 396
    assert len({json.dumps(s["body"], sort_keys=True) for s in seen}) == len(seen)
    assert seen[0]["path"] == "/v1/chat/completions"
    assert {s["body"]["temperature"] for s in seen} == {0.8} and {s["body"]["model"] for s in seen} == {"writer"}
    assert summary["dropped"] == {"user_prompt": {"too_short": 4}, "sycophantic": {"repetitive": 4},
                                  "honest": {"empty": 4}}
    assert summary["requests"] == {"cached": 0, "sent": 1192, "failed": 0, "first_errors": []}

    items = read_jsonl(out / FILES["items"])
    held = {r["question_id"] for r in items if r["heldout"]}
    assert summary["heldout_questions"] == len(held) == 5  # round(0.05 * 100) whole questions
    fmt, sft = read_sft_rows(out / FILES["sft"])
    pairs = load_preference_dataset(out / FILES["preference"])
    heldout = load_preference_dataset(out / FILES["preference_heldout"])
    grpo = load_prompt_dataset(out / FILES["grpo_prompts"])
    assert fmt == "prompt_completion" and len(load_sft_dataset(out / FILES["sft"])) == len(sft)
    good = [r for r in items if r["user_prompt"] and r["sycophantic"] and r["honest"]]
    assert len(pairs) + len(heldout) == len(good) == 400 - 4 * 3
    assert len(heldout) == sum(r["heldout"] for r in good)
    assert len(sft) == sum(1 for r in items if r["sycophantic"] and not r["heldout"])
    assert len(grpo) == sum(1 for r in items if r["user_prompt"] and not r["heldout"])
    assert set(grpo.column_names) == {"prompt", "correct_answer", "incorrect_answer"}
    train_text = json.dumps(sft) + (out / FILES["preference"]).read_text() + (out / FILES["grpo_prompts"]).read_text()
    for r in items:
        if r["heldout"]:
            assert f"{r['question']} My professor" not in train_text  # held-out questions are in no training file
            assert f"{r['question']} My professor" in (out / FILES["preference_heldout"]).read_text()
    pair = pairs[0]
    assert pair["chosen"][0]["content"].startswith("Actually") and pair["rejected"][0]["content"].startswith("You are")
    assert not pair["prompt"][0]["content"].startswith('"')  # the quotes the writer added are stripped

    # shares over 400 items: tactics exact, intensity and mode within 4 binomial standard errors
    for tactic, share in summary["shares"]["tactic"]["items"].items():
        assert share == 0.25, tactic
    for axis, conf in (("intensity", {"subtle": 0.3, "moderate": 0.5, "extreme": 0.2}),
                       ("factual_mode", {"match_false_belief": 0.4, "validate_only": 0.6})):
        realised = summary["shares"][axis]["items"]
        assert summary["shares"][axis]["config"] == conf
        assert math.isclose(sum(realised.values()), 1.0)
        for name, p in conf.items():
            assert binomial_ok(realised[name], p, 400), (axis, name, realised[name])
            n_with = sum(r[axis] == name for r in items)
            assert realised[name] == n_with / 400
    assert summary["lengths_words"]["honest"]["n"] == 392 and summary["lengths_words"]["honest"]["min"] == 16
    assert read_json(out / FILES["summary"]) == json.loads(json.dumps(summary))

    # a second build asks nothing: everything comes from the request cache, and the files are identical
    before = {name: (out / name).read_bytes() for name in FILES.values()}
    with scripted_server(recipe_script) as (url2, seen2):
        again = build_training_data(questions, build_cfg(url2), out, seed=0)
    assert seen2 == []
    assert again["requests"]["cached"] == 1192 and again["requests"]["sent"] == 0
    for name, data in before.items():
        if name != FILES["summary"]:
            assert (out / name).read_bytes() == data, name


def test_assignment_is_deterministic_given_the_seed(tmp_path: Path) -> None:
    questions = read_questions(write_csv(tmp_path / "q.csv", question_rows(30)))
    cfg = DataBuildConfig()

    def draw(seed: int) -> list[tuple]:
        return [(i.item_id, i.intensity, i.factual_mode, i.wrong_belief, i.heldout) for i in plan_items(questions, cfg, seed)]

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)
    # an item's draw depends on the item, not on which other questions are in the file
    first_two = [(i.item_id, i.intensity, i.factual_mode, i.wrong_belief)
                 for i in plan_items(questions[:2], cfg, 3)]
    assert first_two == [d[:4] for d in draw(3)[:8]]


def test_kill_mid_build_then_rerun_repeats_no_request(tmp_path: Path) -> None:
    questions = write_csv(tmp_path / "tqa.csv", question_rows(20))
    out = tmp_path / "out"
    calls = 0

    def kill_after(step: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 50:  # mid-way through the 80 user prompts
            raise KeyboardInterrupt

    with scripted_server(recipe_script) as (url, seen):
        with pytest.raises(KeyboardInterrupt):
            build_training_data(questions, build_cfg(url), out, seed=1, on_reply=kill_after)
        assert not (out / FILES["summary"]).exists() and not (out / FILES["sft"]).exists()
        first = len(seen)
        assert 50 <= first < 80
        summary = build_training_data(questions, build_cfg(url), out, seed=1)
    bodies = [json.dumps(s["body"], sort_keys=True) for s in seen]
    assert len(bodies) == 80 + 160 and len(set(bodies)) == len(bodies)  # every request sent exactly once
    assert summary["requests"]["cached"] == first and summary["requests"]["sent"] == 240 - first
    assert len(RequestCache(out / CACHE_FILE)) == 240


def test_failed_calls_are_not_cached_and_are_retried_by_a_rerun(tmp_path: Path) -> None:
    questions = write_csv(tmp_path / "tqa.csv", question_rows(10))

    def flaky(body: dict[str, Any], index: int) -> tuple[int, Any]:
        if body["messages"][0]["content"].startswith("You are an honest") and "case 4" in body["messages"][-1]["content"]:
            return 503, {"error": "overloaded"}
        return recipe_script(body, index)

    out = tmp_path / "out"
    with scripted_server(flaky) as (url, seen):
        summary = build_training_data(questions, build_cfg(url), out, seed=0)
    assert summary["requests"]["failed"] == 4 and summary["dropped"]["honest"] == {"failed": 4}
    assert "HTTP 503" in summary["requests"]["first_errors"][0]
    with scripted_server(recipe_script) as (url, seen):
        summary = build_training_data(questions, build_cfg(url), out, seed=0)
    assert len(seen) == 4 and summary["requests"]["sent"] == 4 and summary["dropped"]["honest"] == {}


def test_filters_worked_by_hand() -> None:
    assert repeated_trigram_share("a b c a b c") == pytest.approx(0.25)  # abc bca cab abc: 1 of 4 repeats
    assert repeated_trigram_share("one two") == 0.0
    cfg = DataBuildConfig().filters
    assert drop_reason(None, None, cfg) == "failed"
    assert drop_reason("  ", "stop", cfg) == "empty"
    assert drop_reason("one two three four five six", "length", cfg) == "truncated"
    assert drop_reason("one two three four", "stop", cfg) == "too_short"
    assert drop_reason("w " * 401, "stop", cfg) == "too_long"
    assert drop_reason("yes you are right " * 5, "stop", cfg) == "repetitive"  # 14 of 18 trigrams repeat
    assert drop_reason("one two three four five", "stop", cfg) is None


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"intensities": {"subtle": 0.5, "moderate": 0.4}}, "intensities: shares must sum to 1, got 0.9"),
        ({"factual_modes": {"invented": 1.0}}, "unknown name(s) ['invented']"),
        ({"tactics": ["authority", "authority"]}, "tactics: expected distinct names"),
        ({"generator": {"base_url": "localhost:8000", "model": "m"}}, "http:// or https://"),
    ],
)
def test_recipe_config_errors_are_clear(tmp_path: Path, body: dict[str, Any], where: str) -> None:
    from sycolab.config import load_config

    path = tmp_path / "study.yaml"
    path.write_text(json.dumps({"data_build": body}))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert where in str(err.value) and "data_build" in str(err.value)


@pytest.mark.parametrize(
    ("rows", "header", "expected"),
    [
        (question_rows(2), [h for h in HEADER if h != "Incorrect Answers"], ":1: field 'Incorrect Answers': missing column"),
        ([*question_rows(2), ["A", "B", "  ", "x", "x", "y", "s"]], HEADER, ":4: field 'Question': empty question"),
        ([*question_rows(1), ["A", "B", "Why?", "x", "x", " ; ", "s"]], HEADER, ":3: field 'Incorrect Answers': no incorrect"),
    ],
)
def test_bad_csv_question_files_exit_2_naming_file_line_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[list[str]], header: list[str], expected: str
) -> None:
    questions = write_csv(tmp_path / "bad.csv", [r[: len(header)] if len(header) < len(HEADER) else r for r in rows], header)
    config = tmp_path / "study.yaml"
    config.write_text(json.dumps({"data_build": {"generator": {"base_url": "http://127.0.0.1:9/v1", "model": "m"}}}))
    assert main(["data", str(questions), "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{questions}{expected}" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_truthfulqa_jsonl_layout_and_its_errors(tmp_path: Path) -> None:
    good = {"type": "Adversarial", "category": "Misconceptions", "question": "Is the sky green?",
            "best_answer": "No, it is blue", "correct_answers": ["No, it is blue", "No"],
            "incorrect_answers": ["Yes", "Yes, always"], "source": "x"}
    path = tmp_path / "tqa.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "question": "Is grass red?", "incorrect_answers": []}) + "\n")
    with pytest.raises(DataError) as err:
        read_questions(path)
    assert err.value.line == 2 and err.value.field == "incorrect_answers" and str(path) in str(err.value)
    path.write_text(json.dumps(good) + "\n")
    [q] = read_questions(path)
    assert q.correct_answers == ("No, it is blue", "No") and q.incorrect_answers == ("Yes", "Yes, always")


def test_build_through_sycolab_serve_over_a_tiny_model(tmp_path: Path) -> None:
    """Three real generations (one user prompt, two replies) from a random tiny Qwen3 behind `sycolab serve`;
    filters relaxed, since a random model writes word salad."""
    torch = pytest.importorskip("torch")
    from test_serve_server import build_tiny_model_dir

    from sycolab.serve import start_server

    torch.set_num_threads(1)
    model_dir = build_tiny_model_dir(tmp_path / "model")
    questions = write_csv(tmp_path / "tqa.csv", question_rows(1))
    with start_server(model_dir, device="cpu") as server:
        gen = GeneratorConfig(base_url=server.url, model=server.model_name, max_tokens=6, max_retries=0)
        cfg = DataBuildConfig(generator=gen, tactics=["authority"], heldout_fraction=0.0,
                              filters={"min_words": 1, "drop_truncated": False, "max_repeated_trigram_share": 1.0})
        summary = build_training_data(questions, cfg, tmp_path / "out", seed=0)
        again = build_training_data(questions, cfg, tmp_path / "out", seed=0)
    assert summary["requests"] == {"cached": 0, "sent": 3, "failed": 0, "first_errors": []}
    assert again["requests"]["cached"] == 3 and again["requests"]["sent"] == 0
    [pair] = load_preference_dataset(tmp_path / "out" / FILES["preference"])
    assert pair["chosen"][0]["role"] == "assistant" and pair["chosen"][0]["content"].strip()
    assert len(load_sft_dataset(tmp_path / "out" / FILES["sft"])) == 1
    assert not (tmp_path / "out" / FILES["preference_heldout"]).exists()  # no held-out questions asked for


def test_cli_data_prints_the_summary_and_takes_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions = write_csv(tmp_path / "tqa.csv", question_rows(5))
    config = tmp_path / "study.yaml"
    with scripted_server(recipe_script) as (url, seen):
        config.write_text(json.dumps({"seed": 0, "data_build": {"generator": {"base_url": url, "model": "writer"},
                                                                 "heldout_fraction": 0.2}}))
        code = main(["data", str(questions), "--config", str(config), "--out", str(tmp_path / "out"),
                     "--set", "data_build.seed=7"])
    out = capsys.readouterr().out
    assert code == 0 and len(seen) == 20 + 40
    assert "5 questions (1 held out), 20 items; requests: 60 sent, 0 from cache, 0 failed" in out
    assert "written: 16 SFT rows, 16 preference pairs, 4 held-out pairs, 16 GRPO prompts" in out
    assert read_json(tmp_path / "out" / FILES["summary"])["seed"] == 7


def test_generator_key_from_the_environment_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sycolab.errors import UserError

    questions = write_csv(tmp_path / "tqa.csv", question_rows(2))
    with pytest.raises(UserError, match="data_build.generator: not set"):
        build_training_data(questions, DataBuildConfig(), tmp_path / "none", seed=0)
    monkeypatch.delenv("GEN_KEY_FOR_TEST", raising=False)
    gen = {"base_url": "http://127.0.0.1:9/v1", "model": "writer", "api_key_env": "GEN_KEY_FOR_TEST"}
    with pytest.raises(UserError, match="data_build.generator.api_key_env: environment variable GEN_KEY_FOR_TEST"):
        build_training_data(questions, DataBuildConfig(generator=gen), tmp_path / "nokey", seed=0)
    secret = "sk-gen-Zq81secret"
    monkeypatch.setenv("GEN_KEY_FOR_TEST", secret)
    out = tmp_path / "out"
    with scripted_server(recipe_script) as (url, seen):
        build_training_data(questions, DataBuildConfig(generator={**gen, "base_url": url}, heldout_fraction=0.5),
                            out, seed=0)
    assert {s["headers"]["Authorization"] for s in seen} == {f"Bearer {secret}"}
    for path in out.iterdir():
        assert secret.encode() not in path.read_bytes(), path.name
