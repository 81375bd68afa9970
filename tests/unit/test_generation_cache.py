"""Generation cache: nothing is generated twice, results are stored batch by batch, keys include params."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
import torch

from sycolab.generation import CachedBackend, GenerationCache, HFBackend, SamplingParams, model_fingerprint
from sycolab.generation.cache import CacheKey, canonical_params
from sycolab.models.testing import build_tiny_model, build_tiny_tokenizer

torch.set_num_threads(1)


class CountingBackend:
    """Answers "<content>#<seed>#<k>"; counts prompts generated; optionally reports batches of 2 and can fail."""

    def __init__(self, model_id="fake", streams=True, fail_after_batches=None):
        self.model_id = model_id
        self.generated = 0
        self.calls = 0
        self.fail_after_batches = fail_after_batches
        if not streams:
            self.generate = self._generate_plain  # no on_batch parameter: CachedBackend must chunk itself

    def _answer(self, prompt, params):
        return [f"{prompt[-1]['content']}#{params.seed}#{k}" for k in range(params.n)]

    def generate(self, prompts, params, on_batch=None):
        self.calls += 1
        out = []
        for b, start in enumerate(range(0, len(prompts), 2)):
            if self.fail_after_batches is not None and b >= self.fail_after_batches:
                raise KeyboardInterrupt("simulated interruption")
            idx = list(range(start, min(start + 2, len(prompts))))
            done = [self._answer(prompts[i], params) for i in idx]
            self.generated += len(idx)
            out.extend(done)
            if on_batch:
                on_batch(idx, done)
        return out

    def _generate_plain(self, prompts, params):
        self.calls += 1
        self.generated += len(prompts)
        return [self._answer(p, params) for p in prompts]


def _q(text):
    return [{"role": "user", "content": text}]


SAMPLED = SamplingParams(max_new_tokens=8, temperature=0.7, n=2, seed=3)


def test_second_run_generates_nothing(tmp_path):
    inner = CountingBackend()
    cached = CachedBackend(inner, tmp_path / "cache" / "generations.sqlite")
    prompts = [_q("a"), _q("b"), _q("c")]
    first = cached.generate(prompts, SAMPLED)
    assert first == [["a#3#0", "a#3#1"], ["b#3#0", "b#3#1"], ["c#3#0", "c#3#1"]]
    assert inner.generated == 3
    again = CachedBackend(inner, tmp_path / "cache" / "generations.sqlite")  # a fresh process would do this
    assert again.generate(prompts, SAMPLED) == first
    assert inner.generated == 3 and inner.calls == 1
    assert again.stats.hits == 3 and again.stats.generated == 0


def test_only_uncached_and_distinct_prompts_are_generated(tmp_path):
    inner = CountingBackend()
    cached = CachedBackend(inner, tmp_path / "g.sqlite")
    cached.generate([_q("a"), _q("b")], SAMPLED)
    out = cached.generate([_q("b"), _q("c"), _q("c"), _q("a"), _q("d")], SAMPLED)
    assert inner.generated == 2 + 2  # c (once, though asked twice) and d
    assert [o[0] for o in out] == ["b#3#0", "c#3#0", "c#3#0", "a#3#0", "d#3#0"]


def test_params_are_part_of_the_key(tmp_path):
    inner = CountingBackend()
    cached = CachedBackend(inner, tmp_path / "g.sqlite")
    cached.generate([_q("a")], SAMPLED)
    cached.generate([_q("a")], SamplingParams(max_new_tokens=8, temperature=0.7, n=2, seed=4))  # new seed
    cached.generate([_q("a")], SamplingParams(max_new_tokens=8, temperature=0.7, n=3, seed=3))  # new n
    assert inner.generated == 3
    # greedy ignores seed and top_p, so they do not split the cache
    cached.generate([_q("a")], SamplingParams(max_new_tokens=8, seed=1))
    cached.generate([_q("a")], SamplingParams(max_new_tokens=8, seed=2, top_p=0.5))
    assert inner.generated == 4
    assert canonical_params(SamplingParams(seed=9, top_p=0.5)) == canonical_params(SamplingParams())


def test_interrupted_run_keeps_finished_batches(tmp_path):
    path = tmp_path / "g.sqlite"
    crashing = CountingBackend(fail_after_batches=2)  # batches of 2: finishes 4 prompts, then dies
    with pytest.raises(KeyboardInterrupt):
        CachedBackend(crashing, path).generate([_q(str(i)) for i in range(7)], SAMPLED)
    assert len(GenerationCache(path)) == 4
    resumed = CountingBackend()
    out = CachedBackend(resumed, path).generate([_q(str(i)) for i in range(7)], SAMPLED)
    assert resumed.generated == 3
    assert [o[1] for o in out] == [f"{i}#3#1" for i in range(7)]


def test_backend_without_on_batch_is_chunked(tmp_path):
    inner = CountingBackend(streams=False)
    cached = CachedBackend(inner, tmp_path / "g.sqlite", chunk_size=3)
    cached.generate([_q(str(i)) for i in range(7)], SAMPLED)
    assert inner.calls == 3 and inner.generated == 7  # chunks of 3, 3, 1


def test_database_is_in_wal_mode_and_readable_while_open(tmp_path):
    path = tmp_path / "g.sqlite"
    cached = CachedBackend(CountingBackend(), path)
    reader = sqlite3.connect(path)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 0
        cached.generate([_q("a"), _q("b")], SAMPLED)  # writer commits while a read transaction is open
        assert reader.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 0  # reader's snapshot
        reader.execute("COMMIT")
        assert reader.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 2
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        reader.close()


def test_hf_backend_is_keyed_by_rendered_prompt_and_not_regenerated(tmp_path):
    tok = build_tiny_tokenizer()
    model = build_tiny_model(tok)
    hf = HFBackend(model, tok, "tiny", batch_size=2, progress=False)
    calls = []
    original = hf._generate_batch
    hf._generate_batch = lambda batch, *a: calls.append(len(batch)) or original(batch, *a)
    cached = CachedBackend(hf, tmp_path / "g.sqlite")
    prompts = [_q("what is the colour of zorb ?"), _q("who lives in fen ?"), _q("capital city ?")]
    first = cached.generate(prompts, SamplingParams(max_new_tokens=4))
    assert calls == [2, 1]  # the backend's own batches, each stored as it finished
    assert cached.generate(prompts, SamplingParams(max_new_tokens=4)) == first
    assert calls == [2, 1]
    assert cached.key(prompts[0], SamplingParams()).prompt.startswith("text:<|im_start|>user\n")


def test_cache_key_digest_depends_on_every_field():
    base = CacheKey("m", "p", "{}")
    assert len({base.digest, CacheKey("m2", "p", "{}").digest, CacheKey("m", "p2", "{}").digest,
                CacheKey("m", "p", "{ }").digest}) == 4


def test_model_fingerprint_changes_with_contents(tmp_path):
    (tmp_path / "config.json").write_text('{"a": 1}')
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 10)
    before = model_fingerprint(tmp_path)
    assert model_fingerprint(tmp_path) == before
    (tmp_path / "config.json").write_text('{"a": 2}')
    assert model_fingerprint(tmp_path) != before


def test_top_k_and_first_token_constraint_are_part_of_the_key(tmp_path):
    inner = CountingBackend()
    cached = CachedBackend(inner, tmp_path / "g.sqlite")
    cached.generate([_q("a")], SAMPLED)
    cached.generate([_q("a")], replace(SAMPLED, top_k=20))
    cached.generate([_q("a")], replace(SAMPLED, top_k=5))
    cached.generate([_q("a")], replace(SAMPLED, allowed_first_tokens=("A", "B")))
    assert inner.generated == 4
    cached.generate([_q("a")], replace(SAMPLED, top_k=20))
    assert inner.generated == 4
    # greedy ignores top_k; "off" values leave the key as it was before these fields existed
    assert canonical_params(SamplingParams(top_k=20)) == canonical_params(SamplingParams())
    assert canonical_params(SamplingParams(allowed_first_tokens=("A",))) != canonical_params(SamplingParams())
    assert "top_k" not in canonical_params(SAMPLED) and "allowed_first_tokens" not in canonical_params(SAMPLED)


def test_the_pickled_training_arguments_are_not_part_of_the_weights_digest(tmp_path):
    """transformers saves training_args.bin (it names the run's output folder) beside the weights: the same
    weights trained in two run dirs have one digest; changed weights a new one."""
    from sycolab.models.digest import weights_sha256

    folders = [tmp_path / "run-a" / "base", tmp_path / "run-b" / "base"]
    for folder in folders:
        folder.mkdir(parents=True)
        (folder / "config.json").write_text('{"a": 1}')
        (folder / "model.safetensors").write_bytes(b"\0" * 10)
        (folder / "training_args.bin").write_bytes(str(folder).encode())
    assert weights_sha256(folders[0]) == weights_sha256(folders[1])
    (folders[1] / "model.safetensors").write_bytes(b"\1" * 10)
    assert weights_sha256(folders[0]) != weights_sha256(folders[1])
