"""Serve a fitted RBF SVC's decision function as matrix products.

libsvm evaluates a kernel SVC one support vector at a time, in a loop that does not use
BLAS: the bundled model's 22,261 support vectors cost about 2 ms per image, and batching
does not help. The same decision function is a kernel row (one matrix product with the
support vectors) times each class's block of dual coefficients, which numpy runs in about
0.5 ms for one image and 0.16 ms per image in a batch of 100.

For one image the time goes into reading the support vectors from memory, so the kernel's
dot products use a float32 copy of them (half the bytes). That moves decision values by
about 1e-4 at most; a class pair whose value is that close to 0 could vote the other way,
so any row with such a pair is computed again in float64, where the values match libsvm's
to about 1e-12: the votes are libsvm's.

The saved model stays a plain scikit-learn ``SVC`` (so the skops allowlist and the Hub
artifact are unchanged); :func:`with_fast_svc` swaps in :class:`MatrixSVC` after loading.
"""

from __future__ import annotations

from copy import deepcopy
from itertools import pairwise
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import SVC

#: Rows with a class-pair decision value closer to 0 than this are recomputed in float64.
#: float32 moved those values by at most 6e-5 on the MNIST test split, 2,000 noise images and
#: scikit-learn's 1,797 optdigits; about 1% of digits come this close to a tie.
VOTE_MARGIN = 2.5e-4


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
        n_classes = len(svc.n_support_)
        fast._vectors_t = np.ascontiguousarray(vectors.T)
        fast._vectors_t32 = fast._vectors_t.astype(np.float32)
        fast._vector_sq_norms = (vectors**2).sum(axis=1)
        # Row v holds support vector v's coefficients against each other class (libsvm's layout).
        fast._class_coef = np.ascontiguousarray(np.asarray(svc._dual_coef_, dtype=np.float64).T)
        fast._class_bounds = list(pairwise(np.concatenate([[0], np.cumsum(svc.n_support_)])))
        fast._pair_classes = np.triu_indices(n_classes, k=1)  # libsvm's pair order: (0,1), (0,2), ...
        # For the one-vs-rest shape: which class each pair's vote and confidence go to.
        first, second = fast._pair_classes
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
        if not hasattr(self, "_class_coef"):
            return super().decision_function(X)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self._vectors_t.shape[0]:
            raise ValueError(f"expected shape (n, {self._vectors_t.shape[0]}), got {X.shape}")
        pairs = self._pair_values(X, self._vectors_t32)
        close = (np.abs(pairs) < VOTE_MARGIN).any(axis=1)
        if close.any():
            pairs[close] = self._pair_values(X[close], self._vectors_t)
        if self.decision_function_shape == "ovo":
            return pairs
        # sklearn's _ovr_decision_function, vectorized: votes plus confidences squashed below 1/3.
        votes = (pairs >= 0) @ self._pair_first + (pairs < 0) @ self._pair_second
        confidence = pairs @ (self._pair_first - self._pair_second)
        return votes + confidence / (3 * (np.abs(confidence) + 1))

    def _pair_values(self, X: np.ndarray, vectors_t: np.ndarray) -> np.ndarray:
        """libsvm's one-vs-one decision values, with the kernel's dot products in ``vectors_t``'s dtype."""
        dots = X.astype(vectors_t.dtype, copy=False) @ vectors_t
        kernel = (X * X).sum(axis=1)[:, None] + self._vector_sq_norms - 2.0 * dots
        np.maximum(kernel, 0.0, out=kernel)
        kernel *= -self._gamma
        np.exp(kernel, out=kernel)
        # per_class[:, c, m]: class c's support vectors weighted by their coefficients against the m-th other class.
        per_class = np.stack([kernel[:, a:b] @ self._class_coef[a:b] for a, b in self._class_bounds], axis=1)
        first, second = self._pair_classes
        return per_class[:, first, second - 1] + per_class[:, second, first] + self._intercept_

    def fit(self, X, y, sample_weight=None):
        """Plain :meth:`sklearn.svm.SVC.fit`; drops the precomputed matrices."""
        for name in ("_vectors_t", "_vectors_t32", "_vector_sq_norms", "_class_coef", "_class_bounds",
                     "_pair_classes", "_pair_first", "_pair_second"):
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
