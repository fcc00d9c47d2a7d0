"""Data feeding for training and evaluation: the PK sampler, the decoded-image cache and the
batched on-device augmentation."""
