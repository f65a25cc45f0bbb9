"""The gateway: who calls (sessions, API keys), in which tenant, with which role and grants, within which limits."""
