"""The FastAPI app the plugin mounts at /oci: the page, its JSON API and the CSV.

A plugin's FastAPI app is outside Airflow's auth unless it asks: every route here depends on Airflow's own
`requires_access_dag("GET")` for the nightly DAG, which answers 401 without a token (cookie or bearer) and 403
for a user who may not read that DAG. Nothing here reads a connection's extras except the hook, and nothing
returns them.

The app is built on its first request (`LazyApp`): every Airflow process imports the plugin, and only the
api-server serves it, so the scheduler and task processes never pay for FastAPI and Airflow's API modules.
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations, whose types are imported
# inside create_app()
import threading
from collections.abc import Callable


class LazyApp:
    """An ASGI app that builds the real one on its first request."""

    def __init__(self, factory: Callable):
        self._factory = factory
        self._app = None
        self._lock = threading.Lock()

    @property
    def app(self):
        with self._lock:
            if self._app is None:
                self._app = self._factory()
        return self._app

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)


def create_app():
    from html import escape

    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse, Response

    from protection.catalogue import DAG_ID
    from protection.render import csv_text, page
    from protection.restore_form import dag_params, restore_page
    from protection.snapshots import Snapshots, describe
    from protection.view import RESTORE_DAG, api_payload

    snapshots = Snapshots()
    app = FastAPI(title="OCI Protection", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(requires_access_dag("GET", param_dag_id=DAG_ID))])
    app.state.snapshots = snapshots

    @app.get("/", response_class=HTMLResponse)
    def protection_page(request: Request) -> HTMLResponse:
        try:
            view, status = snapshots.view()
        except Exception as exc:  # Airflow's own database failing: still a page that says so
            return HTMLResponse(f"<!doctype html><title>OCI Protection</title><h1>OCI Protection</h1><p role=alert>"
                                f"Cannot read the nightly runs: {escape(describe(exc))}</p>", status_code=503)
        return HTMLResponse(page(view, status, request.scope.get("root_path", "")),
                            headers={"cache-control": "no-store"})

    @app.get("/api/protection")
    def protection_api(request: Request) -> JSONResponse:
        view, status = snapshots.view()
        return JSONResponse(api_payload(view, {"source": status.as_dict()}, request.scope.get("root_path", "")),
                            headers={"cache-control": "no-store"})

    @app.get("/restore", response_class=HTMLResponse,
             dependencies=[Depends(requires_access_dag("GET", param_dag_id=RESTORE_DAG))])
    def restore_form(request: Request) -> HTMLResponse:
        """The restore DAG's trigger form with the Params the URL names filled in (the rows' "Restore…")."""
        return HTMLResponse(restore_page(dag_params(), dict(request.query_params), request.scope.get("root_path", "")),
                            headers={"cache-control": "no-store"})

    @app.get("/protection.csv")
    def protection_csv() -> Response:
        view, _ = snapshots.view()
        stamp = (view["generated_at"] or "")[:10]
        return Response(csv_text(view), media_type="text/csv", headers={
            "content-disposition": f'attachment; filename="oci-protection-{stamp}.csv"', "cache-control": "no-store"})

    return app


app = LazyApp(create_app)
