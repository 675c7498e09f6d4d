-- ARM subscriptions and resource groups. Group names are unique per
-- subscription, case-insensitively; name keeps the first spelling.
CREATE TABLE arm_subscriptions (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    state        TEXT NOT NULL,
    seq          INTEGER NOT NULL
);

CREATE TABLE arm_resource_groups (
    subscription_id TEXT NOT NULL REFERENCES arm_subscriptions (id),
    name_key        TEXT NOT NULL,
    name            TEXT NOT NULL,
    location        TEXT NOT NULL,
    tags            TEXT NOT NULL, -- JSON object
    created         INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, name_key)
);
