"""Crosscoders and Dedicated Feature Crosscoders: model, sparse kernels, training, checkpoints."""

from crossdiff.crosscoder.config import CrosscoderConfig, RunConfig, TrainConfig
from crossdiff.crosscoder.model import Crosscoder

__all__ = ["Crosscoder", "CrosscoderConfig", "RunConfig", "TrainConfig"]
