"""Adapters: which local records go to which platform, and how (`base.py`: the base, the registry).

One module per platform (`spark.py`, `wattcarbon.py`, `wattics.py`, `wattshift.py`), each the
quickstart profile of its platform; `apps.py` imports them, which registers their adapters. A second
profile of a platform turns its module into a package beside the others:
`adapters/<platform>/quickstart.py` (this module, moved) and `adapters/<platform>/current.py`, the
package's `__init__.py` importing both. Nothing here imports the platform modules: the engine
imports `adapters.base` only.
"""
