// The changed-since read lives in the SQLite message store (db/stores/messages-changed-since.ts);
// realtime/redis-repair.ts still builds one from a connection.
export { createChangedSince, type ChangedSince } from "../../db/stores/messages-changed-since";
