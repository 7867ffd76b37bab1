// The group commit is a port (ports/message-commit.ts); SQLite's lives in db/stores/message-commit.ts.
export * from "../../ports/message-commit";
export { createCommitter, isBusyFailure, sqliteCommitter, WRITE_BUSY_TIMEOUT_MS, type Committer } from "../../db/stores/message-commit";
