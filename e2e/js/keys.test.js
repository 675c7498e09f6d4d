// End-to-end tests of tresor's keys API with the unmodified Azure JS SDKs.
// The Go test in e2e starts the server, creates a vault and a managed HSM
// through ARM, and runs this file with their URLs in the environment. Only
// the endpoint, TLS trust (NODE_EXTRA_CA_CERTS), credentials and a DNS pin
// (*.localhost does not resolve here; see tresor.js) are configured.
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { ManagedIdentityCredential } from "@azure/identity";
import { KeyClient, CryptographyClient } from "@azure/keyvault-keys";
import { agent, credential, env, unique } from "./tresor.js";

const vaultUrl = env("TRESOR_TEST_VAULT_URL");
const hsmUrl = env("TRESOR_TEST_HSM_URL");
const keys = new KeyClient(vaultUrl, credential, { agent });
const hsmKeys = new KeyClient(hsmUrl, credential, { agent });

test("RSA key: create, wrap/unwrap, encrypt/decrypt", async () => {
  const name = unique("js-rsa");
  const key = await keys.createRsaKey(name, { keySize: 2048 });
  assert.equal(key.name, name);
  assert.equal(key.keyType, "RSA");
  assert.ok(key.key.n.length >= 256);
  const crypto_ = new CryptographyClient(key, credential, { agent });
  const cek = crypto.randomBytes(32);
  for (const algorithm of ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"]) {
    const wrapped = await crypto_.wrapKey(algorithm, cek);
    const unwrapped = await crypto_.unwrapKey(algorithm, wrapped.result);
    assert.deepEqual(Buffer.from(unwrapped.result), cek, algorithm);
  }
  const enc = await crypto_.encrypt({ algorithm: "RSA-OAEP-256", plaintext: Buffer.from("hello tresor") });
  const dec = await crypto_.decrypt({ algorithm: "RSA-OAEP-256", ciphertext: enc.result });
  assert.equal(Buffer.from(dec.result).toString(), "hello tresor");
});

test("EC key: sign and verify, tampered signature fails", async () => {
  const name = unique("js-ec");
  const key = await keys.createEcKey(name, { curve: "P-256" });
  assert.equal(key.key.crv, "P-256");
  const crypto_ = new CryptographyClient(key.id, credential, { agent });
  const digest = crypto.createHash("sha256").update("payload").digest();
  const sig = await crypto_.sign("ES256", digest);
  assert.equal(sig.result.length, 64, "ECDSA P-256 signatures are raw r||s");
  assert.equal((await crypto_.verify("ES256", digest, sig.result)).result, true);
  const bad = Buffer.from(sig.result);
  bad[0] ^= 1;
  assert.equal((await crypto_.verify("ES256", digest, bad)).result, false);
  // The signature also verifies with node's own crypto (IEEE P1363 encoding).
  const pub = crypto.createPublicKey({
    key: { kty: "EC", crv: "P-256", x: Buffer.from(key.key.x).toString("base64url"), y: Buffer.from(key.key.y).toString("base64url") },
    format: "jwk",
  });
  // node hashes the message itself: ES256 over SHA-256("payload").
  assert.ok(crypto.verify("sha256", Buffer.from("payload"), { key: pub, dsaEncoding: "ieee-p1363" }, sig.result));
  assert.ok(!crypto.verify("sha256", Buffer.from("payload"), { key: pub, dsaEncoding: "ieee-p1363" }, bad));
});

