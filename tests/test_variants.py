"""The list of variants is written once (the config schema's ``variants`` default, which
reid.variants reads), and the schema's check, the CLI and the models agree with it."""

import yaml

from reid.config import SCHEMA_PATH
from reid.variants import RERANKED, VARIANTS, table_rows


def test_schema_enum_is_the_list_of_variants():
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    assert tuple(schema["properties"]["variants"]["items"]["enum"]) == VARIANTS


def test_cli_and_models_use_the_same_list():
    from reid.cli import build_parser
    from reid.models import VARIANTS as MODEL_VARIANTS

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    choices = next(a.choices for a in train._actions if a.dest == "variant")
    assert tuple(choices) == VARIANTS == tuple(MODEL_VARIANTS)


def test_table_rows_add_the_reranked_residual_only_with_residual():
    assert table_rows(["avg", "residual"]) == ["avg", "residual", RERANKED]
    assert table_rows(["baseline", "max"]) == ["baseline", "max"]


def test_every_variant_says_in_one_line_what_it_is():
    """A model card opens with its variant's description (reid.card), so none may be missing."""
    from reid.variants import DESCRIPTIONS

    assert set(DESCRIPTIONS) == set(VARIANTS)
    assert all(text and "\n" not in text and not text.endswith(".") for text in DESCRIPTIONS.values())
