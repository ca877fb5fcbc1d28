"""Serve a fitted RBF SVC's decision function as matrix products.

libsvm evaluates a kernel SVC one support vector at a time, in a loop that does not use
BLAS: the bundled model's 18,758 support vectors cost about 2 ms per image, and batching
does not help. The same decision function is two matrix products, kernel row times a
(support vectors x class pairs) coefficient matrix, which numpy runs in about 0.8 ms for
one image and 0.15 ms per image in a batch of 100, with the same values to about 1e-12.

The saved model stays a plain scikit-learn ``SVC`` (so the skops allowlist and the Hub
artifact are unchanged); :func:`with_fast_svc` swaps in :class:`MatrixSVC` after loading.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import SVC


class MatrixSVC(SVC):
    """A fitted multiclass RBF :class:`~sklearn.svm.SVC` whose ``decision_function`` uses BLAS.

    Build it with :meth:`from_fitted`; fitting it again turns it back into a plain SVC
    until :meth:`from_fitted` is called on the result. ``predict`` is libsvm's, unchanged.
    """

    @classmethod
    def from_fitted(cls, svc: SVC) -> MatrixSVC:
        """The same fitted model, with the matrices its decision function needs precomputed."""
        fast = cls.__new__(cls)
        fast.__dict__.update(svc.__dict__)
        vectors = np.asarray(svc.support_vectors_, dtype=np.float64)
        starts = np.concatenate([[0], np.cumsum(svc.n_support_)])
        n_classes = len(svc.n_support_)
        first, second = np.triu_indices(n_classes, k=1)  # libsvm's pair order: (0,1), (0,2), ...
        # Pair (i, j) sums class i's vectors with their coefficients against j, and vice versa.
        pair_coef = np.zeros((len(vectors), len(first)))
        for pair, (i, j) in enumerate(zip(first, second)):
            pair_coef[starts[i]:starts[i + 1], pair] = svc._dual_coef_[j - 1, starts[i]:starts[i + 1]]
            pair_coef[starts[j]:starts[j + 1], pair] = svc._dual_coef_[i, starts[j]:starts[j + 1]]
        fast._vectors_t = np.ascontiguousarray(vectors.T)
        fast._vector_sq_norms = (vectors**2).sum(axis=1)
        fast._pair_coef = pair_coef
        # For the one-vs-rest shape: which class each pair's vote and confidence go to.
        fast._pair_first = np.eye(n_classes)[first]
        fast._pair_second = np.eye(n_classes)[second]
        return fast

    @staticmethod
    def accepts(svc: Any) -> bool:
        """Whether ``svc`` is a fitted dense multiclass RBF SVC this class reproduces."""
        return (type(svc) is SVC and svc.kernel == "rbf" and hasattr(svc, "support_vectors_")
                and len(svc.classes_) > 2 and not svc._sparse)

    def decision_function(self, X) -> np.ndarray:
        """As :meth:`sklearn.svm.SVC.decision_function`: (n, n_pairs) for ``"ovo"``, else (n, n_classes)."""
        if not hasattr(self, "_pair_coef"):
            return super().decision_function(X)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self._vectors_t.shape[0]:
            raise ValueError(f"expected shape (n, {self._vectors_t.shape[0]}), got {X.shape}")
        sq_dist = (X * X).sum(axis=1)[:, None] + self._vector_sq_norms - 2.0 * (X @ self._vectors_t)
        np.maximum(sq_dist, 0.0, out=sq_dist)
        sq_dist *= -self._gamma
        pairs = np.exp(sq_dist, out=sq_dist) @ self._pair_coef + self._intercept_
        if self.decision_function_shape == "ovo":
            return pairs
        # sklearn's _ovr_decision_function, vectorized: votes plus confidences squashed below 1/3.
        votes = (pairs >= 0) @ self._pair_first + (pairs < 0) @ self._pair_second
        confidence = pairs @ (self._pair_first - self._pair_second)
        return votes + confidence / (3 * (np.abs(confidence) + 1))

    def fit(self, X, y, sample_weight=None):
        """Plain :meth:`sklearn.svm.SVC.fit`; drops the precomputed matrices."""
        for name in ("_vectors_t", "_vector_sq_norms", "_pair_coef", "_pair_first", "_pair_second"):
            self.__dict__.pop(name, None)
        return super().fit(X, y, sample_weight)


def with_fast_svc(model: Any, copy: bool = True) -> Any:
    """``model`` with every RBF SVC it contains made a :class:`MatrixSVC`: a copy, or itself if not ``copy``.

    Looks inside pipelines, feature unions and calibrated classifiers; other models are
    returned as they are. For serving and timing only: save the original, not the result.
    """
    if not _contains_svc(model):
        return model
    model = deepcopy(model) if copy else model
    _replace_svcs(model)
    return model


def _children(model: Any) -> list[tuple[Any, Any]]:
    """(container, key) pairs under which ``model`` holds sub-estimators that may be SVCs."""
    if isinstance(model, Pipeline):
        return [(model.steps, i) for i in range(len(model.steps))]
    if isinstance(model, FeatureUnion):
        return [(model.transformer_list, i) for i in range(len(model.transformer_list))]
    if isinstance(model, CalibratedClassifierCV) and hasattr(model, "calibrated_classifiers_"):
        return [(c, "estimator") for c in model.calibrated_classifiers_]
    return []


def _get(container: Any, key: Any) -> Any:
    return getattr(container, key) if isinstance(key, str) else container[key][1]


def _contains_svc(model: Any) -> bool:
    return MatrixSVC.accepts(model) or any(_contains_svc(_get(c, k)) for c, k in _children(model))


def _replace_svcs(model: Any) -> None:
    for container, key in _children(model):
        child = _get(container, key)
        if MatrixSVC.accepts(child):
            child = MatrixSVC.from_fitted(child)
            if isinstance(key, str):
                setattr(container, key, child)
            else:
                container[key] = (container[key][0], child)
        else:
            _replace_svcs(child)
