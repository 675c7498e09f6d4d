-- Event Grid (package eventgrid) and the expiry events of keys.
--
-- expiry_event_due is when the next expiry event (KeyNearExpiry, then
-- KeyExpired) of a key's newest version falls due; like rotation_due, only
-- the newest version carries it, so a partial index holds the keys that
-- will raise one. Keys created before this migration raise none until their
-- expiry or rotation policy changes.
ALTER TABLE key_versions ADD COLUMN expiry_event_due INTEGER;

CREATE INDEX key_versions_expiry_event_due ON key_versions (expiry_event_due) WHERE expiry_event_due IS NOT NULL;

-- Event subscriptions: extension resources of the topic at scope (a
-- vault's ARM id). spec is JSON: endpoint, batching, filter, labels, retry.
CREATE TABLE event_subscriptions (
	id      TEXT PRIMARY KEY COLLATE NOCASE, -- {scope}/providers/Microsoft.EventGrid/eventSubscriptions/{name}
	scope   TEXT NOT NULL COLLATE NOCASE,
	name    TEXT NOT NULL,
	spec    TEXT NOT NULL,
	created INTEGER NOT NULL,
	updated INTEGER NOT NULL
);

CREATE INDEX event_subscriptions_scope ON event_subscriptions (scope);

-- The outbox: events raised in the transaction of the change they report,
-- until the dispatcher fans them out to their subscriptions. event is JSON.
CREATE TABLE event_outbox (
	seq   INTEGER PRIMARY KEY AUTOINCREMENT,
	event TEXT NOT NULL
);

-- One event on its way to one subscription. Times are Unix milliseconds.
CREATE TABLE event_deliveries (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	subscription_id TEXT NOT NULL REFERENCES event_subscriptions (id) ON DELETE CASCADE,
	event           TEXT NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt    INTEGER NOT NULL,
	expires         INTEGER NOT NULL,
	last_error      TEXT NOT NULL
);

CREATE INDEX event_deliveries_next_attempt ON event_deliveries (next_attempt);
CREATE INDEX event_deliveries_subscription ON event_deliveries (subscription_id);
