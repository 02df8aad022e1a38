from ..station.conftest import broker, subscriber  # noqa: F401 (fixtures shared with station)
