"""The course's figures, one module per subject, all drawn in one visual language (`theme`): fixed
colours per method and per factor, figures that fit a notebook's width, a title on every axis, and
labels that do not sit on the data. Every public name is re-exported here, so notebooks write
`from superinfo_lib import plots; plots.toy_sweep_figure(...)` whatever module holds it.

Index (figure -> module):
    theme        colours (METHOD_COLORS, TERM_COLORS, SERIES_COLORS, ...), style, reference_line,
                 chance_line(s), legends_under_axis_titles, padded_range, log_axis_if_wide, bar_chart
    toy          toy_sweep_figure, toy_bounds_figure, toy_settings_figure, toy_conditions_figure,
                 sigma_kl_figure; MEASURE_LABELS / COLORS / DASH, beta_label, pair_label, seed_summary
    information  infonce_sweep_figure, learned_critic_figure, kl_bound_figure (notebooks 2-3)
    training     training_curves_figure, knn_monitor_figure, training_bounds_figure (per step / epoch)
    evaluation   evaluation_figure, aug_probe_figure, robustness_figure, sigma_figure (a trained encoder)
    maps         map_figure (a 2-D map of images per encoder, coloured by class)
    images       image_grid, corruption_grid, display_images, augmentation_rows (pictures, notebook 1)
    study        study_curves_figure, study_comparison_figure, forest_figure, gain_by_epoch_figure
                 (multi-seed studies)
    retrieval    retrieval_figure (query images and their nearest neighbours, one row per query)

Adding a figure module:
    1. Write `plots/<subject>.py`: a docstring that says which figures it holds, then
       `from .theme import ...` for colours and layout (never redefine a colour; add a shared one to
       theme.py). Each figure function imports plotly inside itself and returns `style(fig, ...)`;
       a notebook cell only says what to draw. Legends name every line: no text over the data.
       Helpers only it uses stay in it, private (`_name`); a helper two modules need moves to theme.py.
    2. Import its public names below and add them to `__all__`; add a line to the index above.
    3. Test it in tests/test_plots.py with known values (trace x / y, error bars), not only "it draws".
The module is named `theme`, not `style`, so that `plots.style` stays the layout function.
"""

from .evaluation import AUG_PROBE_COLORS, aug_probe_figure, evaluation_figure, robustness_figure, sigma_figure
from .images import augmentation_rows, corruption_grid, display_images, image_grid
from .information import infonce_sweep_figure, kl_bound_figure, learned_critic_figure
from .maps import CLASS_COLORS, map_figure
from .retrieval import retrieval_figure
from .study import (
    STUDY_PANELS,
    forest_figure,
    gain_by_epoch_figure,
    study_comparison_figure,
    study_curves_figure,
)
from .theme import (
    BOUND_COLOR,
    CHANCE_COLOR,
    FACTOR_COLORS,
    MAX_WIDTH,
    METHOD_COLORS,
    METHOD_LABELS,
    PREVIOUS_COLOR,
    SERIES_COLORS,
    TERM_COLORS,
    TRUTH_COLOR,
    bar_chart,
    chance_line,
    chance_lines,
    legends_under_axis_titles,
    log_axis_if_wide,
    method_color,
    padded_range,
    reference_line,
    spans_decades,
    style,
)
from .toy import (
    MEASURE_COLORS,
    MEASURE_DASH,
    MEASURE_LABELS,
    beta_label,
    pair_label,
    seed_summary,
    sigma_kl_figure,
    toy_bounds_figure,
    toy_conditions_figure,
    toy_settings_figure,
    toy_sweep_figure,
)
from .training import TRAINING_PANELS, knn_monitor_figure, training_bounds_figure, training_curves_figure

__all__ = [
    # theme
    "BOUND_COLOR",
    "CHANCE_COLOR",
    "FACTOR_COLORS",
    "MAX_WIDTH",
    "METHOD_COLORS",
    "METHOD_LABELS",
    "PREVIOUS_COLOR",
    "SERIES_COLORS",
    "TERM_COLORS",
    "TRUTH_COLOR",
    "bar_chart",
    "chance_line",
    "chance_lines",
    "legends_under_axis_titles",
    "log_axis_if_wide",
    "method_color",
    "padded_range",
    "reference_line",
    "spans_decades",
    "style",
    # toy
    "MEASURE_COLORS",
    "MEASURE_DASH",
    "MEASURE_LABELS",
    "beta_label",
    "pair_label",
    "seed_summary",
    "sigma_kl_figure",
    "toy_bounds_figure",
    "toy_conditions_figure",
    "toy_settings_figure",
    "toy_sweep_figure",
    # information
    "infonce_sweep_figure",
    "kl_bound_figure",
    "learned_critic_figure",
    # training
    "TRAINING_PANELS",
    "knn_monitor_figure",
    "training_bounds_figure",
    "training_curves_figure",
    # evaluation
    "AUG_PROBE_COLORS",
    "aug_probe_figure",
    "evaluation_figure",
    "robustness_figure",
    "sigma_figure",
    "map_figure",
    "CLASS_COLORS",
    # images
    "augmentation_rows",
    "corruption_grid",
    "display_images",
    "image_grid",
    # retrieval
    "retrieval_figure",
    # study
    "STUDY_PANELS",
    "study_comparison_figure",
    "forest_figure",
    "gain_by_epoch_figure",
    "study_curves_figure",
]
