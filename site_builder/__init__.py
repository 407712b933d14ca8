"""Scaffold, run and publish deep-learning practice projects as a portfolio website."""

__version__ = "0.1.0"

PROBLEM_TYPES = (
    "tabular-classification",
    "tabular-regression",
    "image-classification",
    "time-series-forecasting",
)

STEPS = (
    "01_define_problem",
    "02_prepare_data",
    "03_evaluate_algorithms",
    "04_improve_results",
    "05_present_results",
)

STEP_TITLES = {
    "01_define_problem": "Define the problem",
    "02_prepare_data": "Prepare the data",
    "03_evaluate_algorithms": "Evaluate algorithms",
    "04_improve_results": "Improve results",
    "05_present_results": "Present results",
}
