// End-to-end tests of key rotation with the unmodified Azure JS SDK: the
// seed's three policies set and read back, rotation on demand, Azure's
// refusals, and scheduled rotation on the server's virtual clock, which
// this file moves through tresor's clock API. The Go test
// TestJSSDKRotation starts a server on a virtual clock, creates a vault and
// a managed HSM through ARM, and runs this file with their URLs in the
// environment.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyClient } from "@azure/keyvault-keys";
import { isSystemEvent } from "@azure/eventgrid";
import { agent, arm, credential, env, unique, waitFor, webhook, eventGrid } from "./tresor.js";

const keys = new KeyClient(env("TRESOR_TEST_VAULT_URL"), credential, { agent });
const hsmKeys = new KeyClient(env("TRESOR_TEST_HSM_URL"), credential, { agent });

// The seed's example policies, as the SDK takes them.
const seed = [
  { name: "rotate P18M after create, versions expire after P2Y", policy: { lifetimeActions: [{ action: "Rotate", timeAfterCreate: "P18M" }], expiresIn: "P2Y" } },
  { name: "rotate P28D before expiry, versions expire after P1Y", policy: { lifetimeActions: [{ action: "Rotate", timeBeforeExpiry: "P28D" }], expiresIn: "P1Y" } },
  { name: "the empty policy", policy: { lifetimeActions: [] } },
];

// Key Vault (not Managed HSM) adds this to a policy with actions but no
// Notify, and it is the whole of a Key Vault key's default policy.
const notify = { action: "Notify", timeBeforeExpiry: "P30D" };

// shape is what a policy says, without the fields the SDK leaves unset.
const shape = (p) => ({
  expiresIn: p.expiresIn ?? undefined,
  lifetimeActions: p.lifetimeActions?.map((a) => Object.fromEntries(Object.entries(a).filter(([, v]) => v != null))),
});

const badParameter = (e) => e.statusCode === 400 && e.code === "BadParameter";

// versions lists a key's versions, oldest first.
const versions = async (client, name) => {
  const out = [];
  for await (const p of client.listPropertiesOfKeyVersions(name)) out.push(p);
  return out.sort((a, b) => a.createdOn - b.createdOn);
};

// add returns t plus years, months and days, normalised as Go's AddDate
// (and so tresor's ISO 8601 periods) normalise: 31 January plus a month is
// 3 March, or 2 March in a leap year.
const add = (t, years, months, days) =>
  new Date(Date.UTC(t.getUTCFullYear() + years, t.getUTCMonth() + months, t.getUTCDate() + days,
    t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds(), t.getUTCMilliseconds()));

// clock calls tresor's clock API on the ARM endpoint, as 'tresor clock'
// does: GET /tresor/clock without a body, POST /tresor/clock/advance with
// one. It returns the clock's time.
async function clock(body) {
  const res = body ? await arm("POST", "/tresor/clock/advance", body) : await arm("GET", "/tresor/clock");
  return new Date(res.now);
}

