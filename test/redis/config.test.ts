// --broker-url: unset keeps the in-process hub; anything but a Redis/Valkey URL is refused at start.
import { expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config";

test("--broker-url takes a redis:// URL (flag or CHAT_BROKER_URL) and refuses anything else by name", () => {
  expect(loadConfig([], {}).brokerUrl).toBe("");
  expect(loadConfig(["--broker-url", "redis://127.0.0.1:6379/0"], {}).brokerUrl).toBe("redis://127.0.0.1:6379/0");
  expect(loadConfig([], { CHAT_BROKER_URL: "rediss://user:pw@cache.internal:6380" }).brokerUrl).toBe("rediss://user:pw@cache.internal:6380");
  expect(() => loadConfig(["--broker-url", "http://127.0.0.1:6379"], {})).toThrow(ConfigError);
  expect(() => loadConfig([], { CHAT_BROKER_URL: "127.0.0.1:6379" })).toThrow(/CHAT_BROKER_URL must be a redis:\/\//);
});
