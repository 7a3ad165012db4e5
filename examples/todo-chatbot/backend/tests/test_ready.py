"""Readiness follows the database: a throwaway server we stop and start."""

from conftest import ThrowawayPostgres, make_client, signup, wait_ready


def test_ready_follows_the_database(throwaway_pg: ThrowawayPostgres) -> None:
    # Start the API before the database exists: it must come up, not ready.
    with make_client(throwaway_pg.url) as client:
        assert client.get("/health").status_code == 200
        r = client.get("/ready")
        assert r.status_code == 503
        assert r.json() == {"status": "unavailable", "reason": "schema not created yet"}

        throwaway_pg.start()
        wait_ready(client)
        h = signup(client)
        assert client.post("/api/tasks", json={"title": "survive a restart"}, headers=h).status_code == 201

        throwaway_pg.stop()
        r = client.get("/ready")
        assert r.status_code == 503
        assert r.json() == {"status": "unavailable", "reason": "database does not answer"}
        assert client.get("/health").status_code == 200
        down = client.get("/api/tasks", headers=h)
        assert down.status_code == 503
        assert down.json() == {"detail": "database unavailable"}

        throwaway_pg.start()
        wait_ready(client)
        # Pooled connections broken by the restart are replaced, and the data is still there.
        titles = [t["title"] for t in client.get("/api/tasks", headers=h).json()]
        assert titles == ["survive a restart"]
