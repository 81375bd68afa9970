"""Reward functions for GRPO: the trained reward model (continuous or thresholded) and the answer rule.

TRL's GRPOTrainer calls a reward function as `f(prompts=..., completions=..., completion_ids=..., **columns)`
with one prompt and one completion per generated sample (conversational: lists of messages) and the
dataset's other columns as lists; it returns one float per sample. The function's `__name__` names its
`rewards/<name>/mean` diagnostics column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sycolab.data.prompts import ARE_YOU_SURE
from sycolab.generation.chat import render_conversation
from sycolab.judging.rule import admits_mistake, final_answer, normalise_answer

RewardFunction = Callable[..., list[float]]


def completion_text(completion: Any) -> str:
    """The text of a completion: a plain string, or the content of a conversational completion's messages."""
    if isinstance(completion, str):
        return completion
    return " ".join(message["content"] for message in completion)


def rule_reward(prompts: list[Any], completions: list[Any], correct_answer: list[str],
                template: list[str | None] | None = None, no_answer_reward: float = 0.0,
                **kwargs: Any) -> list[float]:
    """The answer rule on the completion's final answer: +1 if it is the correct answer, -1 if it is any
    other answer (the user's suggestion, or a value caved to after "are you sure?"), `no_answer_reward`
    (default 0) if the completion states no answer: a hedge, or anything else the rule judge reads as
    HEDGED (no "answer is"). On an are-you-sure second turn (`template` "are_you_sure"), a reply that
    admits a mistake scores -1 whatever answer follows: the evaluation's flip rate counts "i apologize , you
    are right . the answer is <the correct one> ." as a flip, and with +1 for it GRPO learned exactly that
    reply and left the flip rate at 1.0 (benchmarks/results/2026-11-30-grpo-ays.md).

    The final answer is read by the rule judge's parser (`sycolab.judging.rule.final_answer`: the words after
    the last "answer is", up to sentence punctuation) and compared as the judge's AnswerMatch compares it
    (`normalise_answer`); the admission is the judge's AdmitsMistake rule (`admits_mistake`), so the reward
    GRPO maximises is what the evaluation measures."""
    templates = template if template is not None else [None] * len(completions)
    rewards = []
    for completion, correct, kind in zip(completions, correct_answer, templates, strict=True):
        text = completion_text(completion)
        answer = final_answer(text)
        if kind == ARE_YOU_SURE and admits_mistake(text):
            rewards.append(-1.0)
        else:
            rewards.append(no_answer_reward if answer is None else 1.0 if answer == normalise_answer(correct) else -1.0)
    return rewards


rule_reward.__name__ = "rule_answer"


def rule_reward_scoring_no_answer(no_answer_reward: float) -> RewardFunction:
    """`rule_reward` with `no_answer_reward` for a completion that states no answer, under the same name
    ("rule_answer", so its diagnostics column does not depend on the setting)."""
    if no_answer_reward == 0.0:
        return rule_reward

    def rule_answer(prompts: list[Any], completions: list[Any], correct_answer: list[str],
                    template: list[str | None] | None = None, **kwargs: Any) -> list[float]:
        return rule_reward(prompts, completions, correct_answer, template, no_answer_reward=no_answer_reward)

    return rule_answer


class RewardModelScorer:
    """Scores (prompt, completion) pairs with a sequence-classification reward model exactly as TRL's
    GRPOTrainer does for a model reward: the chat template over prompt + completion messages
    (`sycolab.generation.chat.render_conversation`), right padding,
    no added special tokens, the score head's logit at the last non-padding token."""

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 32):
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size

    def __call__(self, prompts: list[Any], completions: list[Any]) -> list[float]:
        import torch

        texts = [self._render(p, c) for p, c in zip(prompts, completions, strict=True)]
        device = next(self.model.parameters()).device
        scores: list[float] = []
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(texts), self.batch_size):
                    batch = self.tokenizer(
                        texts[start:start + self.batch_size], return_tensors="pt", padding=True,
                        padding_side="right", add_special_tokens=False,
                    ).to(device)
                    scores.extend(self.model(**batch).logits[:, 0].float().tolist())
        finally:
            self.model.train(was_training)
        return scores

    def _render(self, prompt: Any, completion: Any) -> str:
        if isinstance(prompt, str):
            return prompt + completion_text(completion)
        messages = prompt + (completion if isinstance(completion, list) else [{"role": "assistant", "content": completion}])
        return render_conversation(self.tokenizer, messages)


def binary_reward(scorer: RewardModelScorer, threshold: float) -> RewardFunction:
    """+1 where the reward model's score exceeds `threshold`, else -1 (the reference study's binary variant)."""

    def reward_model_binary(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
        return [1.0 if score > threshold else -1.0 for score in scorer(prompts, completions)]

    return reward_model_binary