for (const [kind, client, withNotify] of [["Key Vault", keys, true], ["Managed HSM", hsmKeys, false]]) {
  test(`${kind}: the default policy, then the seed's three policies set and read back`, async () => {
    const name = unique("js-policy");
    await client.createKey(name, withNotify ? "RSA" : "RSA-HSM");
    const def = await client.getKeyRotationPolicy(name);
    assert.equal(def.id, undefined, "a default policy has no id");
    assert.equal(def.createdOn, undefined, "a default policy has no creation time");
    assert.deepEqual(shape(def), shape({ lifetimeActions: withNotify ? [notify] : [] }));

    let created;
    for (const { name: what, policy } of seed) {
      const actions = policy.lifetimeActions;
      const want = shape({ ...policy, lifetimeActions: withNotify && actions.length > 0 ? [...actions, notify] : actions });
      const set = await client.updateKeyRotationPolicy(name, policy);
      assert.deepEqual(shape(set), want, `${what}: as returned by update`);
      const got = await client.getKeyRotationPolicy(name);
      assert.deepEqual(shape(got), want, `${what}: as read back`);
      assert.equal(got.id, set.id, what);
      assert.ok(got.id.endsWith(`/keys/${name}/rotationpolicy`), `${what}: id ${got.id}`);
      assert.ok(got.createdOn instanceof Date && got.updatedOn instanceof Date && got.updatedOn >= got.createdOn, what);
      created ??= got.createdOn;
      assert.equal(got.createdOn.getTime(), created.getTime(), `${what}: an update keeps the policy's creation time`);
    }
  });

  test(`${kind}: a policy rotating 7 days after creation (more often than every 28 days) is refused`, async () => {
    const name = unique("js-bad");
    await client.createKey(name, withNotify ? "EC" : "EC-HSM");
    await assert.rejects(
      client.updateKeyRotationPolicy(name, { lifetimeActions: [{ action: "Rotate", timeAfterCreate: "P7D" }], expiresIn: "P1Y" }),
      badParameter,
    );
    const got = await client.getKeyRotationPolicy(name);
    assert.equal(got.id, undefined, "the refused policy was not stored");
  });
}

test("Key Vault: rotateKey without a policy creates a new version", async () => {
  const name = unique("js-rotate");
  const first = await keys.createRsaKey(name, { keySize: 2048, tags: { team: "platform" } });
  const rotated = await keys.rotateKey(name);
  assert.notEqual(rotated.properties.version, first.properties.version);
  assert.equal(rotated.keyType, "RSA");
  assert.equal(rotated.key.n.length, 256);
  assert.notDeepEqual(Buffer.from(rotated.key.n), Buffer.from(first.key.n), "a new version has new key material");
  assert.deepEqual(rotated.properties.tags, { team: "platform" });
  assert.equal(rotated.properties.expiresOn, undefined, "without a policy's expiryTime the version does not expire");
  const vs = await versions(keys, name);
  assert.deepEqual(vs.map((v) => v.version).sort(), [first.properties.version, rotated.properties.version].sort());
  assert.equal((await keys.getKey(name)).properties.version, rotated.properties.version);
});

test("Managed HSM: rotateKey without a policy is refused, with one it rotates", async () => {
  const name = unique("js-hsm-rotate");
  const first = await hsmKeys.createKey(name, "oct-HSM", { keySize: 256 });
  await assert.rejects(hsmKeys.rotateKey(name), badParameter);
  assert.equal((await versions(hsmKeys, name)).length, 1, "a refused rotation leaves one version");
  await hsmKeys.updateKeyRotationPolicy(name, seed[2].policy);
  const rotated = await hsmKeys.rotateKey(name);
  assert.equal(rotated.keyType, "oct-HSM");
  assert.notEqual(rotated.properties.version, first.properties.version);
});

test("Managed HSM: the 101st version of a key is refused, rotated or created", async () => {
  const name = unique("js-hsm-full");
  await hsmKeys.createKey(name, "oct-HSM", { keySize: 256 });
  await hsmKeys.updateKeyRotationPolicy(name, seed[2].policy);
  for (let i = 1; i < 100; i++) await hsmKeys.rotateKey(name);
  assert.equal((await versions(hsmKeys, name)).length, 100);
  await assert.rejects(hsmKeys.rotateKey(name), badParameter);
  await assert.rejects(hsmKeys.createKey(name, "oct-HSM", { keySize: 256 }), badParameter);
  assert.equal((await versions(hsmKeys, name)).length, 100, "refused versions are not stored");
});

