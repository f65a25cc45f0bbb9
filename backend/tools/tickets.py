"""The create_ticket tool (a hand-over to a person, written only once approved) and the ticket desk: scoped lists, close, reopen."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backend.clock import utc_now
from backend.context import RequestContext
from backend.models import Forbidden, InputError, NotFound
from backend.store import tickets as ticket_store
from backend.store.audit import audit
from backend.tools.spec import Tool, ToolCaller, ToolOutput

TICKET_ROLES = frozenset({"admin", "operator", "analyst"})
LIST_MAX = 500
_LANE = "chat"  # tickets are opened from conversations: written beside them, never behind an ingest batch


class CreateTicketArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(..., min_length=1, max_length=120, description="One line saying what a person should do.")
    description: str = Field(..., min_length=1, max_length=2000,
                             description="What the user needs and what is known so far, for the person who takes it.")
    priority: Literal["low", "normal", "high"] = Field("normal", description="How urgent it is.")
    conversation_id: str | None = Field(None, min_length=1, max_length=64,
                                        description="The user's conversation this hands over, if any.")

    @field_validator("title", "description")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("is blank")
        return text


def create_ticket(platform, caller: ToolCaller, args: CreateTicketArguments) -> ToolOutput:
    """Open a ticket in the caller's own tenant (never one named in the arguments), audited in the same transaction."""
    ctx = caller.ctx
    if args.conversation_id is not None:
        try:  # only one of the caller's own conversations, in a collection they may still read
            platform.chat.book.own(args.conversation_id, ctx)
        except NotFound:
            raise InputError(f"arguments.conversation_id: no conversation {args.conversation_id!r} of yours",
                             field="conversation_id") from None
    from backend.pii import get_redactor  # loaded already: the executor redacted these arguments

    redact = get_redactor(platform.settings)
    # Stored redacted, like every chat text: the person who takes the ticket opens the conversation for the rest.
    title, body = redact(" ".join(args.title.split())), redact(args.description.strip())
    user = caller.identity.user
    with platform.store.transaction(_LANE) as cur:
        ticket = ticket_store.insert_ticket(cur, ctx.tenant, user, title, body, args.priority, args.conversation_id)
        audit(cur, "ticket.created", str(ticket["id"]),
              {"tenant": ctx.tenant, "title": title, "priority": args.priority,
               "conversation_id": args.conversation_id, "key_id": caller.identity.key_id}, user)
    return ToolOutput(text=f"Ticket #{ticket['id']} opened: {title}",
                      data={"ticket_id": ticket["id"], "tenant": ticket["tenant"], "status": ticket["status"]})


def list_tickets(platform, ctx: RequestContext, status: str | None = None, limit: int = 50,
                 open_first: bool = False) -> list[dict]:
    """Tickets newest first (`open_first`: open ones before closed ones): of every tenant ctx reads (None: all) for
    admins and operators; anyone else sees only the tickets they opened themselves (an analyst's hand-overs are not
    their colleagues' to read)."""
    _check_status(status)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIST_MAX:
        raise InputError(f"limit {limit!r}: give a whole number from 1 to {LIST_MAX}", field="limit")
    created_by = None if ctx.may_change() else ctx.user
    with platform.store.cursor() as cur:
        return ticket_store.tickets_for(cur, ctx.tenants, status, limit, created_by=created_by, open_first=open_first)


def get_ticket(platform, ctx: RequestContext, ticket_id: int) -> dict:
    """One ticket the caller may read (list_tickets' rule); NotFound for any other, whether it exists or not."""
    with platform.store.cursor() as cur:
        return _readable(ticket_store.ticket_by_id(cur, ticket_id), ticket_id, ctx)


def set_ticket_status(platform, ctx: RequestContext, ticket_id: int, status: str, key_id: int | None = None) -> dict:
    """Close or reopen one ticket of the caller's tenants (operators and admins only), audited in the same
    transaction; setting the status it already has changes nothing and writes no audit row."""
    if not ctx.may_change():
        raise Forbidden(f"ticket status: the {ctx.role} role may not close or reopen tickets (operators and admins do)")
    if status not in ticket_store.STATUSES:
        raise InputError(f"status {status!r}: give one of {', '.join(ticket_store.STATUSES)}", field="status")
    with platform.store.transaction(_LANE) as cur:
        ticket = _readable(ticket_store.ticket_by_id(cur, ticket_id), ticket_id, ctx)
        if ticket["status"] == status:
            return ticket
        changed = ticket_store.set_status(cur, ticket["id"], status, ctx.user, utc_now())
        audit(cur, "ticket.closed" if status == "closed" else "ticket.reopened", str(ticket["id"]),
              {"tenant": ticket["tenant"], "from": ticket["status"], "to": status, "key_id": key_id}, ctx.user)
    return changed


def _check_status(status: str | None) -> None:
    if status is not None and status not in ticket_store.STATUSES:
        raise InputError(f"status {status!r}: not a ticket status (statuses: {', '.join(ticket_store.STATUSES)})",
                         field="status")


def _readable(ticket: dict | None, ticket_id: int, ctx: RequestContext) -> dict:
    """The ticket if ctx may read it: one of its tenants, and (below operator) one the caller opened."""
    if ticket is None or (ctx.tenants is not None and ticket["tenant"] not in ctx.tenants) or (
            not ctx.may_change() and ticket["created_by"] != ctx.user):
        raise NotFound(f"ticket_id: no ticket {ticket_id} among those you can read", field="ticket_id")
    return ticket


CREATE_TICKET = Tool(
    name="create_ticket",
    description="Hand the question over to a person: open a support ticket in your organisation. It changes data, "
                "so it runs only once the user approves it.",
    arguments=CreateTicketArguments,
    run=create_ticket,
    writes=True,
    timeout_s=5.0,
    roles=TICKET_ROLES,
    scope="tickets",
)
