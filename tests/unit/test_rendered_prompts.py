"""Rendered prompts kept on disk: a known prompt is read back without the tokenizer, and anything that
could change a rendering (the chat template, the tokenizer files) gives another file."""

from __future__ import annotations

from sycolab.generation.chat import render_prompt
from sycolab.generation.rendered import RENDERED_DIR, RenderedPrompts, renderer_key
from sycolab.models.testing import build_tiny_tokenizer

PROMPTS = [
    [{"role": "user", "content": "w1 w2 ?"}],
    [{"role": "user", "content": "w3 ?"}, {"role": "assistant", "content": "w4"}],  # continued
]


def _saved_tokenizer(folder):
    tokenizer = build_tiny_tokenizer([f"w{i}" for i in range(8)] + ["?"])
    tokenizer.save_pretrained(folder)
    return tokenizer


def test_known_prompts_are_read_back_without_rendering(tmp_path):
    tokenizer = _saved_tokenizer(tmp_path / "model")
    calls: list[list[dict]] = []

    def render(messages):
        calls.append(messages)
        return render_prompt(tokenizer, messages)

    first = RenderedPrompts.for_folder(tmp_path / "cache", tmp_path / "model", render)
    texts = [first(p) for p in PROMPTS] + [first(PROMPTS[0])]
    assert len(calls) == 2 and first.rendered == 2
    assert texts[:2] == [render_prompt(tokenizer, p) for p in PROMPTS] and texts[2] == texts[0]
    first.save()
    assert len(list((tmp_path / "cache" / RENDERED_DIR).glob("*.json"))) == 1

    def refuse(messages):
        raise AssertionError("rendered although cached")

    again = RenderedPrompts.for_folder(tmp_path / "cache", tmp_path / "model", refuse)
    assert [again(p) for p in PROMPTS] == texts[:2] and again.rendered == 0


def test_a_changed_chat_template_is_another_key_and_a_hub_id_has_none(tmp_path):
    _saved_tokenizer(tmp_path / "model")
    before = renderer_key(tmp_path / "model")
    assert before is not None and before == renderer_key(tmp_path / "model")
    template = next(p for p in (tmp_path / "model").iterdir() if p.name in ("chat_template.jinja",
                                                                            "tokenizer_config.json"))
    template.write_text(template.read_text().replace("<|im_start|>", "<|im_start|> "))
    assert renderer_key(tmp_path / "model") != before
    assert renderer_key("Qwen/Qwen3-8B") is None
    none = RenderedPrompts.for_folder(tmp_path / "cache", "Qwen/Qwen3-8B", lambda m: "x")
    assert none(PROMPTS[0]) == "x" and none.path is None
    none.save()
    assert not (tmp_path / "cache").exists()
