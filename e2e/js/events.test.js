// Event Grid end to end with the unmodified JS SDKs: @azure/arm-eventgrid
// subscribes a webhook to a Key Vault's events through tresor's ARM, and
// @azure/eventgrid's EventGridDeserializer reads what the webhook receives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isSystemEvent } from "@azure/eventgrid";
import { KeyClient } from "@azure/keyvault-keys";
import { env, agent, credential, unique, waitFor, webhook, eventGrid } from "./tresor.js";

test("Event Grid: a webhook subscribed through ARM receives KeyNewVersionCreated", async (t) => {
  const hook = await webhook();
  t.after(hook.close);
  const { received, validations } = hook;
  const base = hook.url;
  const endpoint = `${base}?code=s3cret`;

  const arm = await eventGrid();
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
