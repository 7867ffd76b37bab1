// `webhook add`, `webhook list` and `webhook remove`: hooks in the data directory, safe while the
// server runs (its delivery worker reads the webhooks table every round). The secret is printed
// once, by `add`.
import { ConfigError } from "../config";
import { withStorage } from "./storage";
import { addWebhook, listWebhooks, removeWebhook, WebhookInputError } from "../modules/webhooks/service";
import { WEBHOOK_EVENTS } from "../modules/webhooks/model";
import { defineCommand, defineGroup } from "./command";

const jsonOption = { flag: "--json", boolean: true, help: "Print JSON instead of text" } as const;

const add = defineCommand(
  {
    name: "webhook add",
    summary: "Register a webhook; prints its id and its signing secret (shown this once).",
    description: `Events: ${WEBHOOK_EVENTS.join(", ")} (or all). Targets on private, loopback or link-local addresses are refused unless --webhook-allow-private true.`,
    options: {
      url: { flag: "--url", value: "<url>", help: "http(s) URL the events are POSTed to" },
      events: { flag: "--events", value: "<a,b,…>", help: "Comma-separated event names, or all" },
      conversation: { flag: "--conversation", value: "<id>", help: "Only this conversation's events (user.created never matches)" },
      concurrency: { flag: "--concurrency", value: "<n>", help: "Deliveries in flight at once for this hook, 1-64 (default 4; one per conversation)" },
      json: jsonOption,
    },
    settings: ["dataDir", "databaseUrl", "synchronous", "webhookAllowPrivate"],
  },
  async ({ options, config }) => {
    if (!options.url) throw new ConfigError("--url is required");
    if (!options.events) throw new ConfigError(`--events is required (${WEBHOOK_EVENTS.join(", ")}, or all)`);
    const concurrency = options.concurrency === undefined ? 4 : Number(options.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new ConfigError("--concurrency must be an integer between 1 and 64");
    try {
      const hook = await withStorage(config, (storage) =>
        addWebhook(storage, {
          url: options.url!,
          events: options.events!,
          conversationId: options.conversation ?? null,
          concurrency,
          allowPrivate: config.webhookAllowPrivate,
        }),
      );
      if (options.json) console.log(JSON.stringify(hook));
      else console.log(`created webhook ${hook.id} -> ${hook.url} (${hook.events.join(",")})\nsecret: ${hook.secret}`);
    } catch (error) {
      if (error instanceof WebhookInputError) throw new ConfigError(error.message);
      throw error;
    }
  },
);

const list = defineCommand(
  {
    name: "webhook list",
    summary: "List webhooks with delivered, failed and pending counts and the last error.",
    options: { json: jsonOption },
    settings: ["dataDir", "databaseUrl", "synchronous"],
  },
  ({ options, config }) =>
    withStorage(config, async (storage) => {
      const hooks = await listWebhooks(storage);
      if (options.json) return void console.log(JSON.stringify(hooks));
      if (hooks.length === 0) return void console.log("no webhooks");
      for (const h of hooks) {
        console.log(`${h.id} ${h.url}`);
        console.log(`  events: ${h.events.join(",")}${h.conversation_id ? `  conversation: ${h.conversation_id}` : ""}`);
        console.log(`  delivered: ${h.delivered}  failed: ${h.failed}  pending: ${h.pending}  failed attempts: ${h.failed_attempts}`);
        if (h.last_error) console.log(`  last error: ${h.last_error} (${h.last_error_at})`);
      }
    }),
);

const remove = defineCommand(
  {
    name: "webhook remove",
    summary: "Remove a webhook and drop its undelivered events.",
    usage: "<id>",
    positionals: [{ name: "<id>", required: true }],
    settings: ["dataDir", "databaseUrl", "synchronous"],
  },
  ({ positionals, config }) =>
    withStorage(config, async (storage) => {
      if (!(await removeWebhook(storage, positionals[0]!))) throw new ConfigError(`no webhook with id "${positionals[0]}"`);
      console.log(`removed webhook ${positionals[0]}`);
    }),
);

export const webhookCommand = defineGroup(
  "webhook",
  "Register, list and remove webhooks (webhook add|list|remove)",
  "Administer webhooks in the data directory (safe while the server runs; changes apply at once).",
  { add, list, remove },
);
