"""Named kernels (sharpen, blur, outline, sobel, ...), kernels from text and files."""

from padlab.kernels.registry import (
    KERNELS,
    NamedKernel,
    describe_kernel,
    get_kernel,
    kernel_names,
    parse_kernel,
)

__all__ = [
    "KERNELS",
    "NamedKernel",
    "describe_kernel",
    "get_kernel",
    "kernel_names",
    "parse_kernel",
]
