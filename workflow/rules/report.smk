# The report: Tables 2-4 and Figures 4-6 beside the paper's numbers, in report/index.html.
# Built from the datasets that are ready (see the dataset checkpoint in data.smk); what was
# asked for and did not run is listed in the report.


rule report:
    input:
        results=report_inputs,
        costs=cost_results(),
        code=REPORT_CODE,
    output:
        # flagged for `snakemake --report`: the bundle holds the page, the claims and the runtimes
        page=report("report/index.html", caption="../report/page.rst", category="Report"),
        claims=report("report/claims.csv", caption="../report/claims.rst", category="Claims"),  # written beside the page
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
        "--out {output.page} > {log} 2>&1"
