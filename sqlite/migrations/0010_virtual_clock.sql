-- The time a server on a virtual clock shows (package clock), kept so that
-- a restart does not send it back to real time.
CREATE TABLE virtual_clock (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	now INTEGER NOT NULL -- Unix nanoseconds
);
