"""Log-probability of a continuation after a prompt: the toolkit's one scoring function (the logit proxy,
`sycolab.evaluation.proxy`, and activation patching, `sycolab.probing.patching`, both call it).

    logp(c | p) = sum_t log p(c_t | p, c_<t)

summed over the continuation's tokens, in nats. Tokens come from `encode_continuation`: the prompt text and
the prompt + continuation text are encoded, and the continuation is what the joint encoding adds after the
prompt's own ids (lm-evaluation-harness's rule: a merge across the boundary is scored as the model would
read it); when the joint ids do not start with the prompt's ids the two parts are encoded on their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch

from sycolab.errors import UserError
from sycolab.generation._torch_utils import accepts_kwarg, eval_mode, left_pad, model_device

TokenPair = tuple[Sequence[int], Sequence[int]]
"""(prompt ids, continuation ids) of one pair."""
AroundForward = Callable[[list[int], list[int]], AbstractContextManager[Any]]
"""`around_forward(indices, last_prompt_positions)`: a context entered around one batch's forward pass,
given the pairs' indices in the batch's row order and each row's column of its last prompt token."""


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of an already rendered text (the chat template supplies any special tokens)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise UserError(f"text {text[:60]!r} encodes to no tokens")
    return list(ids)


def encode_continuation(tokenizer: Any, prompt: str, continuation: str) -> tuple[list[int], list[int]]:
    """(prompt ids, continuation ids) such that their concatenation is how the model reads prompt + continuation
    (see the module docstring)."""
    prompt_ids = encode(tokenizer, prompt)
    full = encode(tokenizer, prompt + continuation)
    if len(full) > len(prompt_ids) and full[: len(prompt_ids)] == prompt_ids:
        return prompt_ids, full[len(prompt_ids) :]
    return prompt_ids, encode(tokenizer, continuation)


def continuation_logprobs(
    model: torch.nn.Module,
    pairs: Sequence[TokenPair],
    *,
    pad: int,
    batch_size: int,
    longest_first: bool = False,
    around_forward: AroundForward | None = None,
) -> list[float]:
    """`logp(continuation | prompt)` of each (prompt ids, continuation ids) pair, in the pairs' order.

    Rows are left-padded with position ids that count real tokens (`left_pad`), so every continuation ends
    at the last column and only the last `max continuation length + 1` positions need logits
    (`logits_to_keep` where the model takes it: memory stays small with a 150k vocabulary).
    `longest_first` batches the pairs longest first (less padding); otherwise in the given order.
    `around_forward`: e.g. a hook that patches the residual at each row's last prompt token. The model's
    train/eval mode is restored afterwards.
    """
    if batch_size < 1:
        raise UserError(f"batch_size: expected an integer >= 1, got {batch_size}")
    for prompt_ids, cont_ids in pairs:
        if not prompt_ids or not cont_ids:
            raise UserError("every prompt and continuation must have at least one token")
    order = list(range(len(pairs)))
    if longest_first:
        order.sort(key=lambda i: -(len(pairs[i][0]) + len(pairs[i][1])))
    device = model_device(model)
    logits_kwargs = accepts_kwarg(model, "logits_to_keep")
    out = [0.0] * len(pairs)
    with eval_mode(model), torch.inference_mode():
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            rows = [pairs[i] for i in indices]
            cont_lens = [len(c) for _, c in rows]
            ids, mask, positions = left_pad([[*p, *c] for p, c in rows], pad, device)
            width = ids.shape[1]
            keep = max(cont_lens) + 1
            kwargs = {"logits_to_keep": keep} if logits_kwargs else {}
            context = (around_forward(indices, [width - n - 1 for n in cont_lens]) if around_forward is not None
                       else contextlib.nullcontext())
            with context:
                logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False,
                               **kwargs).logits
            logp = logits[:, -keep:].float().log_softmax(-1)  # column j of the kept block predicts token j + 1
            for r, (i, (_, cont)) in enumerate(zip(indices, rows)):
                n = len(cont)
                columns = torch.arange(keep - n - 1, keep - 1, device=device)
                out[i] = float(logp[r, columns, torch.as_tensor(list(cont), device=device)].sum())
    return out
