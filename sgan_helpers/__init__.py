"""Helpers behind the SGAN teaching notebooks (Keras 3).

Modules, one concept each: ``data``, ``activation``, ``discriminators``,
``generator``, ``training``, ``evaluation``, ``plotting``, ``files``, ``cli``,
``tutorial_style`` (the 2019 training loop, for comparison), ``environment``.
Importing the package itself is cheap; import the module you need.
"""

from .environment import check_environment

__version__ = "0.2.0"
__all__ = ["check_environment", "__version__"]
