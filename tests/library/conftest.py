from ._helpers import lib, src  # noqa: F401  (fixtures)
