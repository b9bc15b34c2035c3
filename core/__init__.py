"""What every app shares and that depends on no app of the project: model bases, API errors
and pagination, ids, redaction, parsers, money formatting, encrypted fields, the request
context, the audit log, run-time settings (SystemConfig) and the task outbox (``core.outbox``).
"""
