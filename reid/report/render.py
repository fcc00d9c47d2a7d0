"""The page's templates (reid/report/templates/), rendered with Jinja2.

Autoescaping is on for every template: each value a template prints is HTML-escaped, so names
from configs and files stay text, and no Python code here writes markup. A template that uses a
name it was not given fails (StrictUndefined) rather than printing nothing.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2  # Jinja2 comes installed with Snakemake, which renders its own reports with it.

TEMPLATES = Path(__file__).with_name("templates")


@functools.cache
def environment() -> jinja2.Environment:
    """Return the one Jinja2 environment of the report, with templates from TEMPLATES, escaped."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,  # A line that holds only a {% tag %} then leaves no blank line behind.
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context) -> str:
    """Fill in the template ``template`` (a file name under TEMPLATES) with ``context``."""
    return environment().get_template(template).render(**context)
