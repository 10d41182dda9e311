"""``wnlb-zoo compare``: does a wNLB configuration help in the dark, and at what cost, measured over seeds.

A :class:`Study` (a base fine-tuning recipe, the backbone configurations, the seeds, and optionally
one data axis) runs as a matrix of ordinary fine-tuning runs (:func:`run_study`), each in its own
folder and resumable; the finished ones are gathered into ``results.jsonl``, a summary table with
paired differences to a baseline (:func:`summarize`), and plots.

Example::

    from wnlb_zoo.compare import Configuration, DataAxis, Study, run_study
    from wnlb_zoo.engine import FinetuneConfig

    study = Study(
        base=FinetuneConfig(epochs=2, min_size=96, max_size=96),
        configurations=(Configuration("resnet18", "resnet18"), Configuration("wnlb", "wnlb_resnet18")),
        seeds=(0, 1, 2),
        axis=DataAxis("synthetic_dark_ratio", ((2.0, 4.0), (10.0, 100.0))),
    )
    records = run_study(study, "runs/compare")
"""

from .record import training_summary
from .runner import StudyIncompleteError, cell_statuses, read_results, run_study, write_report
from .statistics import PairedDifference, Spread, paired_difference, spread, t_quantile
from .study import Cell, Configuration, DataAxis, Study
from .summary import SummaryRow, csv_table, markdown_table, summarize

__all__ = [
    "Cell",
    "Configuration",
    "DataAxis",
    "PairedDifference",
    "Spread",
    "Study",
    "StudyIncompleteError",
    "SummaryRow",
    "cell_statuses",
    "csv_table",
    "markdown_table",
    "paired_difference",
    "read_results",
    "run_study",
    "spread",
    "summarize",
    "t_quantile",
    "training_summary",
    "write_report",
]
