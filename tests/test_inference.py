"""Compiled prediction gives the model's own probabilities, without scikit-learn's input checks."""

import numpy as np
import pytest
import sklearn.utils.validation
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.svm import SVC

from digitrec.fast_svc import with_fast_svc
from digitrec.features import HOG, Deskew
from digitrec.inference import compile_predict_proba


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 15.0).astype(np.float32)
    return X[:900], y[:900], X[900:]


def _hog_pixels_svc() -> Pipeline:
    """The bundled model's shape, small: deskew, HOG+PCA beside pixel PCA, weighted, then an RBF SVC."""
    features = FeatureUnion([("hog", make_pipeline(HOG(pixels_per_cell=2), PCA(12, random_state=0))),
                             ("pixels", PCA(8, random_state=0))], transformer_weights={"hog": 1.0, "pixels": 0.4})
    return Pipeline([("deskew", Deskew()), ("features", features), ("svc", SVC(C=5.0))])


MODELS = {
    "served shape, calibrated": lambda: CalibratedClassifierCV(_hog_pixels_svc(), method="temperature",
                                                               ensemble=False, cv=3),
    "calibrated ensemble": lambda: CalibratedClassifierCV(_hog_pixels_svc(), method="temperature", cv=3),
    "whitened PCA, a passthrough, logistic regression": lambda: CalibratedClassifierCV(
        Pipeline([("pca", PCA(20, whiten=True, random_state=0)), ("nothing", "passthrough"),
                  ("logreg", LogisticRegression(max_iter=500))]), method="temperature", ensemble=False, cv=3),
    "calibrated forest (probabilities, not decision values)": lambda: CalibratedClassifierCV(
        make_pipeline(Deskew(), RandomForestClassifier(30, random_state=0)), method="temperature", ensemble=False, cv=3),
    "sigmoid calibration": lambda: CalibratedClassifierCV(make_pipeline(PCA(20, random_state=0), SVC()), cv=3),
    "uncalibrated pipeline": lambda: make_pipeline(Deskew(), PCA(20, random_state=0),
                                                   LogisticRegression(max_iter=500)),
}


@pytest.mark.parametrize("name", MODELS)
def test_compiled_model_gives_its_own_probabilities(digits, name):
    X, y, X_new = digits
    model = with_fast_svc(MODELS[name]().fit(X, y))
    expected = model.predict_proba(X_new)
    compiled = compile_predict_proba(model)
    np.testing.assert_allclose(compiled(X_new), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(compiled(X_new[:1]), model.predict_proba(X_new[:1]), rtol=0, atol=1e-12)


def _without_check_array(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("check_array called")

    monkeypatch.setattr(sklearn.utils.validation, "check_array", refuse)


def test_served_model_compiles_to_arithmetic_only(classifier, monkeypatch):
    """The bundled model, on real digits: its own probabilities, and not one ``check_array`` on the way."""
    X, _ = load_digits(return_X_y=True)
    images = np.stack([np.kron(row.reshape(8, 8), np.ones((3, 3))) for row in X[:40] / 16.0])
    batch = np.stack([classifier.normalize(image) for image in images])
    expected = classifier.model.predict_proba(batch.reshape(40, -1))[:, :10]
    _without_check_array(monkeypatch)
    with pytest.raises(AssertionError, match="check_array"):
        classifier.model.predict_proba(batch.reshape(40, -1))
    np.testing.assert_allclose(classifier.predict_proba_normalized(batch), expected, rtol=0, atol=1e-12)
