// Event Grid end to end with the unmodified JS SDKs: @azure/arm-eventgrid
// subscribes a webhook to a Key Vault's events through tresor's ARM, and
// @azure/eventgrid's EventGridDeserializer reads what the webhook receives.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { EventGridManagementClient } from "@azure/arm-eventgrid";
import { EventGridDeserializer, isSystemEvent } from "@azure/eventgrid";
import { KeyClient } from "@azure/keyvault-keys";
import { env, agent, credential, unique, waitFor } from "./tresor.js";

test("Event Grid: a webhook subscribed through ARM receives KeyNewVersionCreated", async (t) => {
  const deserializer = new EventGridDeserializer();
  const received = [];
  const validations = [];
  const server = http.createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const events = await deserializer.deserializeEventGridEvents(body);
    if (req.headers["aeg-event-type"] === "SubscriptionValidation") {
      validations.push(events[0]);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ validationResponse: events[0].data.validationCode }));
      return;
    }
    for (const event of events) received.push({ event, headers: req.headers });
    res.writeHead(200);
    res.end();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}/hook`;
  const endpoint = `${base}?code=s3cret`;

  const arm = new EventGridManagementClient(credential, env("AZURE_SUBSCRIPTION_ID"), {
    endpoint: env("TRESOR_ARM_ENDPOINT"),
    credentialScopes: [`${env("TRESOR_ARM_AUDIENCE")}/.default`],
    agent,
  });
  const scope = env("TRESOR_TEST_VAULT_ID");
  const sub = await arm.eventSubscriptions.beginCreateOrUpdateAndWait(scope, "js-events", {
    destination: { endpointType: "WebHook", endpointUrl: endpoint, maxEventsPerBatch: 10 },
    filter: { includedEventTypes: ["Microsoft.KeyVault.KeyNewVersionCreated"] },
  });
  assert.equal(sub.provisioningState, "Succeeded");
  assert.equal(sub.destination.endpointType, "WebHook");
  assert.equal(sub.destination.endpointBaseUrl, base);
  assert.equal(sub.destination.endpointUrl, undefined, "the endpoint's query may hold a secret");
  assert.equal(sub.destination.maxEventsPerBatch, 10);
  assert.deepEqual(sub.filter.includedEventTypes, ["Microsoft.KeyVault.KeyNewVersionCreated"]);
  assert.equal(validations.length, 1);
  assert.ok(isSystemEvent("Microsoft.EventGrid.SubscriptionValidationEvent", validations[0]));
  assert.equal((await arm.eventSubscriptions.getFullUrl(scope, "js-events")).endpointUrl, endpoint);

  const keys = new KeyClient(env("TRESOR_TEST_VAULT_URL"), credential, { agent });
  const name = unique("js-evt");
  const created = await keys.createEcKey(name, { curve: "P-256" });
  const rotated = await keys.rotateKey(name);
  const mine = () => received.filter((r) => r.event.subject === name);
  await waitFor(() => mine().length >= 2, "two KeyNewVersionCreated events");
  const versions = mine().map((r) => r.event.data.Version).sort();
  assert.deepEqual(versions, [created.properties.version, rotated.properties.version].sort());
  for (const { event, headers } of mine()) {
    assert.ok(isSystemEvent("Microsoft.KeyVault.KeyNewVersionCreated", event));
    assert.equal(event.topic.toLowerCase(), scope.toLowerCase());
    assert.equal(event.data.ObjectType, "Key");
    assert.equal(event.data.ObjectName, name);
    assert.ok([created.id, rotated.id].includes(event.data.Id), event.data.Id);
    assert.ok(event.eventTime instanceof Date);
    assert.equal(headers["aeg-event-type"], "Notification");
    assert.equal(headers["aeg-subscription-name"], "JS-EVENTS");
  }

  const [, , subscriptionId, , group, , namespace, type, vault] = scope.split("/");
  assert.equal(subscriptionId, env("AZURE_SUBSCRIPTION_ID"));
  const names = [];
  for await (const s of arm.eventSubscriptions.listByResource(group, namespace, type, vault)) names.push(s.name);
  assert.deepEqual(names, ["js-events"]);
  await arm.eventSubscriptions.beginDeleteAndWait(scope, "js-events");
  await assert.rejects(arm.eventSubscriptions.get(scope, "js-events"), (e) => e.statusCode === 404);
});
