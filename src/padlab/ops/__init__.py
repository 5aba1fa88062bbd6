"""Operations: correlate/convolve and the CNN-style convolution, their geometry and dtypes."""

from padlab.geometry import output_shape, same_padding
from padlab.ops.cnn import conv_nd
from padlab.ops.filtering import convolve, correlate
from padlab.ops.images import filter_image

__all__ = ["conv_nd", "convolve", "correlate", "filter_image", "output_shape", "same_padding"]
