"""A fitted model's ``predict_proba`` as plain array operations, for serving.

scikit-learn checks its input at every step of a pipeline and of calibrated prediction:
``check_array`` with its dataframe checks, tag lookups, a joblib dispatch for each feature
union. For one 28x28 digit through the bundled model that machinery costs about 1.6 ms,
more than the 1.1 ms of arithmetic. :func:`compile_predict_proba` walks the fitted model
once and returns a function that does only the arithmetic, for the steps it knows:
pipelines, feature unions, PCA, temperature-scaled calibration, digitrec's transformers
(:meth:`~digitrec.features.Deskew.transform_images`) and :class:`~digitrec.fast_svc.MatrixSVC`.
Any other step runs through its own scikit-learn method, so every model compiles.

The function trusts its input to be what the classifier facade gives: a 2-D float array
with the model's number of columns. ``tests/test_inference.py`` checks it against the
model's own ``predict_proba``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from scipy.special import softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.pipeline import FeatureUnion, Pipeline

from digitrec.fast_svc import MatrixSVC
from digitrec.features import image_shape_for

#: A function of (n, d) rows: transformed rows, decision values or probabilities.
Rows = Callable[[np.ndarray], np.ndarray]


def compile_predict_proba(model: Any) -> Rows:
    """A function computing ``model.predict_proba(X)`` for valid 2-D float ``X``, without input checks."""
    if _is_temperature_calibrated(model):
        members = [(_compile(c.estimator, _response_method(c.estimator)), c.calibrators[0].beta_)
                   for c in model.calibrated_classifiers_]

        def calibrated(X: np.ndarray) -> np.ndarray:
            return sum(_temperature_proba(decision(X), beta) for decision, beta in members) / len(members)

        return calibrated
    if isinstance(model, CalibratedClassifierCV):
        return model.predict_proba
    return _compile(model, "predict_proba")


def _is_temperature_calibrated(model: Any) -> bool:
    """Fitted, multiclass, temperature scaling: the case scikit-learn computes as a softmax of decision values."""
    return (isinstance(model, CalibratedClassifierCV) and model.method == "temperature"
            and hasattr(model, "calibrated_classifiers_") and len(model.classes_) > 2)


def _response_method(estimator: Any) -> str:
    """What calibration reads from ``estimator``: its decision function if it has one, else its probabilities."""
    return "decision_function" if hasattr(estimator, "decision_function") else "predict_proba"


def _temperature_proba(decision: np.ndarray, beta: float) -> np.ndarray:
    """``sklearn.calibration._TemperatureScaling.predict`` for (n, n_classes) values.

    Values that already look like probabilities (in [0, 1], rows summing to 1) are taken
    as such and turned into logits first, as scikit-learn does.
    """
    if np.all((decision >= 0) & (decision <= 1)) and np.allclose(decision.sum(axis=1), 1.0):
        decision = np.log(decision + 1e-12)
    return softmax(beta * decision, axis=1)


def _compile(step: Any, method: str) -> Rows:
    """``getattr(step, method)`` (``"transform"``, ``"decision_function"`` or ``"predict_proba"``) as arithmetic."""
    if step is None or isinstance(step, str) and step == "passthrough":
        return lambda X: X
    if isinstance(step, Pipeline):
        return _chain([_compile(s, "transform") for _, s in step.steps[:-1]] + [_compile(step.steps[-1][1], method)])
    if isinstance(step, FeatureUnion) and method == "transform":
        weights = step.transformer_weights or {}
        parts = [(_compile(t, "transform"), weights.get(name)) for name, t in step.transformer_list if t != "drop"]
        return lambda X: np.hstack([f(X) if w is None else f(X) * w for f, w in parts])
    if isinstance(step, PCA) and method == "transform":
        return _pca(step)
    if hasattr(step, "transform_images") and method == "transform":
        return lambda X: step.transform_images(X.reshape(-1, *image_shape_for(X.shape[1])))
    if isinstance(step, MatrixSVC) and method == "decision_function":
        return step.decision_function
    return getattr(step, method)


def _chain(functions: list[Rows]) -> Rows:
    def chained(X: np.ndarray) -> np.ndarray:
        for function in functions:
            X = function(X)
        return X

    return chained


def _pca(pca: PCA) -> Rows:
    """``PCA.transform``, in scikit-learn's order of operations (project, then subtract the projected mean)."""
    components_t = pca.components_.T
    projected_mean = pca.mean_.reshape(1, -1) @ components_t
    scale = np.maximum(np.sqrt(pca.explained_variance_), np.finfo(pca.explained_variance_.dtype).eps) \
        if pca.whiten else None

    def transform(X: np.ndarray) -> np.ndarray:
        projected = X @ components_t - projected_mean
        return projected if scale is None else projected / scale

    return transform
