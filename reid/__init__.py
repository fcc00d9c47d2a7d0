"""Reference reproduction suite for multi-scale residual pooling person re-identification.

He, Liu, Zhu, "Person re-identification method based on multi-scale residual pooling",
Proc. SPIE 12506, 125066I.
"""

from importlib import metadata


def version() -> str:
    """This suite's version as installed: pyproject.toml's, the one place it is written."""
    try:
        return metadata.version("reid-msrp")
    except metadata.PackageNotFoundError:  # a source folder that was never installed
        return "(not installed)"
