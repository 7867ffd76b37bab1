// The one way into storage for callers that still hold the SQLite `db` instead of Deps: socket
// code (src/realtime/) and the messages hot path (send.ts) call a few converted services with it.
// Those services accept either and resolve the `db` to the same stores and caches the composition
// root put in Deps. Remove this file once those callers pass `deps` (see README, Architecture).
import type { Db } from "../db/client";
import { sqliteStorage, type SqliteStores } from "../db/stores";
import type { Storage } from "../ports/stores";

/** The SQLite connection, as the not-yet-converted callers hold it. */
export type LegacyDb = Db;

export const storageOf = (from: Storage | LegacyDb): Storage => ("$client" in from ? sqliteStorage(from) : from);

/**
 * The SQLite stores, synchronous, for services whose SQL has moved behind the ports but whose
 * signatures still take the `db` (conversations, members): they become `Storage` and `await` next.
 */
export const sqliteStoresOf = (db: LegacyDb): SqliteStores => sqliteStorage(db).stores;
