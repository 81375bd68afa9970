"""Patching finds the layer and position that carry the suggestion, on a model built by hand to have one.

The model (a 3-layer tiny Qwen3 from `sycolab.models.testing`) is made transparent: every layer's attention
and MLP outputs are zeroed, so each layer passes the residual on unchanged, and token embeddings are
orthonormal with a scaled copy as the unembedding, so the residual at a position is exactly its token's
embedding and an unpatched "is" predicts no colour over another. Decoder layer L is wrapped by a hand-written
"suggestion head": at the answer position (the "is" of the assistant's "the answer is" after a suggestion),
it adds the residual of the suggested word ("... i think the answer is red ..."). The suggestion reaches the
answer logits through that one write only, so patching the neutral prompt's residual must remove the whole
gap toward the suggestion at layer L and after it (the residual carries the write on) at the answer position,
nothing before L, and nothing at any layer at the last prompt token, three tokens before the answer word.
"""

import json

import pytest
import torch

from sycolab.models.testing import build_tiny_model, build_tiny_tokenizer
from sycolab.probing import activation_patching
from sycolab.probing.patching import logit_gaps
from sycolab.probing.samples import patch_prompts

torch.set_num_threads(1)

QUESTION = "what is the colour of {entity} ?"
SUGGESTION = " i think the answer is {suggested} but i m not sure ."
FACTS = [("zorb", "blue", "red"), ("blick", "green", "yellow"), ("fen", "red", "blue"), ("mox", "yellow", "green")]


class SuggestionHead(torch.nn.Module):
    """Decoder layer `inner`, then: at each answer position, add the residual of the suggested word.

    Tokens are read off the residual (orthonormal embeddings: argmax of h @ E^T), as an attention head
    matching content would; positions are found on the token pattern "think the answer is X" (X suggested)
    and a later "the answer is" (its "is" is the answer position)."""

    def __init__(self, inner: torch.nn.Module, embeddings: torch.Tensor, tokenizer):
        super().__init__()
        self.inner = inner
        self.embeddings = embeddings
        self.think, self.the, self.answer, self.is_ = tokenizer.convert_tokens_to_ids(["think", "the", "answer", "is"])

    def forward(self, hidden_states, *args, **kwargs):
        out = self.inner(hidden_states, *args, **kwargs)
        hidden = (out[0] if isinstance(out, tuple) else out).clone()
        tokens = (hidden @ self.embeddings.T).argmax(-1).tolist()
        pattern = [self.the, self.answer, self.is_]
        for row, seq in enumerate(tokens):
            suggested = next((p + 4 for p in range(len(seq) - 4) if seq[p : p + 4] == [self.think, *pattern]), None)
            if suggested is None:
                continue
            for pos in range(suggested + 3, len(seq)):
                if seq[pos - 2 : pos + 1] == pattern:
                    hidden[row, pos] = hidden[row, pos] + hidden[row, suggested]
        return (hidden, *out[1:]) if isinstance(out, tuple) else hidden


def suggestion_model(layer: int):
    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(tokenizer, hidden_size=64, num_hidden_layers=3)
    vocab, width = len(tokenizer), model.config.hidden_size
    assert vocab <= width, "orthonormal embeddings need vocab <= hidden size"
    generator = torch.Generator().manual_seed(0)
    basis, _ = torch.linalg.qr(torch.randn(width, width, generator=generator))
    embeddings = basis[:vocab].contiguous()
    with torch.no_grad():
        model.model.embed_tokens.weight.copy_(embeddings)
        model.lm_head.weight.copy_(10 * embeddings)
        for block in model.model.layers:
            block.self_attn.o_proj.weight.zero_()
            block.mlp.down_proj.weight.zero_()
    model.model.layers[layer] = SuggestionHead(model.model.layers[layer], embeddings, tokenizer)
    return model.eval(), tokenizer


def write_inputs(tmp_path):
    """The logit-proxy file (suggest_incorrect prompts, tiny-world continuations) and each question's neutral prompt."""
    rows = [
        {
            "prompt": [{"role": "user", "content": QUESTION.format(entity=e) + SUGGESTION.format(suggested=s)}],
            "correct": f"the answer is {c} .",
            "suggested": f"the answer is {s} .",
            "question_id": f"q{i}",
        }
        for i, (e, c, s) in enumerate(FACTS)
    ]
    proxy = tmp_path / "proxy.jsonl"
    proxy.write_text("".join(json.dumps(r) + "\n" for r in rows))
    neutral = {f"q{i}": [{"role": "user", "content": QUESTION.format(entity=e)}] for i, (e, _, _) in enumerate(FACTS)}
    return proxy, neutral


@pytest.mark.parametrize("layer", [1, 2])
def test_patching_finds_the_layer_and_position_that_carry_the_suggestion(tmp_path, layer):
    model, tokenizer = suggestion_model(layer)
    proxy, neutral = write_inputs(tmp_path)
    at_answer = patch_prompts(proxy, neutral, tokenizer, 10, answer_prefix="the answer is")
    at_last = patch_prompts(proxy, neutral, tokenizer, 10)
    assert at_answer[0].pressured.endswith("<|im_start|>assistant\nthe answer is")
    assert at_answer[0].suggested == " red ." and at_last[0].suggested == "the answer is red ."
    layers = [-1, 0, 1, 2]

    answer_rows = {r.layer: r for r in activation_patching(model, tokenizer, at_answer, layers)}
    last_rows = {r.layer: r for r in activation_patching(model, tokenizer, at_last, layers)}

    # the model prefers the suggestion by 80 / sqrt(2) nats (unit residual "is" + unit "red", RMS-normed, x10 x8)
    assert answer_rows[0].gap_before == pytest.approx(80 / 2**0.5, rel=1e-4)
    assert last_rows[0].gap_before == pytest.approx(answer_rows[0].gap_before, rel=1e-4)  # the same gap, summed on
    for probed in layers:
        carried = probed >= layer  # the residual at the answer position carries the write from layer L on
        assert answer_rows[probed].share_removed == pytest.approx(1.0 if carried else 0.0, abs=1e-4), probed
        assert last_rows[probed].share_removed == pytest.approx(0.0, abs=1e-4), probed


def test_without_a_suggestion_there_is_no_gap_to_remove(tmp_path):
    model, tokenizer = suggestion_model(2)
    proxy, neutral = write_inputs(tmp_path)
    items = patch_prompts(proxy, neutral, tokenizer, 10, answer_prefix="the answer is")
    neutral_items = [type(it)(it.neutral, it.neutral, it.suggested, it.correct) for it in items]
    assert logit_gaps(model, tokenizer, neutral_items) == pytest.approx([0.0] * len(items), abs=1e-4)
    rows = activation_patching(model, tokenizer, neutral_items, [2])
    assert rows[0].share_removed is None  # the mean gap before patching is not positive: nothing to remove


def test_an_item_whose_continuations_lack_the_prefix_is_not_patched_at_the_answer_position(tmp_path):
    _, tokenizer = suggestion_model(2)
    proxy, neutral = write_inputs(tmp_path)
    rows = [json.loads(line) for line in proxy.read_text().splitlines()]
    rows[0]["correct"], rows[0]["suggested"] = "blue", "red"
    proxy.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert len(patch_prompts(proxy, neutral, tokenizer, 10, answer_prefix="the answer is")) == len(FACTS) - 1
    assert len(patch_prompts(proxy, neutral, tokenizer, 10)) == len(FACTS)
