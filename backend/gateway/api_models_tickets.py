"""The ticket routes' bodies (/api/v1/tickets): the list's query, one ticket, the list, a status change."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["open", "closed"]  # backend.store.tickets.STATUSES (tests keep them equal)
Priority = Literal["low", "normal", "high"]  # backend.store.tickets.PRIORITIES


class TicketsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt parameter is named in a 422, never silently ignored
    status: Status | None = Field(None, description="only open or only closed tickets (default: both)")
    limit: int = Field(50, ge=1, le=500, description="at most this many, newest first")


class TicketStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status = Field(description="'closed' closes the ticket (recording who and when); 'open' reopens it")


class Ticket(BaseModel):
    """A hand-over to a person, as create_ticket recorded it (title and body with their PII redacted)."""

    id: int
    tenant: str
    created_by: str = Field(description="the user the create_ticket call ran for")
    title: str
    body: str
    priority: Priority
    conversation_id: str | None = Field(description="the creator's conversation it hands over, if any")
    status: Status
    created_at: datetime
    closed_by: str | None = Field(description="who closed it (null while it is open)")
    closed_at: datetime | None = Field(description="when it was closed (null while it is open)")


class TicketList(BaseModel):
    tickets: list[Ticket] = Field(description="operators and admins: their tenants' tickets; anyone else: the ones "
                                              "they opened; newest first")
