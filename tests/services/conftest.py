import pytest


@pytest.fixture
def second_chunk_insert_fails(monkeypatch):
    """Inserting new customers fails the second time (the import's second chunk), as if
    the database went away; `.undo()` puts the real insert back."""
    from campaigns.services import imports

    real_insert = imports.customers_create_with_consent
    calls = []

    def failing_second_time(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(imports, "customers_create_with_consent", failing_second_time)

    class Failing:
        @staticmethod
        def undo():
            monkeypatch.setattr(imports, "customers_create_with_consent", real_insert)

    return Failing
