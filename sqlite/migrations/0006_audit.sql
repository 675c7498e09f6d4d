-- The audit log: append-only and hash-chained (see package audit). Rows are
-- never updated or deleted; the triggers make an accidental UPDATE or DELETE
-- fail, while the chain's MACs expose a deliberate one.
CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY,
    time           INTEGER NOT NULL, -- Unix nanoseconds, UTC
    request_id     TEXT NOT NULL,
    tenant_id      TEXT NOT NULL,
    object_id      TEXT NOT NULL,
    app_id         TEXT NOT NULL,
    principal_name TEXT NOT NULL,
    principal_type TEXT NOT NULL,
    operation      TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    key_version    TEXT NOT NULL,
    result         TEXT NOT NULL,
    status         INTEGER NOT NULL,
    mac            BLOB NOT NULL
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
