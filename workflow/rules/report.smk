# The claims and the report. The claims step judges the paper's claims (and the config's own) on
# the results and writes report/claims.csv, with report/claims.json for the page; the report
# renders report/index.html: Tables 2-4 and Figures 4-6 beside the paper's numbers, and the
# claims as judged, which it does not judge again. Both are built from the datasets that are
# ready (see the dataset checkpoint in data.smk); what was asked for and did not run is listed
# in the report.

# This is the package code that judges, so editing it judges again (and renders the page again).
CLAIMS_CODE = package_code("claims", "stats", "paper")
# The page's Jinja2 templates are inputs of the report as its code is (package_code lists Python
# files only), so editing one renders the page again. There are none with a default storage provider, as there.
REPORT_TEMPLATES = (
    sorted(str(p) for p in (Path(workflow.basedir) / "reid" / "report" / "templates").iterdir())
    if workflow.storage_settings.default_storage_provider is None
    else []
)


rule claims:
    input:
        # These are the report's inputs less the figures, which no verdict reads, so that the claims
        # need not wait for Figures 4 and 6.
        results=lambda w: [f for f in report_inputs(w) if not f.endswith(".png")],
        costs=cost_results(),
        code=CLAIMS_CODE,
    output:
        # flagged for `snakemake --report`: the bundle holds the claims beside the page
        claims=report("report/claims.csv", caption="../report/claims.rst", category="Claims"),
        judged="report/claims.json",  # every verdict at full precision, for the page
    params:
        config=shlex.quote(json.dumps(config, sort_keys=True)),
        # where this job reads them: under the storage prefix with the Kubernetes profile
        results=lambda w: str(stored("results")),
    log:
        "logs/claims.log",
    benchmark:
        "benchmarks/claims.tsv"
    shell:
        "python -m reid claims --config-json {params.config} --results {params.results} --out {output.claims} "
        "--json {output.judged} > {log} 2>&1"


rule report:
    input:
        results=report_inputs,
        costs=cost_results(),
        judged="report/claims.json",
        code=REPORT_CODE + REPORT_TEMPLATES,
    output:
        # flagged for `snakemake --report`: the bundle holds the page (and the claims, flagged above)
        page=report("report/index.html", caption="../report/page.rst", category="Report"),
    params:
        config=shlex.quote(json.dumps(config, sort_keys=True)),
        # where this job reads them: under the storage prefix with the Kubernetes profile
        results=lambda w: str(stored("results")),
        benchmarks=lambda w: str(stored("benchmarks")),
    log:
        "logs/report.log",
    benchmark:
        "benchmarks/report.tsv"
    shell:
        "python -m reid report --config-json {params.config} --results {params.results} --benchmarks {params.benchmarks} "
        "--claims {input.judged} --out {output.page} > {log} 2>&1"
