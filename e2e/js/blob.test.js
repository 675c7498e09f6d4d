// The seed's storage story end to end with the unmodified Azure JS SDKs,
// as e2e/blob_test.go tells it in Go: @azure/arm-keyvault,
// @azure/keyvault-keys, @azure/arm-msi and @azure/arm-authorization set up
// a vault with purge protection, a key and an identity that may use it;
// @azure/arm-storage creates an account encrypted with that key;
// @azure/storage-blob writes with Entra tokens (host style, at the
// account's primaryEndpoints.blob) and reads with Shared Key and a SAS
// (path style, at TRESOR_BLOB_ENDPOINT, as on Azurite). The key rotates and
// the account follows at its daily check on the virtual clock; disabling
// the key refuses the operations Azure lists (a representative set) and
// not the others; Microsoft-managed keys and back lose nothing. The Go
// test TestJSSDKBlob starts a server on a virtual clock without a key
// cache, runs this file, and then looks for the content and the metadata
// in the server's files. The steps build on each other and run in order.
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { ManagedServiceIdentityClient } from "@azure/arm-msi";
import { StorageManagementClient } from "@azure/arm-storage";
import { KeyClient } from "@azure/keyvault-keys";
import {
  BlobServiceClient,
  ContainerClient,
  ContainerSASPermissions,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from "@azure/storage-blob";
import { agent, arm, armOptions, credential, env } from "./tresor.js";

const subscription = env("AZURE_SUBSCRIPTION_ID");
const admin = env("TRESOR_ADMIN_OBJECT_ID");
const group = "rg-js-blob";
const vaultName = "kv-js-cmk";
const account = "stjsblob";
const groupID = `/subscriptions/${subscription}/resourceGroups/${group}`;
const vaultID = `${groupID}/providers/Microsoft.KeyVault/vaults/${vaultName}`;

// Built-in roles, by Azure's ids.
const cryptoOfficer = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603";
const cryptoServiceEncryptionUser = "e147488a-f6f5-4113-8e2d-b22465e65bf6";
const blobDataContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

const storage = new StorageManagementClient(credential, subscription, armOptions());
const vaults = new KeyVaultManagementClient(credential, subscription, armOptions());
const identities = new ManagedServiceIdentityClient(credential, subscription, armOptions());
const authorization = new AuthorizationManagementClient(credential, subscription, armOptions());

// The story's content, made of the Go test's marker, which it looks for
// at rest: a small blob written in one request and a large one in four
// blocks of at most 1 MiB.
const marker = Buffer.from(env("TRESOR_TEST_MARKER"));
const secretMetadata = env("TRESOR_TEST_METADATA");
const small = Buffer.alloc(10 * marker.length, marker);
const large = Buffer.alloc(3 * 1024 * 1024 + 17, marker);
const blockSize = 1024 * 1024;

// What the steps share, set as they go.
const story = {};

// assign gives principal a built-in role at scope through
// @azure/arm-authorization.
const assign = (scope, role, principalId) =>
  authorization.roleAssignments.create(scope, crypto.randomUUID(), {
    roleDefinitionId: `/subscriptions/${subscription}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
    principalId,
  });

// refused checks that p fails with status and code: "403
// KeyVaultEncryptionKeyNotFound". A HEAD has no body; @azure/storage-blob
// reads its code from the x-ms-error-code header into details.errorCode.
async function refused(p, want, what) {
  let err;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${what} succeeded; want ${want}`);
  assert.equal(`${err.statusCode} ${err.code ?? err.details?.errorCode}`, want, `${what}: ${err.message}`);
  return err;
}

// step is a test that is skipped once an earlier step has failed: each
// builds on the ones before.
let failed;
const step = (name, fn) =>
  test(name, async (t) => {
    if (failed) return t.skip(`step "${failed}" failed`);
    try {
      await fn(t);
    } catch (e) {
      failed = name;
      throw e;
    }
  });

const encryption = async () => (await storage.storageAccounts.getProperties(group, account)).encryption;

const cmk = () => ({
  keySource: "Microsoft.Keyvault",
  keyVaultProperties: { keyVaultUri: story.vaultUri, keyName: "cmk", keyVersion: "" },
  encryptionIdentity: { encryptionUserAssignedIdentity: story.identityID },
});

const setEnabled = (enabled) => story.keys.updateKeyProperties("cmk", { enabled });

// read checks that each client reads each blob of container "data" as
// written.
async function read(clients, what) {
  for (const [via, c] of Object.entries(clients)) {
    for (const [name, want] of [["small.txt", small], ["large.bin", large]]) {
      const got = await c.getBlobClient(name).downloadToBuffer();
      assert.ok(got.equals(want), `${what}, ${name} through ${via}: ${got.length} bytes differ from the ${want.length} uploaded`);
    }
  }
}

step("1. a vault, a key and an identity through ARM; an account encrypted with the key through @azure/arm-storage", async () => {
  await arm("PUT", `${groupID}?api-version=2021-04-01`, { location: "westeurope" });
  const vault = await vaults.vaults.createOrUpdate(group, vaultName, {
    location: "westeurope",
    properties: {
      tenantId: env("AZURE_TENANT_ID"),
      sku: { family: "A", name: "premium" },
      enableSoftDelete: true,
      enablePurgeProtection: true,
      enableRbacAuthorization: true,
    },
  });
  assert.equal(vault.properties.enablePurgeProtection, true);
  assert.equal(vault.properties.enableRbacAuthorization, true);
  story.vaultUri = vault.properties.vaultUri;
  assert.match(story.vaultUri, new RegExp(`^https://${vaultName}\\.vault\\.`));
  story.keys = new KeyClient(story.vaultUri, credential, { agent });

  // With RBAC, owning the subscription gives no key access: the admin
  // needs Key Vault Crypto Officer.
  await refused(story.keys.createRsaKey("cmk"), "403 Forbidden", "createRsaKey before Crypto Officer");
  await assign(vaultID, cryptoOfficer, admin);
  story.key = await story.keys.createRsaKey("cmk", { keySize: 3072 });
  assert.equal(story.key.keyType, "RSA");
  assert.equal(story.key.key.n.length, 384);

  const mi = await identities.userAssignedIdentities.createOrUpdate(group, "storage-cmk", { location: "westeurope" });
  story.identityID = mi.id;
  assert.ok(mi.principalId, "the identity has a principal");

  const params = {
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    identity: { type: "UserAssigned", userAssignedIdentities: { [story.identityID]: {} } },
    encryption: { ...cmk(), services: { blob: { enabled: true, keyType: "Account" } } },
  };
  // The identity may not use the key yet: refused, and nothing made.
  await refused(storage.storageAccounts.create(group, account, params), "400 KeyVaultAccessForbidden", "create before the identity has access");
  await assert.rejects(storage.storageAccounts.getProperties(group, account), (e) => e.statusCode === 404, "a refused create left the account");
  await assign(vaultID, cryptoServiceEncryptionUser, mi.principalId);

  const acct = await storage.storageAccounts.create(group, account, params);
  const enc = acct.encryption;
  assert.equal(acct.provisioningState, "Succeeded");
  assert.equal(enc.keySource, "Microsoft.Keyvault");
  assert.equal(enc.keyVaultProperties.currentVersionedKeyIdentifier, story.key.id);
  assert.equal(enc.keyVaultProperties.keyVersion ?? "", "", "no version given: the account follows the key's newest");
  assert.ok(enc.keyVaultProperties.lastKeyRotationTimestamp instanceof Date);
  assert.equal(enc.encryptionIdentity.encryptionUserAssignedIdentity.toLowerCase(), story.identityID.toLowerCase());
  story.accountID = acct.id;
  story.endpoint = acct.primaryEndpoints.blob;
  assert.match(story.endpoint, new RegExp(`^https://${account}\\.blob\\.localhost:\\d+/$`));
});

step("2. upload with Entra tokens (host style); download with Shared Key and a SAS (path style)", async () => {
  // *.blob.localhost resolves through tresor.js's agent only.
  const oauth = new BlobServiceClient(story.endpoint, credential, { agent });
  story.oauth = oauth.getContainerClient("data");
  // Owner of the subscription may create a container but, as in Azure,
  // needs a Storage Blob Data role to write blobs.
  await story.oauth.create();
  await refused(story.oauth.getBlockBlobClient("x").upload("x", 1), "403 AuthorizationPermissionMismatch", "upload without a data role");
  await assign(story.accountID, blobDataContributor, admin);

  const put = await story.oauth.getBlockBlobClient("small.txt").upload(small, small.length, { metadata: { owner: secretMetadata } });
  assert.equal(put.isServerEncrypted, true, "Put Blob: x-ms-request-server-encrypted");
  const big = story.oauth.getBlockBlobClient("large.bin");
  const committed = await big.uploadData(large, { blockSize, maxSingleShotSize: blockSize });
  assert.equal(committed.isServerEncrypted, true, "Put Block List: x-ms-request-server-encrypted");
  const blocks = (await big.getBlockList("committed")).committedBlocks;
  assert.deepEqual(blocks.map((b) => b.size), [blockSize, blockSize, blockSize, 17]);

  // Shared Key with key1 as ARM lists it, path style.
  const { keys } = await storage.storageAccounts.listKeys(group, account);
  assert.deepEqual(keys.map((k) => k.keyName), ["key1", "key2"]);
  const pathStyle = `${env("TRESOR_BLOB_ENDPOINT")}/${account}`;
  assert.match(pathStyle, /^https:\/\/127\.0\.0\.1:\d+\//);
  story.shared = new BlobServiceClient(pathStyle, new StorageSharedKeyCredential(account, keys[0].value), { agent }).getContainerClient("data");
  const props = await story.shared.getBlobClient("small.txt").getProperties();
  assert.equal(props.isServerEncrypted, true);
  assert.deepEqual(props.metadata, { owner: secretMetadata });
  assert.equal(props.contentLength, small.length);

  // A read-only service SAS for the container, signed with key2.
  const sas = generateBlobSASQueryParameters({
    containerName: "data",
    permissions: ContainerSASPermissions.parse("rl"),
    protocol: SASProtocol.Https,
    expiresOn: new Date(Date.now() + 3600e3),
  }, new StorageSharedKeyCredential(account, keys[1].value)).toString();
  const withSAS = new ContainerClient(`${pathStyle}/data?${sas}`, undefined, { agent });
  await read({ oauth: story.oauth, "Shared Key": story.shared, SAS: withSAS }, "as uploaded");
  await refused(withSAS.getBlockBlobClient("nope").upload("x", 1), "403 AuthorizationPermissionMismatch", "write with a read-only SAS");
});

step("3. the key rotates; at its daily check on the virtual clock the account moves to the new version", async () => {
  const before = await encryption();
  story.rotated = await story.keys.rotateKey("cmk");
  assert.notEqual(story.rotated.id, story.key.id);
  assert.equal((await encryption()).keyVaultProperties.currentVersionedKeyIdentifier, story.key.id, "before the daily check");
  await arm("POST", "/tresor/clock/advance", { by: "P1D" });
  const after = (await encryption()).keyVaultProperties;
  assert.equal(after.currentVersionedKeyIdentifier, story.rotated.id, "after the daily check");
  assert.ok(after.lastKeyRotationTimestamp > before.keyVaultProperties.lastKeyRotationTimestamp);
  await read({ oauth: story.oauth, "Shared Key": story.shared }, "after rotation");
  const put = await story.oauth.getBlockBlobClient("after-rotation").upload(small, small.length);
  assert.equal(put.isServerEncrypted, true);
});

step("4. with the key disabled, Azure's listed operations are refused and the others work; enabled again, nothing is lost", async (t) => {
  const service = new BlobServiceClient(story.endpoint, credential, { agent });
  const c = service.getContainerClient("revocation");
  await c.create();
  const big = c.getBlockBlobClient("big");
  await big.uploadData(large, { blockSize, maxSingleShotSize: blockSize, metadata: { k: "v" } });
  await c.getBlockBlobClient("staged").stageBlock("AAAA", "staged", 6);
  await c.getBlockBlobClient("staged2").stageBlock("AAAA", "staged2", 7);
  await c.getBlockBlobClient("doomed").upload("x", 1);
  const copied = await (await c.getBlobClient("copy").beginCopyFromURL(big.url)).pollUntilDone();
  assert.equal(copied.copyStatus, "success", "a copy with the key enabled");

  await setEnabled(false);
  const revoked = "403 KeyVaultEncryptionKeyNotFound";
  const refusedOps = {
    "Get Blob (download)": () => big.download(),
    "Get Blob Properties (getProperties, a HEAD)": () => big.getProperties(),
    "Set Blob Metadata (setMetadata)": () => big.setMetadata({ a: "b" }),
    "Put Blob (upload)": () => c.getBlockBlobClient("new").upload("x", 1),
    "Put Block (stageBlock)": () => big.stageBlock("AAAB", "x", 1),
    "List Blobs include=metadata (listBlobsFlat)": () => c.listBlobsFlat({ includeMetadata: true }).byPage().next(),
    "Copy Blob (beginCopyFromURL)": () => c.getBlobClient("copy2").beginCopyFromURL(big.url),
  };
  for (const [name, op] of Object.entries(refusedOps)) {
    await t.test(`refused: ${name}`, async () => {
      const err = await refused(op(), revoked, name);
      if (name.includes("HEAD")) assert.equal(err.response.headers.get("x-ms-error-code"), "KeyVaultEncryptionKeyNotFound");
    });
  }
  const allowed = {
    "Create Container": () => service.getContainerClient("other").create(),
    "Get Container Properties": () => c.getProperties(),
    "List Blobs (listBlobsFlat)": async () => {
      const names = [];
      for await (const b of c.listBlobsFlat()) names.push(b.name);
      assert.deepEqual(names, ["big", "copy", "doomed"]);
    },
    "Put Block List of a block staged before (commitBlockList)": () => c.getBlockBlobClient("staged").commitBlockList(["AAAA"]),
    "Get Block List (getBlockList)": async () => {
      const list = await c.getBlockBlobClient("staged2").getBlockList("all");
      assert.deepEqual(list.uncommittedBlocks.map((b) => [b.name, b.size]), [["AAAA", 7]]);
    },
    "Set Blob Properties (setHTTPHeaders)": () => big.setHTTPHeaders({ blobContentType: "text/x" }),
    "Delete Blob (deleteBlob)": () => c.deleteBlob("doomed"),
    "Delete Container": () => service.deleteContainer("other"),
  };
  for (const [name, op] of Object.entries(allowed)) {
    await t.test(`allowed: ${name}`, async () => {
      await op();
    });
  }

  await setEnabled(true);
  assert.ok((await big.downloadToBuffer()).equals(large), "big after recovery");
  const props = await big.getProperties();
  assert.deepEqual(props.metadata, { k: "v" }, "metadata: the refused setMetadata changed nothing");
  assert.equal(props.contentType, "text/x", "the content type set while the key was disabled");
  assert.equal((await c.getBlobClient("staged").downloadToBuffer()).toString(), "staged", "committed while the key was disabled");
  assert.ok((await c.getBlobClient("copy").downloadToBuffer()).equals(large), "copy");
  const names = [];
  for await (const b of c.listBlobsFlat({ includeMetadata: true })) names.push(b.name);
  assert.deepEqual(names, ["big", "copy", "staged"], "no refused write left a blob, the deleted one is gone");
  await read({ oauth: story.oauth, "Shared Key": story.shared }, "after the key is enabled again");
});

step("5. Microsoft-managed keys and back to the customer-managed key: the data stays readable", async () => {
  const mm = await storage.storageAccounts.update(group, account, { encryption: { keySource: "Microsoft.Storage" } });
  assert.equal(mm.encryption.keySource, "Microsoft.Storage");
  assert.equal(mm.encryption.keyVaultProperties, undefined);
  // The key is no longer in use: disabling it changes nothing.
  await setEnabled(false);
  try {
    await read({ oauth: story.oauth, "Shared Key": story.shared }, "with Microsoft-managed keys and the CMK disabled");
  } finally {
    await setEnabled(true);
  }

  const back = await storage.storageAccounts.update(group, account, { encryption: cmk() });
  assert.equal(back.encryption.keySource, "Microsoft.Keyvault");
  assert.equal(back.encryption.keyVaultProperties.currentVersionedKeyIdentifier, story.rotated.id);
  await read({ oauth: story.oauth, "Shared Key": story.shared }, "back on the customer-managed key");
  // In use again: disabling the key refuses reads.
  await setEnabled(false);
  try {
    await refused(story.shared.getBlobClient("small.txt").download(), "403 KeyVaultEncryptionKeyNotFound", "download with the CMK back and disabled");
  } finally {
    await setEnabled(true);
  }
});
