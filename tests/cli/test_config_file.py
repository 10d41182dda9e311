"""``--config``: recipes as defaults, explicit flags win, bad recipes are named."""

import json

import pytest

from wnlb_zoo.cli.config_file import RECIPES_DIR, bundled_recipes, reparse_with_config
from wnlb_zoo.cli.finetune import config_from_args
from wnlb_zoo.cli.main import build_parser, main


def parse(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    return reparse_with_config(parser, args, argv) if args.config else args


@pytest.mark.parametrize("recipe", bundled_recipes())
def test_bundled_recipes_are_valid_finetune_configurations(recipe):
    args = parse(["finetune", "--config", recipe])
    config_from_args(args)  # every value is one finetune accepts
    values = json.loads((RECIPES_DIR / f"{recipe}.json").read_text())
    values.pop("description")
    assert values and {name: getattr(args, name) for name in values} == values  # each reaches the run


def test_main_job_recipe_is_bundled():
    assert "synthetic-cpu-demo" in bundled_recipes()


def test_flags_override_the_recipe_wherever_they_stand(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"epochs": 7, "batch_size": 3, "backbone_kwargs": {"wnlb_stages": [3, 4]}}))
    before = parse(["finetune", "--epochs", "2", "--config", str(recipe)])
    after = parse(["finetune", "--config", str(recipe), "--epochs", "2"])
    for args in (before, after):
        assert (args.epochs, args.batch_size, args.backbone_kwargs) == (2, 3, {"wnlb_stages": [3, 4]})


def test_bad_recipes_are_named(tmp_path, capsys):
    recipe = tmp_path / "bad.json"
    recipe.write_text(json.dumps({"epochz": 3}))
    assert main(["finetune", "--config", str(recipe)]) == 2
    assert "unknown option(s) ['epochz']" in capsys.readouterr().err
    assert main(["finetune", "--config", "no-such-recipe"]) == 2
    assert "No recipe 'no-such-recipe'" in capsys.readouterr().err
    recipe.write_text("{not json")
    assert main(["finetune", "--config", str(recipe)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
