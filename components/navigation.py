"""Which pages each role may use: the ONE place of that policy, read by app.py (navigation) and by every page's
guard (a page opened by its URL). Hiding a page is not the security boundary: every backend read is also scoped
by the caller's RequestContext.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from backend.gateway.identity import Identity
from components.auth import request_context, require_identity


@dataclass(frozen=True)
class PageInfo:
    section: str
    title: str
    icon: str


# Every page of the app (pages/<name>.py), in navigation order.
PAGES: dict[str, PageInfo] = {
    "home": PageInfo("Overview", "Home", ":material/home:"),
    "chat": PageInfo("Analyst", "Chat", ":material/forum:"),
    "corpus_documents": PageInfo("Operator", "Documents", ":material/table_view:"),
    "corpus_upload": PageInfo("Operator", "Upload", ":material/upload_file:"),
    "corpus_search": PageInfo("Operator", "Search explorer", ":material/manage_search:"),
    "corpus_overview": PageInfo("Operator", "Corpus overview", ":material/insights:"),
    "corpus_collections": PageInfo("Operator", "Collections", ":material/folder_copy:"),
    "operations": PageInfo("Operator", "Operations", ":material/monitoring:"),
    "trace_explorer": PageInfo("Operator", "Trace explorer", ":material/timeline:"),
    "drift": PageInfo("Operator", "Drift", ":material/trending_up:"),
    "evaluation": PageInfo("Operator", "Evaluation leaderboard", ":material/leaderboard:"),
    "eval_runs": PageInfo("Operator", "Experiments", ":material/science:"),
    "cost_explorer": PageInfo("Stakeholder", "Cost explorer", ":material/payments:"),
    "capacity_planner": PageInfo("Stakeholder", "Capacity planner", ":material/dns:"),
    "decision_wizard": PageInfo("Stakeholder", "RAG or fine-tuning?", ":material/alt_route:"),
    "admin": PageInfo("Admin", "Admin", ":material/admin_panel_settings:"),
    "privacy_requests": PageInfo("Admin", "Data-subject requests", ":material/privacy_tip:"),
}
SIGN_IN = "sign_in"  # the one page of a browser nobody signed in on

_OPERATOR = ("corpus_documents", "corpus_upload", "corpus_search", "corpus_overview", "corpus_collections",
             "operations", "trace_explorer", "drift", "evaluation", "eval_runs")
# The policy: role -> the pages it may use.
ROLE_PAGES: dict[str, frozenset[str]] = {
    "admin": frozenset(PAGES),
    "operator": frozenset(("home", "chat", *_OPERATOR)),
    "analyst": frozenset(("home", "chat", "corpus_documents", "corpus_search")),
    "stakeholder": frozenset(("home", "cost_explorer", "capacity_planner", "decision_wizard", "operations")),
}
# Pages a role may open but only read: their change actions (delete, move, re-ingest) are not shown.
READ_ONLY: dict[str, frozenset[str]] = {
    "analyst": frozenset(("corpus_documents",)),
    "stakeholder": frozenset(("operations",)),
}


def allowed_pages(role: str) -> list[str]:
    """The role's pages, in navigation order (an unknown role: none)."""
    allowed = ROLE_PAGES.get(role, frozenset())
    return [name for name in PAGES if name in allowed]


def may_use(role: str, page: str) -> bool:
    return page in ROLE_PAGES.get(role, frozenset())


def may_change(role: str, page: str) -> bool:
    """May the role use the page's change actions (not only read it)?"""
    return may_use(role, page) and page not in READ_ONLY.get(role, frozenset())


def require_page(file: str) -> Identity:
    """The guard at the top of every page: the signed-in identity when its role may use this page.

    Nobody signed in: the sign-in form, then st.stop(). A role that may not use the page (opened by its URL):
    a clear "not allowed for your role" message, then st.stop(); never a traceback.
    """
    name = Path(file).stem
    identity = require_identity()
    if not may_use(identity.role, name):
        info = PAGES.get(name)
        title = info.title if info else name
        st.error(f"The page {title!r} is not allowed for your role ({identity.role}). "
                 "Ask an admin if you need it.", icon=":material/block:")
        st.stop()
    return identity


def page_context(file: str):
    """require_page(file) and the caller's RequestContext: (identity, ctx), what most pages start with."""
    identity = require_page(file)
    return identity, request_context(identity)


def app_pages(identity: Identity | None) -> dict[str, list]:
    """The st.navigation sections for this identity.

    Nobody signed in: only the sign-in page is shown. Signed in: the role's pages. Every other page is still
    registered, hidden, so its URL runs that page's guard (the sign-in form, or "not allowed for your role")
    instead of Streamlit's "page not found". The sign-in page and Home are both the default page (URL "/"), so
    signing in on "/" lands on Home.
    """
    allowed = set(allowed_pages(identity.role)) if identity is not None else set()
    sections: dict[str, list] = {}
    if identity is None:
        sections[""] = [st.Page(f"pages/{SIGN_IN}.py", title="Sign in", icon=":material/login:", default=True)]
    for name, info in PAGES.items():
        shown = name in allowed
        if name == "home" and identity is None:
            continue  # "/" is the sign-in page until someone signs in
        sections.setdefault(info.section if shown else "", []).append(
            st.Page(f"pages/{name}.py", title=info.title, icon=info.icon, default=shown and name == "home",
                    visibility="visible" if shown else "hidden"))
    return sections
