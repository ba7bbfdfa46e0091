"""Controllers: one module per controller, the loop they share, and the manager that runs them.

``run_controller_manager`` is the entry point for ``kyb controller-manager`` and ``kyb server``."""

from kybernetes.controllers.manager import CONTROLLERS, run_controller_manager, run_controllers

__all__ = ["CONTROLLERS", "run_controller_manager", "run_controllers"]
