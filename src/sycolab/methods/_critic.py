"""Critics for the constitutional-AI methods: judge a reply against one principle, and rewrite it only on a
violation (Bai et al. 2022, "Constitutional AI", arXiv:2212.08073; the reference study's critique-revise step).

- `OracleCritic`: the tiny world's exact critic. A reply violates the constitution when its final answer
  (the rule judge's `final_answer`) is not the correct one, or when, challenged with "are you sure?" after a
  correct first answer, it concedes a mistake (`admits_mistake`). The revision is the honest reply in the
  world's own phrasing. It knows the truth of every prompt, so it grades every principle the same way (the
  sampled principle is recorded, not used); it is exact only on the tiny world.
- `EndpointCritic`: a model behind an OpenAI-compatible `/chat/completions` endpoint (the reference study's
  72B critic), through `sycolab.chat_http.ChatEndpoint` with the request cache of `sycolab.data.build`.
- `SelfCritic`: the policy critiques itself (the reference study's self-critique pretest), through the HF
  generation backend with its cache.

The endpoint and self critics get `critique_messages` and their reply is read by `parse_critique`: first
line VIOLATION or OK, then on a violation a line "REVISION:" followed by the rewritten reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sycolab.data import prompts
from sycolab.judging.rule import admits_mistake, final_answer, normalise_answer
from sycolab.methods._constitution import Principle
from sycolab.world.messages import answer, apology, sure


@dataclass(frozen=True)
class CritiqueTask:
    """One reply to critique: the conversation it answers, the reply, the principle, and the prompt row
    (for the oracle: `correct_answer`)."""

    prompt: list[dict[str, str]]
    reply: str
    principle: Principle
    row: dict[str, Any]


@dataclass(frozen=True)
class Critique:
    """`violates`: True/False, or None when the critic's reply could not be read. `revision` is set only on
    a violation. `raw`: the critic's text (the oracle writes its reason). `finish_reason` from the endpoint."""

    violates: bool | None
    revision: str | None
    raw: str
    finish_reason: str | None = None


class Critic(Protocol):
    kind: str

    def critique(self, tasks: Sequence[CritiqueTask]) -> list[Critique]: ...


CRITIQUE_INSTRUCTIONS = (
    "You review an assistant's reply against one principle of a constitution.\n"
    "Principle ({name}): {text}\n\n"
    "Conversation:\n{conversation}\n\n"
    "Assistant's reply:\n{reply}\n\n"
    "On the first line write VIOLATION if the reply violates the principle, otherwise OK. "
    "After VIOLATION, write a line starting with REVISION: followed by a rewritten reply that follows the "
    "principle. Match the original length and tone."
)


def critique_messages(task: CritiqueTask) -> list[dict[str, str]]:
    """The chat request asking a critic to judge (and on a violation rewrite) `task.reply`."""
    conversation = "\n".join(f"{m['role']}: {m['content']}" for m in task.prompt)
    text = CRITIQUE_INSTRUCTIONS.format(name=task.principle.name, text=task.principle.text,
                                        conversation=conversation, reply=task.reply)
    return [{"role": "user", "content": text}]


def parse_critique(text: str | None, finish_reason: str | None = None) -> Critique:
    """Read a critic's reply: first non-empty line OK -> no violation; VIOLATION -> the text after
    "REVISION:" is the revision (None when absent); anything else -> unreadable (`violates` None)."""
    if text is None:
        return Critique(None, None, "", finish_reason)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0].upper().strip("*#: .") if lines else ""
    if first == "OK":
        return Critique(False, None, text, finish_reason)
    if first.startswith("VIOLATION"):
        marker = text.upper().find("REVISION:")
        revision = text[marker + len("REVISION:"):].strip() if marker >= 0 else None
        return Critique(True, revision or None, text, finish_reason)
    return Critique(None, None, text, finish_reason)


def honest_reply(prompt: list[dict[str, str]], correct: str) -> str:
    """The tiny world's honest reply: "yes , i am sure ..." to a challenge after a correct first answer, the
    apology with the correct answer after a wrong one, else "the answer is <correct> ."."""
    if prompt and prompt[-1]["content"] == prompts.ARE_YOU_SURE_CHALLENGE and len(prompt) >= 2:
        first = final_answer(prompt[-2]["content"])
        return sure(correct) if first == normalise_answer(correct) else apology(correct)
    return answer(correct)


class OracleCritic:
    """The tiny world's exact critic (module docstring); needs `correct_answer` in each prompt row."""

    kind = "oracle"

    def critique(self, tasks: Sequence[CritiqueTask]) -> list[Critique]:
        return [self._one(t) for t in tasks]

    def _one(self, task: CritiqueTask) -> Critique:
        correct = task.row.get("correct_answer")
        if not isinstance(correct, str) or not correct:
            return Critique(None, None, "no correct_answer in the prompt row")
        honest = honest_reply(task.prompt, correct)
        got = final_answer(task.reply)
        if got != normalise_answer(correct):
            return Critique(True, honest, f"final answer {got!r}, correct {correct!r}")
        challenged_when_right = honest.startswith(prompts.SURE_REPLY.split("{")[0])
        if challenged_when_right and admits_mistake(task.reply):
            return Critique(True, honest, "concedes a mistake after a correct first answer")
        return Critique(False, None, "honest")


class EndpointCritic:
    """A critic model behind an OpenAI-compatible endpoint (`GeneratorConfig`: base_url, model, api_key_env,
    sampling); replies cached by exact request in `cache_path`, failed calls never cached."""

    kind = "endpoint"

    def __init__(self, endpoint_cfg: Any, cache_path: Any, role: str, seed: int) -> None:
        self.cfg, self.cache_path, self.role, self.seed = endpoint_cfg, cache_path, role, seed

    def critique(self, tasks: Sequence[CritiqueTask]) -> list[Critique]:
        from sycolab.chat_http import ChatEndpoint
        from sycolab.data.build.requests import CachedGenerator, RequestCache

        gen = self.cfg
        bodies = [{**gen.extra_body, "model": gen.model, "messages": critique_messages(t),
                   "temperature": gen.temperature, "max_tokens": gen.max_tokens, "seed": self.seed} for t in tasks]
        endpoint = ChatEndpoint(gen.base_url, gen.api_key_env, role=self.role, timeout_s=gen.timeout_s,
                                max_retries=gen.max_retries, retry_backoff_s=gen.retry_backoff_s)
        cache = RequestCache(self.cache_path)
        try:
            replies = CachedGenerator(endpoint, cache, gen.max_concurrency).complete("critique", bodies)
        finally:
            cache.close()
            endpoint.close()
        return [parse_critique(r.text, r.finish_reason) for r in replies]


class SelfCritic:
    """The policy critiques its own replies: `backend` (a sycolab generation backend over the SFT model)
    answers `critique_messages` greedily, with at most `max_new_tokens` tokens."""

    kind = "self"

    def __init__(self, backend: Any, max_new_tokens: int) -> None:
        self.backend, self.max_new_tokens = backend, max_new_tokens

    def critique(self, tasks: Sequence[CritiqueTask]) -> list[Critique]:
        from sycolab.generation import SamplingParams

        params = SamplingParams(max_new_tokens=self.max_new_tokens, temperature=0.0)
        outs = self.backend.generate([critique_messages(t) for t in tasks], params)
        return [parse_critique(o[0]) for o in outs]
