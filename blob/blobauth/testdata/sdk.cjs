// Drives the unmodified @azure/storage-blob client against the Go test's
// fake Blob endpoint (BLOB_URL, path style), signing with Shared Key, and
// prints the SAS it generates as JSON for the Go test to verify.
"use strict";
const {
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  generateAccountSASQueryParameters,
  BlobSASPermissions,
  ContainerSASPermissions,
  AccountSASPermissions,
  AccountSASServices,
  AccountSASResourceTypes,
  SASProtocol,
} = require("@azure/storage-blob");

// Metadata keys whose headers sort differently by .NET's culture-aware rule
// and by byte value.
const metadata = { ab: "1", "a-b": "2", a_1: "3", a1: "4", original: "5", "or-policy-id": "6" };

async function main() {
  const { BLOB_URL, ACCOUNT, ACCOUNT_KEY } = process.env;
  const cred = new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY);
  const service = new BlobServiceClient(BLOB_URL, cred, { retryOptions: { maxTries: 1 } });
  const container = service.getContainerClient("c1");
  const blob = container.getBlockBlobClient("dir/a b+c.txt");

  await container.create({ metadata });
  await blob.upload("0123456789", 10, {
    metadata,
    blobHTTPHeaders: { blobContentType: "text/plain", blobContentLanguage: "en" },
  });
  await container.listBlobsFlat({ prefix: "dir/", includeMetadata: true }).byPage({ maxPageSize: 2 }).next();
  const download = await blob.download(1, 3, { conditions: { ifMatch: '"0x8DD0B1C2D3E4F50"' } });
  await streamToString(download.readableStreamBody);
  await blob.setMetadata(metadata);
  await blob.getProperties();
  await container.setMetadata(metadata);
  await service.listContainers({ prefix: "c" }).byPage().next();
  await blob.delete();

  const startsOn = new Date(Date.now() - 5 * 60 * 1000);
  const expiresOn = new Date(Date.now() + 60 * 60 * 1000);
  const sas = [];
  for (const version of [undefined, "2020-12-06", "2020-02-10", "2019-12-12", "2018-11-09", "2015-04-05"]) {
    const v = version || "default";
    sas.push({
      name: `blob ${v}`,
      container: "c1",
      blob: "dir/a b+c.txt",
      query: generateBlobSASQueryParameters(
        {
          containerName: "c1",
          blobName: "dir/a b+c.txt",
          permissions: BlobSASPermissions.parse("rw"),
          startsOn,
          expiresOn,
          version,
          protocol: SASProtocol.HttpsAndHttp,
          ipRange: { start: "127.0.0.1", end: "127.0.0.2" },
          contentType: "text/plain",
          cacheControl: "no-cache",
        },
        cred,
      ).toString(),
    });
    sas.push({
      name: `container ${v}`,
      container: "c1",
      blob: "",
      query: generateBlobSASQueryParameters(
        { containerName: "c1", permissions: ContainerSASPermissions.parse("rl"), expiresOn, version },
        cred,
      ).toString(),
    });
    sas.push({
      name: `account ${v}`,
      container: "c1",
      blob: "x",
      query: generateAccountSASQueryParameters(
        {
          permissions: AccountSASPermissions.parse("rl"),
          services: AccountSASServices.parse("bq").toString(),
          resourceTypes: AccountSASResourceTypes.parse("sco").toString(),
          startsOn,
          expiresOn,
          version,
        },
        cred,
      ).toString(),
    });
  }
  sas.push({
    name: "snapshot",
    container: "c1",
    blob: "b",
    snapshot: "2026-11-20T10:00:00.1234567Z",
    query: generateBlobSASQueryParameters(
      { containerName: "c1", blobName: "b", snapshotTime: "2026-11-20T10:00:00.1234567Z", permissions: BlobSASPermissions.parse("r"), expiresOn },
      cred,
    ).toString(),
  });
  sas.push({
    name: "version",
    container: "c1",
    blob: "b",
    versionid: "2026-11-20T10:00:00.1234567Z",
    query: generateBlobSASQueryParameters(
      { containerName: "c1", blobName: "b", versionId: "2026-11-20T10:00:00.1234567Z", permissions: BlobSASPermissions.parse("r"), expiresOn },
      cred,
    ).toString(),
  });
  process.stdout.write(JSON.stringify(sas));
}

async function streamToString(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
