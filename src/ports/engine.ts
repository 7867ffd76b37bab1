// What the composition root (server.ts) gets from the chosen database engine, the same shape for
// SQLite (db/compose.ts) and PostgreSQL (storage/postgres/compose.ts): everything else the server
// builds (hub, writer, HTTP, sockets) is engine-neutral.
import type { MessageCommitter, WriteFailure } from "./message-commit";
import type { StorageChanges, StorageProbe } from "./storage-probe";
import type { Storage } from "./stores";
import type { WebhookOutbox } from "./webhook-outbox";

export interface ComposedEngine {
  engine: "sqlite" | "postgres";
  /** The stores and their caches (Deps.stores, Deps.caches). */
  storage: Storage;
  /** /health's read and write probe. */
  probe: StorageProbe;
  /** Other processes' commits, for the session watch; absent when the engine has no such signal. */
  storageChanges?: StorageChanges;
  /** Where the message writer's batches are committed. */
  committer: MessageCommitter;
  /** A failure the writer answers with "busy, retry" rather than an error. */
  isBusyFailure(failure: WriteFailure): boolean;
  /** Frames not yet checkpointed (StorageHealth's full-disk hold); absent: the engine has no WAL of ours. */
  walBacklog?: () => number | null;
  /** A file whose loss while writes fail means the storage is gone (a restart would help). */
  watchedFile?: string;
  /** The database file, for /metrics' size gauges. */
  databaseFile?: string;
  /** The database's size in bytes as last sampled, for engines without one file (PostgreSQL). */
  databaseSize?: () => number;
  /** The outbox the webhook worker delivers from (written by the engine's triggers). */
  webhookOutbox: WebhookOutbox;
  /** Background work started once the server listens (SQLite's checkpointer thread). */
  started(): void;
  /** After the writer drained: stops background work and closes the connections. */
  close(): Promise<void>;
}
