"""Combine several models' probabilities, and show honestly what the combination gains.

The EmoNet paper averages the class probabilities of four networks with weights learned by
differential evolution (:class:`WeightedEnsemble`). Around it: logistic-regression stacking
as a comparison (:class:`StackingEnsemble`), temperature scaling and the expected
calibration error (:class:`TemperatureScaler`, :func:`expected_calibration_error`), a
cross-validated accuracy estimate (:func:`cross_validate_ensemble`), greedy forward
selection of the members (:func:`forward_select`), and reports (:func:`compare_weightings`,
:func:`summarize_validation`, :func:`save_report`).
See ``docs/ensemble.md``.
"""

from emonet.ensemble._calibration import TemperatureScaler, expected_calibration_error
from emonet.ensemble._cross_validation import cross_validate_ensemble
from emonet.ensemble._report import REPORT_FILES, save_report
from emonet.ensemble._selection import forward_select
from emonet.ensemble._stacking import StackingEnsemble
from emonet.ensemble._summary import compare_weightings, summarize_validation
from emonet.ensemble._validation import AlignedPredictions, align_predictions
from emonet.ensemble._weighted import OBJECTIVES, WeightedEnsemble

__all__ = [
    "OBJECTIVES",
    "REPORT_FILES",
    "AlignedPredictions",
    "StackingEnsemble",
    "TemperatureScaler",
    "WeightedEnsemble",
    "align_predictions",
    "compare_weightings",
    "cross_validate_ensemble",
    "expected_calibration_error",
    "forward_select",
    "save_report",
    "summarize_validation",
]
