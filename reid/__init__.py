"""Reference reproduction suite for multi-scale residual pooling person re-identification.

He, Liu, Zhu, "Person re-identification method based on multi-scale residual pooling",
Proc. SPIE 12506, 125066I.
"""

__version__ = "0.1.0"
