"""Reference reproduction suite for multi-scale residual pooling person re-identification.

He, Liu, Zhu, "Person re-identification method based on multi-scale residual pooling",
Proc. SPIE 12506, 125066I.
"""


def version() -> str:
    """This suite's version as installed: pyproject.toml's, the one place it is written."""
    from importlib import metadata

    try:
        return metadata.version("reid-msrp")
    except metadata.PackageNotFoundError:  # a source folder that was never installed
        return "(not installed)"
