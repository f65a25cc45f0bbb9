"""Who may read and change which evaluation data: runs, experiments and gold sets scoped by the caller's collections."""
from __future__ import annotations

from backend.context import RequestContext
from backend.evaluation import runs as run_store
from backend.gateway.identity import Forbidden
from backend.models import InputError, NotFound
from backend.store.rows import Scope

# Analysts and stakeholders read evaluation results; only these roles start runs or change gold sets.
WRITERS = ("admin", "operator")
# Ids past this are no run of ours; refusing them early keeps DuckDB from ever seeing an out-of-range parameter.
_MAX_ID = 2**62


def context(platform, ctx: RequestContext | None) -> RequestContext:
    """The caller's context; None is the system itself (the CLI and the benches on the local file)."""
    return ctx or RequestContext.system(platform.settings)


def scope(platform, ctx: RequestContext | None, collection: str | None = None) -> Scope:
    """The collections an evaluation read may touch: the named one (NotFound when the caller may not read it,
    the same as when it does not exist), or every readable one (None: every collection, for the system)."""
    return platform.corpus.scope(collection, context(platform, ctx))


def in_scope(readable: Scope, collection: str) -> bool:
    if readable is None or readable == "":
        return True
    return collection == readable if isinstance(readable, str) else collection in readable


def require_writable(platform, collection: str, ctx: RequestContext | None) -> dict:
    """The collection's row when the caller may start runs on it or change its gold sets: an operator or admin
    who may read it (for an operator: a collection of their tenant). Unreadable: NotFound, as if it did not exist."""
    if not collection:
        raise InputError("collection: name the collection to evaluate", field="collection")
    ctx = context(platform, ctx)
    row = platform.corpus.collection_row(collection, ctx)
    if ctx.role not in WRITERS:
        raise Forbidden(f"the role {ctx.role} may read evaluation results but not start runs or change gold sets "
                        f"(needs: {' or '.join(WRITERS)})")
    return row


def _check_id(value, field: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{field}: {value!r} is not {what} id (a whole number)", field=field)
    return value


def require_run(platform, run_id: int, ctx: RequestContext | None) -> dict:
    """The run (with its experiment's name and progress) if the caller may read its collection; else the one
    'not found' an unknown run gets, so another tenant's run never shows that it exists."""
    run_id = _check_id(run_id, "run_id", "a run")
    row = run_store.run_row(platform.store, run_id) if 0 < run_id < _MAX_ID else None
    if row is None or not in_scope(scope(platform, ctx), row["base_collection"]):
        raise NotFound(f"evaluation run {run_id} not found", field="run_id")
    return row


def require_experiment(platform, experiment_id: int, ctx: RequestContext | None) -> dict:
    """The stored experiment if the caller may read its collection; else 'not found', as for an unknown one."""
    experiment_id = _check_id(experiment_id, "experiment_id", "an experiment")
    row = run_store.experiment_row(platform.store, experiment_id) if 0 < experiment_id < _MAX_ID else None
    if row is None or not in_scope(scope(platform, ctx), row["collection"]):
        raise NotFound(f"experiment {experiment_id} not found", field="experiment_id")
    return row


def list_runs(platform, ctx: RequestContext | None = None, collection: str | None = None, status: str | None = None,
              gold_set: str | None = None, experiment_id: int | None = None, limit: int | None = None,
              offset: int = 0) -> list[dict]:
    """The runs the caller may read (of one collection, or of every readable one), newest first."""
    return run_store.list_runs(platform.store, scope(platform, ctx, collection), status=status, gold_set=gold_set,
                               experiment_id=experiment_id, limit=limit, offset=offset)


def count_runs(platform, ctx: RequestContext, collection: str | None = None,
               status: str | None = None, gold_set: str | None = None) -> int:
    return run_store.count_runs(platform.store, scope(platform, ctx, collection), status=status, gold_set=gold_set)
