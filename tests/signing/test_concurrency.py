"""Two signers submitting the same e-mail at the same moment: the database constraint decides.

The view does not look for an existing row before inserting, so both requests reach the INSERT; on
PostgreSQL the second waits on the unique index until the first commits, then fails and becomes the
friendly duplicate message. On SQLite the write lock serialises them.
"""

import threading

import pytest
from django.db import connection
from django.test import Client

from petition_widget.models import Signature

ROUNDS = 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_submissions_store_one_row(petition, changeorg_data):
    for round_no in range(ROUNDS):
        data = {**changeorg_data, "email": f"Race{round_no}@Example.com"}
        barrier = threading.Barrier(2)
        statuses: list[int] = []
        errors: list[BaseException] = []

        def sign(email: str, data=data, barrier=barrier, statuses=statuses, errors=errors) -> None:
            try:
                client = Client()
                barrier.wait(timeout=10)
                statuses.append(client.post(f"/petitions/{petition.slug}/", {**data, "email": email}).status_code)
            except BaseException as exc:  # reported below, in the main thread
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=sign, args=(email,)) for email in (data["email"], data["email"].lower())]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
        assert sorted(statuses) == [200, 303]
        assert Signature.objects.filter(email_normalized=f"race{round_no}@example.com").count() == 1
    assert Signature.objects.count() == ROUNDS