test("lifecycle: get, list, update, disable, delete, recover, backup, purge, restore", async () => {
  const name = unique("js-life");
  const created = await keys.createKey(name, "RSA", { tags: { team: "platform" } });
  const got = await keys.getKey(name);
  assert.equal(got.properties.version, created.properties.version);
  assert.deepEqual(got.properties.tags, { team: "platform" });

  const second = await keys.createKey(name, "RSA");
  const versions = [];
  for await (const p of keys.listPropertiesOfKeyVersions(name)) versions.push(p.version);
  assert.deepEqual(versions.sort(), [created.properties.version, second.properties.version].sort());

  let listed = false;
  for await (const p of keys.listPropertiesOfKeys()) if (p.name === name) listed = true;
  assert.ok(listed, "listPropertiesOfKeys includes the key");

  const updated = await keys.updateKeyProperties(name, second.properties.version, { enabled: false, tags: { team: "sec" } });
  assert.equal(updated.properties.enabled, false);
  assert.deepEqual(updated.properties.tags, { team: "sec" });
  const disabled = new CryptographyClient(updated.id, credential, { agent });
  await assert.rejects(disabled.decrypt({ algorithm: "RSA-OAEP-256", ciphertext: Buffer.alloc(256) }), (e) => e.statusCode === 403);
  await keys.updateKeyProperties(name, second.properties.version, { enabled: true });

  const backup = await keys.backupKey(name);
  assert.ok(backup.length > 100);

  const delPoller = await keys.beginDeleteKey(name, { intervalInMs: 50 });
  const deleted = await delPoller.pollUntilDone();
  assert.equal(deleted.name, name);
  assert.ok(deleted.properties.recoveryId.endsWith(`/deletedkeys/${name}`));
  await assert.rejects(keys.createKey(name, "RSA"), (e) => e.statusCode === 409);
  const dk = await keys.getDeletedKey(name);
  assert.ok(dk.properties.scheduledPurgeDate > dk.properties.deletedOn);

  const recPoller = await keys.beginRecoverDeletedKey(name, { intervalInMs: 50 });
  const recovered = await recPoller.pollUntilDone();
  assert.equal(recovered.name, name);

  await (await keys.beginDeleteKey(name, { intervalInMs: 50 })).pollUntilDone();
  await keys.purgeDeletedKey(name);
  await assert.rejects(keys.getDeletedKey(name), (e) => e.statusCode === 404);

  const restored = await keys.restoreKeyBackup(backup);
  assert.equal(restored.name, name);
  assert.equal(restored.properties.version, second.properties.version);
});

test("managed HSM: oct-HSM wrap, AES-GCM and random bytes", async () => {
  const name = unique("js-aes");
  const key = await hsmKeys.createOctKey(name, { hsm: true, keySize: 256 });
  assert.equal(key.keyType, "oct-HSM");
  const c = new CryptographyClient(key, credential, { agent });
  const cek = crypto.randomBytes(32);
  const wrapped = await c.wrapKey("A256KW", cek);
  assert.equal(wrapped.result.length, 40);
  assert.deepEqual(Buffer.from((await c.unwrapKey("A256KW", wrapped.result)).result), cek);
  const enc = await c.encrypt({ algorithm: "A256GCM", plaintext: Buffer.from("sealed"), additionalAuthenticatedData: Buffer.from("aad") });
  assert.equal(enc.iv.length, 12);
  const dec = await c.decrypt({ algorithm: "A256GCM", ciphertext: enc.result, iv: enc.iv, authenticationTag: enc.authenticationTag, additionalAuthenticatedData: Buffer.from("aad") });
  assert.equal(Buffer.from(dec.result).toString(), "sealed");
  const rnd = await hsmKeys.getRandomBytes(32);
  assert.equal(rnd.length, 32);
  await assert.rejects(hsmKeys.getRandomBytes(129));
});

test("managed identity: ManagedIdentityCredential (App Service endpoint) wraps with an HSM key", async () => {
  // The Go side created a user-assigned identity with armmsi, gave it
  // Managed HSM Crypto User, and set IDENTITY_ENDPOINT / IDENTITY_HEADER.
  const miCredential = new ManagedIdentityCredential({ clientId: env("TRESOR_TEST_MI_CLIENT_ID"), agent });
  const key = await hsmKeys.createKey(unique("js-mi"), "oct-HSM", { keySize: 256 });
  const miCrypto = new CryptographyClient(key.id, miCredential, { agent });
  const cek = crypto.randomBytes(32);
  const wrapped = await miCrypto.wrapKey("A256KW", cek);
  const unwrapped = await miCrypto.unwrapKey("A256KW", wrapped.result);
  assert.deepEqual(Buffer.from(unwrapped.result), cek);
  const token = await miCredential.getToken(new URL(hsmUrl).origin.replace(/^https:\/\/[^.]+\./, "https://") + "/.default");
  const claims = JSON.parse(Buffer.from(token.token.split(".")[1], "base64url").toString());
  assert.equal(claims.appid, env("TRESOR_TEST_MI_CLIENT_ID"));
  assert.match(claims.xms_mirid, /\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/js-identity$/);
});
