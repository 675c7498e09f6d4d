// Drives the unmodified @azure/storage-blob client against the Go test's
// Blob server (BLOB_URL, path style) with Shared Key and prints what it saw
// as JSON. With MODE=revoked it runs operations while the account key is
// revoked and prints their error codes; with MODE=scopes it uses the
// encryption scopes sa and sb.
"use strict";
const {
  BlobServiceClient,
  BlockBlobClient,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  BlobSASPermissions,
} = require("@azure/storage-blob");

async function readAll(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

async function code(p) {
  try {
    await p;
    return "ok";
  } catch (e) {
    return `${e.statusCode} ${e.details?.errorCode ?? e.code}`;
  }
}

async function main() {
  const { BLOB_URL, ACCOUNT, ACCOUNT_KEY, MODE } = process.env;
  const cred = new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY);
  const service = new BlobServiceClient(BLOB_URL, cred, { retryOptions: { maxTries: 1 } });
  const c = service.getContainerClient("jsc");
  const out = {};

  if (MODE === "revoked") {
    const big = c.getBlobClient("dir/big.bin");
    out.download = await code(big.download(0, 10));
    out.getProperties = await code(big.getProperties());
    out.upload = await code(c.getBlockBlobClient("new").upload("x", 1));
    out.list = await code(c.listBlobsFlat().byPage().next());
    out.listMetadata = await code(c.listBlobsFlat({ includeMetadata: true }).byPage().next());
    out.containerProperties = await code(c.getProperties());
    console.log(JSON.stringify(out));
    return;
  }

  if (MODE === "scopes") {
    const sc = service.getContainerClient("jsscoped");
    await sc.create({ containerEncryptionScope: { defaultEncryptionScope: "sa", preventEncryptionScopeOverride: true } });
    const cp = await sc.getProperties();
    out.containerScope = `${cp.defaultEncryptionScope} ${cp.denyEncryptionScopeOverride}`;
    for await (const it of service.listContainers({ prefix: "jsscoped" })) {
      out.listedContainerScope = `${it.properties.defaultEncryptionScope} ${it.properties.preventEncryptionScopeOverride}`;
    }
    out.uploadScope = (await sc.getBlockBlobClient("a").upload("in sa", 5)).encryptionScope;
    out.override = await code(sc.getBlockBlobClient("b").upload("x", 1, { encryptionScope: "sb" }));

    const oc = service.getContainerClient("jsopen");
    await oc.create();
    const bb = oc.getBlockBlobClient("blocks");
    const id = Buffer.from("block-0").toString("base64");
    out.stageScope = (await bb.stageBlock(id, "staged in sb", 12, { encryptionScope: "sb" })).encryptionScope;
    out.commitScope = (await bb.commitBlockList([id], { encryptionScope: "sb" })).encryptionScope;
    out.propertiesScope = (await bb.getProperties()).encryptionScope;
    out.downloaded = (await bb.downloadToBuffer()).toString();
    out.mismatch = await code(bb.setMetadata({ a: "b" }, { encryptionScope: "sa" }));
    await oc.getBlockBlobClient("plain").upload("x", 1);
    out.listed = [];
    for await (const it of oc.listBlobsFlat()) out.listed.push(`${it.name}=${it.properties.encryptionScope ?? "none"}`);
    console.log(JSON.stringify(out));
    return;
  }

  await c.create({ metadata: { owner: "js" } });
  out.containerMetadata = (await c.getProperties()).metadata;

  const small = c.getBlockBlobClient("dir/small.txt");
  const up = await small.upload("hello from js", 13, {
    blobHTTPHeaders: { blobContentType: "text/plain" },
    metadata: { k: "v" },
  });
  out.uploadEncrypted = up.isServerEncrypted;

  // Larger than maxSingleShotSize: Put Block three times, Put Block List.
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
  const bigBlob = c.getBlockBlobClient("dir/big.bin");
  await bigBlob.uploadData(big, { blockSize: 1024 * 1024, maxSingleShotSize: 1024 * 1024, concurrency: 3 });
  out.bigEqual = (await bigBlob.downloadToBuffer(0, undefined, { blockSize: 1024 * 1024 })).equals(big);
  const r = await bigBlob.download(10, 100); // x-ms-range
  out.rangeEqual = (await readAll(r.readableStreamBody)).equals(big.subarray(10, 110));
  out.contentRange = r.contentRange;
  out.blockCount = (await bigBlob.getBlockList("all")).committedBlocks.length;

  const p = await small.getProperties();
  out.properties = { contentType: p.contentType, metadata: p.metadata, encrypted: p.isServerEncrypted, length: p.contentLength };
  await small.setMetadata({ a: "b" });
  out.metadataAfterSet = (await small.getProperties()).metadata;

  out.hierarchy = [];
  for await (const it of c.listBlobsByHierarchy("/")) out.hierarchy.push(`${it.kind}:${it.name}`);
  out.flat = [];
  for await (const it of c.listBlobsFlat({ includeMetadata: true })) out.flat.push(`${it.name}=${JSON.stringify(it.metadata)}`);
  out.pages = [];
  for await (const page of c.listBlobsFlat().byPage({ maxPageSize: 1 })) out.pages.push(page.segment.blobItems.map((b) => b.name));

  const pb = c.getPageBlobClient("disk");
  await pb.create(4096);
  await pb.uploadPages(Buffer.alloc(1024, 1), 512, 1024);
  out.pageRanges = (await pb.getPageRanges()).pageRange;

  const copy = c.getBlobClient("copy");
  const poller = await copy.beginCopyFromURL(small.url);
  out.copyStatus = (await poller.pollUntilDone()).copyStatus;

  const sas = generateBlobSASQueryParameters(
    { containerName: "jsc", blobName: "dir/small.txt", permissions: BlobSASPermissions.parse("r"), expiresOn: new Date(Date.now() + 3600e3) },
    cred,
  ).toString();
  const ro = new BlockBlobClient(`${small.url}?${sas}`, undefined, { retryOptions: { maxTries: 1 } });
  out.sasRead = (await ro.downloadToBuffer()).toString();
  out.sasWrite = await code(ro.upload("x", 1));
  out.missing = await code(c.getBlobClient("missing").getProperties());

  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
