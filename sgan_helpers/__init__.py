"""Helpers behind the SGAN teaching notebooks (Keras 3).

Modules, one concept each, all of them what the notebooks teach: ``data``, ``activation``,
``discriminators``, ``generator``, ``losses``, ``sgan`` (the SGAN as a ``keras.Model``: its
``train_step``, trained with ``fit``), ``callbacks`` (weight average, evaluation, sample grids),
``averaging``, ``improved`` (Salimans et al.'s MLPs), ``tutorial_style`` (the 2019 training loop and its
Keras 3 pitfall), ``evaluation``, ``explorer`` (the latent space), ``plotting``, ``results`` (reading
the stored results), ``hardware`` (the fastest precision and XLA setting for a processor), ``files``
(atomic writes), ``environment``. The experiments that made the stored results (the resumable trainer,
sweeps, the command line) are the separate package ``sgan_experiments``, which imports this one.

Importing the package imports :mod:`sgan_helpers.activation` and :mod:`sgan_helpers.improved`
and nothing heavier: that registers the ``SumExpActivation`` and ``WeightNormDense`` layers with
Keras (``keras.saving.register_keras_serializable``), so ``.keras`` files holding them load
with ``safe_mode=True`` after a plain ``import sgan_helpers``. It costs the Keras
import that any use of these models needs anyway; import the other modules as needed.
"""

from .environment import check_environment, quiet_tensorflow_import, started_as_command

if started_as_command():  # the command line shows its own lines only (TF_CPP_MIN_LOG_LEVEL=0: TF's too)
    quiet_tensorflow_import()

from . import activation, improved  # noqa: E402, F401  (register the custom layers for loading)

__version__ = "0.2.0"
__all__ = ["check_environment", "__version__"]
