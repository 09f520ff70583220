"""The thesis campaign: plans (experiments/plans/*.toml), the steps they derive (trainings, adversarial
sets, evaluations, searches, results pages) and the runner behind `axx reproduce`."""
from .names import ModelName, parse_model
from .plan import Plan, builtin_plans, load_plan
from .runner import reproduce
from .steps import Context, derive_steps

__all__ = ["Context", "ModelName", "Plan", "builtin_plans", "derive_steps", "load_plan", "parse_model", "reproduce"]
