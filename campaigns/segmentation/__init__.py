"""Pure: the segment rule language (JSON) — catalogue, validation, compilation to one Q.

A rule is a condition or a group, nested to any depth up to MAX_DEPTH:

    {"all": [cond, {"any": [cond, cond]}, {"not": cond}]}

    {"field": "country", "op": "in", "value": ["SE", "NO"]}
    {"field": "order_count", "op": ">=", "value": 2, "window": {"last_days": 90}}
    {"field": "total_spent", "op": ">=", "value": 500, "window": {"period": "this_quarter"}}
    {"field": "event", "event_type": "purchase", "op": "did_not", "window": {"last_days": 30}}
    {"field": "signed_up_at", "op": "in_last_days", "value": 30}
    {"field": "consent", "op": "given", "value": "offers"}
    {"attribute": "shoe_size", "op": ">=", "value": 42}
    {"field": "bought", "category": "Kitchen > Knives", "op": ">=", "value": 3,
     "window": {"last_days": 90}}
    {"field": "viewed", "sku": "KNIFE-1", "op": "did"}
    {"field": "spent_on", "brand": "Fiskars", "op": ">=", "value": 500}

Fields, operators and choices are in `catalogue`; nothing here runs a query: the caller
passes the custom attribute types (from AttributeDefinition), what the product catalogue
holds of the categories, brands and SKUs a rule names (ProductFacts, when checking a rule
a marketer is saving), `now` and the site's zone.
"""
from .catalogue import FIELDS, FIELDS_BY_KEY, OPERATORS, catalogue_data
from .compiler import condition_q, condition_values, tree_conditions, tree_q
from .explain import actual_words, condition_words
from .validation import (
    MAX_CONDITIONS, MAX_DEPTH, Condition, Group, Not, ProductFacts, RuleError, RuleProblem,
    rule_errors, rule_parse, rule_problems, rule_warnings,
)


def rule_compile(rule, *, now, zone, attributes=None):
    """`rule` as one Q over Customer; raises RuleError (with every problem) when invalid."""
    return tree_q(rule_parse(rule, attributes=attributes), now=now, zone=zone)


__all__ = [
    "FIELDS", "FIELDS_BY_KEY", "MAX_CONDITIONS", "MAX_DEPTH", "OPERATORS", "Condition", "Group",
    "Not", "ProductFacts", "RuleError", "RuleProblem", "actual_words", "catalogue_data", "condition_q",
    "condition_values", "condition_words", "rule_compile", "rule_errors", "rule_parse",
    "rule_problems", "rule_warnings", "tree_conditions", "tree_q",
]
