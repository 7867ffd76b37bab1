// ConversationStore over SQLite.
import type { Statement } from "bun:sqlite";
import type { ConversationStore } from "../../ports/stores";
import type { Db } from "../client";

export class SqliteConversationStore implements ConversationStore {
  private readonly existsQuery: Statement<{ id: string }, [string]>;

  constructor(db: Db) {
    this.existsQuery = db.$client.query<{ id: string }, [string]>("SELECT id FROM conversations WHERE id = ?");
  }

  exists(id: string): boolean {
    return this.existsQuery.get(id) !== null;
  }
}
