import pytest


@pytest.fixture(params=["thrift", "sea"])
def protocol(request):
    return request.param


@pytest.fixture
def connect(emulator, protocol):
    """``connect(**kwargs)``: a real connector connection to the emulator over the test's wire protocol."""
    connections = []

    def _connect(**kwargs):
        connection = emulator.sql_connect(use_sea=protocol == "sea", **kwargs)
        connections.append(connection)
        return connection

    yield _connect
    for connection in connections:
        connection.close()


def history_of(emulator, statement_id):
    matches = [record for record in emulator.query_history if record.statement_id == statement_id]
    assert len(matches) == 1, f"statement {statement_id} recorded {len(matches)} times"
    return matches[0]
