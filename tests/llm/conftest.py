from tests.fakes.wire_server import wire_server  # noqa: F401  (fixture)
