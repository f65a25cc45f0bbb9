"""The agent step: the deterministic planner, the step that runs its tool calls, and approving a proposed write."""
