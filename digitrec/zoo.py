"""The candidate pipelines compared in training, with their hyperparameter grids.

Every pipeline takes flattened (n, 784) MNIST-normalized images in [0, 1]. Grids are
small on purpose: the full comparison of all families has to fit in 30 minutes on two
cores. ``quick_grid`` is for ``--quick`` runs on a few thousand images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from digitrec.features import HOG, Deskew

SEED = 0


@dataclass(frozen=True)
class Candidate:
    """One model family: how to build it, what to tune, and how much augmentation it gets."""

    name: str
    description: str
    build: Callable[[], BaseEstimator]
    grid: dict[str, list[Any]]
    quick_grid: dict[str, list[Any]] = field(default_factory=dict)
    augment_copies: int = 0  # distorted copies of each training image (see digitrec.augment)
    style_digits: int = 0  # font and stroke-template digits added to training (see digitrec.styles)
    sketched_digits: int = 0  # training digits redrawn as sketchpad strokes, with their labels
    non_digits: int = 0  # scribbles and letters added as an extra "not a digit" class
    touching_pairs: int = 0  # two training digits run together, added to that class too
    cut_pieces: int = 0  # training digits cut out of numbers by the number reader, with their labels
    max_train: int | None = None  # subsample the training split for slow families


def _pca_svc() -> Pipeline:
    svc = SVC(kernel="rbf", C=10.0, gamma="scale", cache_size=1000)
    return Pipeline([("deskew", Deskew()), ("pca", PCA(50, random_state=SEED)), ("svc", svc)])


def _hog_pixels_svc() -> Pipeline:
    """Deskew, then HOG features (PCA 60) beside pixel features (PCA 30), then an RBF SVC.

    The pixel block is down-weighted: HOG carries most of the signal into the kernel.
    Fewer PCA dimensions cost little accuracy and shrink the support vectors on disk.
    """
    features = FeatureUnion(
        [("hog", Pipeline([("hog", HOG(n_jobs=-1)), ("pca", PCA(60, random_state=SEED))])),
         ("pixels", PCA(30, random_state=SEED))],
        transformer_weights={"hog": 1.0, "pixels": 0.4},
    )
    svc = SVC(kernel="rbf", C=10.0, gamma="scale", cache_size=1000)
    return Pipeline([("deskew", Deskew()), ("features", features), ("svc", svc)])


CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in [
        Candidate(
            "logreg", "Multinomial logistic regression on pixels",
            lambda: LogisticRegression(C=0.1, max_iter=200),
            grid={"C": [0.01, 0.1]}, quick_grid={"C": [0.1], "max_iter": [40]}, max_train=20_000,
        ),
        Candidate(
            "sgd", "Linear model trained by SGD (log loss) on standardized pixels",
            lambda: Pipeline([("scale", StandardScaler()),
                              ("sgd", SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=20, tol=1e-3, random_state=SEED))]),
            grid={"sgd__alpha": [1e-4, 1e-3]}, quick_grid={"sgd__alpha": [1e-3]},
        ),
        Candidate(
            "tree", "Decision tree on pixels",
            lambda: DecisionTreeClassifier(random_state=SEED),
            grid={"max_depth": [12, None]}, quick_grid={"max_depth": [12]},
        ),
        Candidate(
            "forest", "Random forest on pixels",
            lambda: RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=SEED),
            grid={"max_features": ["sqrt", "log2"]}, quick_grid={"max_features": ["sqrt"]},
        ),
        Candidate(
            "knn", "k-nearest neighbours on deskewed PCA features",
            lambda: Pipeline([("deskew", Deskew()), ("pca", PCA(40, random_state=SEED)),
                              ("knn", KNeighborsClassifier(n_neighbors=3, weights="distance", n_jobs=-1))]),
            grid={"knn__n_neighbors": [3, 6]}, quick_grid={"knn__n_neighbors": [3]},
        ),
        Candidate(
            "svc_ovr", "RBF SVC, one-vs-rest, on deskewed PCA features",
            lambda: Pipeline([("deskew", Deskew()), ("pca", PCA(50, random_state=SEED)),
                              ("svc", OneVsRestClassifier(SVC(C=10.0, gamma="scale", cache_size=1000)))]),
            grid={"svc__estimator__C": [10.0]}, quick_grid={"svc__estimator__C": [10.0]}, max_train=20_000,
        ),
        Candidate(
            "mlp", "Multi-layer perceptron (one hidden layer of 256) on pixels",
            lambda: MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-4, early_stopping=True,
                                  max_iter=60, random_state=SEED),
            grid={"alpha": [1e-4, 1e-2]}, quick_grid={"alpha": [1e-4], "max_iter": [15], "hidden_layer_sizes": [(64,)]},
        ),
        Candidate(
            "svc_ovo", "RBF SVC (libsvm trains one-vs-one) on deskewed PCA features",
            _pca_svc,
            grid={"pca__n_components": [40, 60], "svc__C": [5.0, 10.0]},
            quick_grid={"svc__C": [10.0]},
        ),
        Candidate(
            "svc_hog", "RBF SVC on deskewed HOG + pixel PCA features",
            _hog_pixels_svc,
            grid={"features__transformer_weights": [{"hog": 1.0, "pixels": 0.4}, {"hog": 1.0, "pixels": 0.7}]},
            quick_grid={"svc__C": [10.0]},
        ),
        Candidate(
            "svc_hog_augmented",
            "RBF SVC on deskewed HOG + pixel PCA features, trained with distorted copies",
            _hog_pixels_svc,
            grid={"svc__C": [10.0]},
            quick_grid={"svc__C": [10.0]},
            augment_copies=2,
            style_digits=6000,
            sketched_digits=20000,
            non_digits=3000,
            touching_pairs=12000,
            cut_pieces=12000,
        ),
    ]
}
