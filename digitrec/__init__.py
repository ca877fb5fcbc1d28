"""digitrec: handwritten digit recognition with scikit-learn, served on a Gradio Space."""

from digitrec.classifier import DigitClassifier, load_model
from digitrec.errors import DatasetError, DigitrecError, InvalidImageError, UntrustedModelError
from digitrec.normalize import NORMALIZATION_VERSION, to_mnist

__all__ = [
    "DigitClassifier", "load_model", "to_mnist", "NORMALIZATION_VERSION",
    "DigitrecError", "InvalidImageError", "DatasetError", "UntrustedModelError",
]