test("virtual clock: advancing P18M rotates each key once, when its policy says, with its events", async (t) => {
  // A webhook subscribed to the vault's key events through ARM.
  const hook = await webhook();
  t.after(hook.close);
  const arm = await eventGrid();
  const scope = env("TRESOR_TEST_VAULT_ID");
  await arm.eventSubscriptions.beginCreateOrUpdateAndWait(scope, "js-rotation", {
    destination: { endpointType: "WebHook", endpointUrl: hook.url, maxEventsPerBatch: 20 },
  });
  t.after(() => arm.eventSubscriptions.beginDeleteAndWait(scope, "js-rotation"));

  const start = await clock();
  const [p18m, p28d, none] = [unique("js-p18m"), unique("js-p28d"), unique("js-none")];
  const k = await keys.createRsaKey(p18m);
  assert.equal(k.properties.createdOn.getTime(), start.getTime(), "a key is created at the virtual clock's time");
  await keys.updateKeyRotationPolicy(p18m, seed[0].policy);
  const expires = add(start, 1, 0, 0);
  await keys.createRsaKey(p28d, { expiresOn: expires });
  await keys.updateKeyRotationPolicy(p28d, seed[1].policy);
  await keys.createRsaKey(none);
  await keys.updateKeyRotationPolicy(none, seed[2].policy);

  const now = await clock({ by: "P18M" });
  assert.equal(now.toISOString(), add(start, 0, 18, 0).toISOString());

  // created and expires of each version, oldest first.
  const dates = async (name) =>
    (await versions(keys, name)).map((v) => [v.createdOn.toISOString(), v.expiresOn?.toISOString()]);
  const iso = (t) => t.toISOString();
  // P18M: rotated 18 months after creation, the new version expiring two
  // years after that; the next rotation is 18 months later still.
  const at18 = add(start, 0, 18, 0);
  assert.deepEqual(await dates(p18m), [[iso(start), undefined], [iso(at18), iso(add(at18, 2, 0, 0))]]);
  // P28D before expiry: rotated 28 days before the first version expires,
  // the new version expiring a year later, whose rotation is not due yet.
  const rotatedAt = add(expires, 0, 0, -28);
  assert.deepEqual(await dates(p28d), [[iso(start), iso(expires)], [iso(rotatedAt), iso(add(rotatedAt, 1, 0, 0))]]);
  assert.deepEqual(await dates(none), [[iso(start), undefined]], "the empty policy never rotates");
  const cur = await keys.getKey(p18m);
  assert.equal(cur.properties.createdOn.getTime(), at18.getTime(), "the rotated version is the key's current one");

  // Exactly these events, at the virtual clock's times: each creation;
  // the P28D key's KeyNearExpiry 30 days before its expiry (the Notify
  // Key Vault adds) and its rotation two days later; the P18M rotation.
  // No new version nears its expiry within the 18 months.
  const mine = [p18m, p28d, none];
  const want = [
    ["Microsoft.KeyVault.KeyNewVersionCreated", p18m, start],
    ["Microsoft.KeyVault.KeyNewVersionCreated", p28d, start],
    ["Microsoft.KeyVault.KeyNewVersionCreated", none, start],
    ["Microsoft.KeyVault.KeyNearExpiry", p28d, add(expires, 0, 0, -30)],
    ["Microsoft.KeyVault.KeyNewVersionCreated", p28d, rotatedAt],
    ["Microsoft.KeyVault.KeyNewVersionCreated", p18m, at18],
  ].map(([type, subject, at]) => `${iso(at)} ${type} ${subject}`);
  const seen = () =>
    hook.received
      .filter(({ event }) => mine.includes(event.subject))
      .map(({ event }) => `${iso(event.eventTime)} ${event.eventType} ${event.subject}`)
      .sort();
  await waitFor(() => seen().length >= want.length, `${want.length} events`);
  assert.deepEqual(seen(), want.sort());
  for (const { event } of hook.received.filter(({ event }) => event.subject === p28d && event.eventType.endsWith("NearExpiry"))) {
    assert.ok(isSystemEvent("Microsoft.KeyVault.KeyNearExpiry", event));
    assert.equal(event.data.EXP, expires.getTime() / 1000);
  }
});
