"""padlab for PyTorch: padding rules inside CNNs, model conversion, audits and experiments.

Optional: needs ``torch`` (``pip install padlab[torch]``). ``import padlab`` never imports it.
"""

from padlab.errors import PadlabDependencyError

try:
    import torch  # noqa: F401
except ImportError as err:  # tested in a subprocess that hides torch
    raise PadlabDependencyError(
        "padlab.torch needs PyTorch: pip install 'padlab[torch]' (or torch itself)"
    ) from err

from padlab.torch.audit import Audit, LayerAudit, audit
from padlab.torch.bias import FeatureBias, feature_bias, probe_inputs
from padlab.torch.convert import Conversion, convert_padding
from padlab.torch.experiment import position_experiment
from padlab.torch.layers import PaddedConv2d, pad_tensor

__all__ = [
    "Audit",
    "Conversion",
    "FeatureBias",
    "LayerAudit",
    "PaddedConv2d",
    "audit",
    "convert_padding",
    "feature_bias",
    "pad_tensor",
    "position_experiment",
    "probe_inputs",
]
