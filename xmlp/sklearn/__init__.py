"""scikit-learn's face of xmlp: :class:`MLPClassifier` and :class:`MLPRegressor`, scikit-learn
estimators around a :class:`xmlp.Sequential` (``pip install 'xmlp[sklearn]'``; ``import xmlp``
never imports scikit-learn).

It follows scikit-learn's conventions — the constructor only stores its parameters; ``fit``
returns ``self``; what it learns ends in ``_``; ``predict`` returns an array of labels — so it
works in ``Pipeline``, ``cross_val_score`` and ``GridSearchCV`` (also with ``n_jobs``: fitted
and unfitted estimators pickle in memory; model *files* stay safetensors, ``model_.save``).

**Array API in, Array API out.** With ``sklearn.set_config(array_api_dispatch=True)`` (which
scikit-learn only allows with ``SCIPY_ARRAY_API=1`` set before SciPy is imported), PyTorch, CuPy
and array-api-strict inputs train on their own library and device when ``backend`` and
``device`` are left at None: the features stay there (checks, standardisation and batches run
on the device), only the labels are encoded on the host, and ``predict_proba``/``predict``
answer in the input's namespace, on its device. Without dispatch, inputs become NumPy arrays
(scikit-learn's rule) and the model runs on ``backend``/``device`` (default: ``XMLP_DEVICE``,
else NumPy).
"""

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
