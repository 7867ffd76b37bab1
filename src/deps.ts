// The Deps every feature module receives: ports and adapters built by the composition root
// (server.ts), so modules import this type, never app.ts or server.ts.
import type { Config } from "./config";
import type { Logger } from "./lib/logger";
import type { RateLimiterFactory } from "./lib/rate-limiter";
import type { TokenService } from "./modules/auth/tokens";
import type { Telemetry } from "./modules/metrics/telemetry";
import type { MessageWriter } from "./modules/messages/writer";
import type { Hub } from "./ports/bus";
import type { ChangeFeed } from "./ports/changes";
import type { Stores } from "./ports/stores";
import type { StorageChanges, StorageProbe } from "./ports/storage-probe";
import type { MessageCaches } from "./modules/messages/recent";
import type { DeliveryReceipts } from "./modules/messages/receipts";
import type { StorageHealth } from "./storage-health";

export interface Deps {
  /** The storage ports (ports/stores.ts): the SQLite adapter today (db/stores/). */
  stores: Stores;
  /** /health's read and write probe (ports/storage-probe.ts). */
  probe: StorageProbe;
  /** Moves when another process commits (the session watch re-checks then); absent, no one else writes. */
  storageChanges?: StorageChanges;
  /** The caches in front of the stores; each field says what it holds and what keeps it exact. */
  caches: MessageCaches;
  /** Delivery receipts: `received` frames coalesced in memory and written together (messages/receipts.ts). */
  receipts: DeliveryReceipts;
  config: Config;
  hub: Hub;
  tokens: TokenService;
  writer: MessageWriter;
  /** The one path of committed changes: caches, the bus, then consumers (ports/changes.ts). */
  changes: ChangeFeed;
  /** What the writer and the error renderer know of the disk (failing, stalled); read by /health. */
  storage?: StorageHealth;
  log: Logger;
  version: string;
  /** The client's address as the server saw it (or as a trusted proxy reported it). */
  clientAddress(request: Request): string;
  /** The TCP peer's address, never a forwarded one (loopback checks); defaults to clientAddress. */
  peerAddress?(request: Request): string;
  /** Request/socket logs and /metrics; the server passes its own, tests may leave it out. */
  telemetry?: Telemetry;
  /** Limits counted across instances (the login budget); absent, each process counts its own. */
  limiters?: RateLimiterFactory;
}
