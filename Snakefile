# Reproduction suite for multi-scale residual pooling person re-identification.
# Run: snakemake --cores 8 --resources gpu=1   (configs/config.yaml: the synthetic set, CPU is enough)
from snakemake.utils import validate

configfile: "configs/config.yaml"
validate(config, "reid/resources/config.schema.yaml")

include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"


rule all:
    input:
        expand("{root}/{name}/.reid_dataset.json", root=DATA_ROOT, name=DATASETS),
        expand("results/{name}/histogram_baseline.json", name=DATASETS),
