"""Who may do what: the one table of role × action (seed 002 names the five roles). Checked in one place,
`api/routing.py`, for every route; every route declares its action.
"""

from __future__ import annotations

ROLES = ("readonly", "moderator", "operator", "analyst", "admin")

ACTIONS = {
    "conversations:read": "see conversations, messages, contacts and channels",
    "conversations:reply": "answer customers, retry a failed reply, upload attachments",
    "conversations:manage": "change status and tags, mark read, write internal notes",
    "messages:moderate": "delete or hide messages and comments, block customers",
    "analytics:read": "see reports and dashboards",
    "channels:manage": "connect, change and check channels",
    "workspace:admin": "API keys, members, settings, parked stream records",
    "inbound:write": "create customer messages through the integration API",
    "conversations:assign": "hand a conversation over to a colleague (with a note) or take it back",
    "audit:read": "the action log and the review of one operator's dialogs",
    "tasks:read": "see tasks, their history and comments, and the teams' queues",
    "tasks:write": "create, change, comment on, escalate and delete tasks",
    "teams:manage": "add, rename and remove teams and their members",
    "articles:read": "read the knowledge base's published articles and search them from the reply box",
    "articles:write": "write, publish, change and delete knowledge-base articles (drafts included)",
}

_ALL = frozenset(ACTIONS)

MATRIX: dict[str, frozenset[str]] = {
    "readonly": frozenset({"conversations:read", "tasks:read", "articles:read"}),
    # "can view, tag, close without answering, delete comments, block users; cannot answer" (seed 002)
    "moderator": frozenset({"conversations:read", "conversations:manage", "messages:moderate", "tasks:read",
                            "articles:read", "articles:write"}),
    "operator": frozenset({"conversations:read", "conversations:reply", "conversations:manage",
                           "messages:moderate", "inbound:write", "conversations:assign", "tasks:read",
                           "tasks:write", "articles:read"}),
    "analyst": frozenset({"conversations:read", "analytics:read", "tasks:read", "articles:read"}),
    "admin": _ALL,
}


def allowed(role: str, action: str) -> bool:
    if action not in ACTIONS:
        raise KeyError(f"undeclared action {action!r}")
    return action in MATRIX.get(role, frozenset())


def matrix_markdown() -> str:
    """docs/PERMISSIONS.md, generated from the table above (a test keeps the file in step)."""
    lines = [
        "# Permissions: role × action", "",
        "Roles as seed 002 names them. Enforced in one place (`chalicelib/api/routing.py`) for every route; every",
        "route declares its action, and `tests/e2e/test_role_matrix.py` calls every route with every role.",
        "Source of truth: `chalicelib/auth/permissions.py` (this page is generated from it).",
        "A caller is an API key (one workspace, one role) or a signed-in user, whose role is that of their",
        "membership in the workspace the request names (`X-Workspace`); see docs/TEAM.md.", "",
        "| action | what | " + " | ".join(ROLES) + " |",
        "| --- | --- | " + " | ".join("---" for _ in ROLES) + " |",
    ]
    for action, what in ACTIONS.items():
        marks = " | ".join("✓" if action in MATRIX[role] else "" for role in ROLES)
        lines.append(f"| `{action}` | {what} | {marks} |")
    return "\n".join(lines) + "\n"
