"""mamd's configuration: one YAML file, validated in one place, swapped whole on reload."""

from mamd.config.diff import Change, diff, iter_secrets, keep_restart_keys
from mamd.config.load import load_config
from mamd.config.model import Config
from mamd.config.problems import ConfigError, Problem
from mamd.config.units import Bitrate, Duration, Secret, Size

__all__ = [
    "Bitrate",
    "Change",
    "Config",
    "ConfigError",
    "Duration",
    "Problem",
    "Secret",
    "Size",
    "diff",
    "iter_secrets",
    "keep_restart_keys",
    "load_config",
]
