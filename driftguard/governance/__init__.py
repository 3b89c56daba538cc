"""Governance: the model registry and its lifecycle, approvals, policies, and kill switches.

Every action here is checked against the actor's roles and recorded in the audit chain in the
same transaction as the change it records; refused actions are recorded too.
"""
