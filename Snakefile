# Reproduction suite for multi-scale residual pooling person re-identification.
# Run: snakemake   (profiles/default: every core; configs/config.yaml: the synthetic set, CPU is enough)
from snakemake.utils import validate

from reid.config import check_renamed

# This is the default config, unless --configfile names another (Snakemake would merge the two).
if not workflow.overwrite_configfiles:

    configfile: "configs/config.yaml"


check_renamed(config)  # A key of an earlier release stops with one line that names its new name.
validate(config, "reid/resources/config.schema.yaml")  # This fills in the schema's defaults.


report: "workflow/report/workflow.rst"  # snakemake --report report/suite.zip uses it as the bundle's front page.

include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/card.smk"
include: "workflow/rules/cost.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/cross.smk"


rule all:
    default_target: True
    input:
        "report/index.html",
        "report/claims.csv",
        all_results(),  # With --keep-going the report is still built when a dataset is missing.
        card_results(),  # This is each training's model card, beside its model.pt.
        histogram_baselines(),


# The readings of the paper that need trainings of their own (reid.variants.TRAINING_READINGS):
# avg, max and residual trained and evaluated again with the reading's train: keys, under
# results/<dataset>/readings/<name>/, each with its model card. Not part of the default run: `snakemake readings`, then
# `snakemake` again puts them in the report's sensitivity table.
rule readings:
    input:
        reading_results(),
        reading_cards(),


# Cross-dataset evaluation (workflow/rules/cross.smk): each trained model on every other dataset
# of the config. Not part of the default run: `snakemake cross`, then `snakemake` again puts them
# in the report's cross-dataset table and claims.
rule cross:
    input:
        cross_results(),
