"""The report's Provenance section shows what each evaluation read, from metrics.json alone."""

from __future__ import annotations

import json

from _fake_store import write_fake_study

from sycolab.reporting._results import StudyData
from sycolab.reporting.document import NoData
from sycolab.reporting.provenance import provenance_table
from sycolab.store import DataFile, Provenance

PROV = Provenance(model="dpo", stage_key="0123456789abcdef", weights_sha256="f" * 64,
                  judge={"kind": "openai", "model": "Qwen2.5-72B-Instruct", "endpoint": "http://judge:8000/v1"},
                  generation={"backend": "hf", "max_new_tokens": 24, "temperature": 0.0},
                  data=[DataFile("answer", "world/eval/answer.jsonl", "ab" * 32)], versions={"torch": "2.9"})


def _study_with_dpo_provenance(tmp_path):
    """A fake study whose dpo evaluation records `PROV`."""
    root = write_fake_study(tmp_path / "run")
    path = root / "eval" / "dpo" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["provenance"] = PROV.to_dict()
    path.write_text(json.dumps(metrics))
    return root


def test_provenance_row_names_judge_data_hash_and_weights(tmp_path):
    root = _study_with_dpo_provenance(tmp_path)
    table = provenance_table(StudyData.read(root))
    assert [r[0].text for r in table.rows] == ["dpo"]  # only models whose metrics record provenance
    _, judge, generation, data, weights, threads = table.rows[0]
    assert threads.text == "—, —"  # the manifest recorded no thread counts
    assert judge.text == "openai Qwen2.5-72B-Instruct http://judge:8000/v1"
    assert generation.text == "backend=hf, max_new_tokens=24, temperature=0.0"
    assert data.text == "world/eval/answer.jsonl abababababab"
    assert weights.text == "ffffffffffff" and weights.detail == "stage key 0123456789abcdef"
    assert Provenance.from_dict(json.loads(json.dumps(PROV.to_dict()))) == PROV


def test_no_provenance_recorded_says_how_to_get_it(tmp_path):
    table = provenance_table(StudyData.read(write_fake_study(tmp_path / "run")))
    assert isinstance(table, NoData) and "re-run the eval stage" in table.message


def test_judge_settings_never_carry_a_credential():
    from sycolab.judging.config import JudgeConfig
    from sycolab.store import judge_settings

    cfg = JudgeConfig(kind="openai", base_url="https://user:s3cret@api.example.com/v1", model="m",
                      api_key_env="JUDGE_KEY")
    shown = json.dumps(judge_settings(cfg))
    assert "s3cret" not in shown and "JUDGE_KEY" not in shown
    assert judge_settings(cfg)["endpoint"] == "https://api.example.com/v1"


def test_thread_counts_come_from_the_training_stage_with_the_weights_key_and_the_eval_stage(tmp_path):
    """dpo's weights were made by the stage whose key the provenance names (train:dpo at 2 threads), and
    evaluated at 1: the cell says so and the caption calls the run mixed; at one count it is not."""
    root = _study_with_dpo_provenance(tmp_path)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["stages"]["train:dpo"] = {"status": "done", "key": "0123456789abcdef", "info": {"torch_threads": 2}}
    manifest["stages"]["eval:dpo"] = {"status": "done", "key": "fedcba9876543210", "info": {"torch_threads": 1}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    table = provenance_table(StudyData.read(root))
    assert table.rows[0][5].text == "2, 1"
    assert "different thread counts (1, 2)" in table.caption
    manifest["stages"]["eval:dpo"]["info"]["torch_threads"] = 2
    (root / "manifest.json").write_text(json.dumps(manifest))
    table = provenance_table(StudyData.read(root))
    assert table.rows[0][5].text == "2, 2" and "different thread counts" not in table.caption


def test_a_run_whose_stages_other_code_computed_says_so_in_the_caption(tmp_path):
    """Stages recording two code versions (a run resumed after an upgrade) name both in the caption; one does not."""
    root = _study_with_dpo_provenance(tmp_path)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["stages"]["train:dpo"] = {"status": "done", "key": "0123456789abcdef", "info": {"code": "0.1.0 (aaa)"}}
    manifest["stages"]["eval:dpo"] = {"status": "done", "key": "fedcba9876543210", "info": {"code": "0.1.0 (aaa)"}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    assert "versions of sycolab's code" not in provenance_table(StudyData.read(root)).caption
    manifest["stages"]["eval:dpo"]["info"]["code"] = "0.2.0 (bbb)"
    (root / "manifest.json").write_text(json.dumps(manifest))
    assert ("computed by 2 versions of sycolab's code (0.1.0 (aaa); 0.2.0 (bbb))"
            in provenance_table(StudyData.read(root)).caption)
