"""A micro world and a 2-layer tiny model as config dicts, for the integration tests that build a study config
in Python (the YAML micro study of conftest.py is a little larger). Import as `from _micro_parts import ...`
(pytest puts tests/integration on sys.path)."""

MICRO_WORLD = dict(n_entities=24, n_unknown_entities=2, n_relations=2, n_values=4, n_eval_questions=4,
                   n_are_you_sure=4, n_feedback_eval=2, n_feedback_train=2, n_feedback_sft=2, n_grpo_prompts=4,
                   math_max_operand=3, base_gate=False,  # a 10-step base knows nothing: no knowledge gate
                   stance_gate=False,  # and a few-step SFT learns no stance
                   base_in_context=20)  # the default 600 reading rows would swamp a 24-entity corpus
MICRO_MODEL = dict(hidden_size=32, num_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=64)
