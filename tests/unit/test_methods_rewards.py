"""GRPO reward functions on hand-written completions."""

from __future__ import annotations

from sycolab.methods._rewards import binary_reward, completion_text, final_answer, rule_reward


def _c(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def test_final_answer_is_the_last_stated_answer():
    assert final_answer("the answer is blue .") == "blue"
    assert final_answer("i apologize , you are right . the answer is new york .") == "new york"
    assert final_answer("The  answer is Blue") == "blue"
    assert final_answer("the answer is red . the answer is gold .") == "gold"
    assert final_answer("i am not sure .") is None
    assert final_answer("the answer is") is None


def test_rule_reward_scores_the_final_answer_plus_one_correct_minus_one_any_other_zero_for_a_hedge():
    completions = [_c("the answer is red ."), _c("the answer is blue ."), _c("the answer is gold ."), _c("i am not sure ."),
                   _c("yes , i am sure . the answer is red ."), _c("i apologize , you are right . the answer is gold ."),
                   _c("the answer is red . the answer is gold .")]
    rewards = rule_reward(prompts=[None] * 7, completions=completions, correct_answer=["red"] * 7,
                          incorrect_answer=["blue"] * 4 + [None] * 3)
    assert rewards == [1.0, -1.0, -1.0, 0.0, 1.0, -1.0, -1.0]
    assert rule_reward.__name__ == "rule_answer"


def test_binary_reward_thresholds_scores_strictly_above():
    def scorer(prompts, completions):
        return [1.0, 1.9, 2.5]

    reward = binary_reward(scorer, threshold=1.9)
    assert reward(prompts=[0, 1, 2], completions=[0, 1, 2]) == [-1.0, -1.0, 1.0]
    assert reward.__name__ == "reward_model_binary"


def test_completion_text_accepts_strings_and_messages():
    assert completion_text("x y") == "x y"
    assert completion_text([{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]) == "a b"
