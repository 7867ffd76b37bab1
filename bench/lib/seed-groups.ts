// Seeds a migrated database with 20 groups of 10 members (200 users) directly in SQL, for the
// micro-benchmarks that time statements rather than the server.
import type { Database } from "bun:sqlite";

export function seedGroups(db: Database) {
  const at = Date.now();
  const users = Array.from({ length: 200 }, () => Bun.randomUUIDv7());
  const convs = Array.from({ length: 20 }, () => Bun.randomUUIDv7());
  db.transaction(() => {
    const u = db.query("INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'x', ?, ?)");
    users.forEach((id, i) => u.run(id, `m${i}`, `m${i}`, `m${i}@x.invalid`, `m${i}@x.invalid`, at, at));
    const c = db.query("INSERT INTO conversations (id, name, is_group, created_by, last_seq, last_activity_at, created_at, updated_at) VALUES (?, 'g', 1, ?, 0, ?, ?, ?)");
    const m = db.query("INSERT INTO members (conversation_id, user_id, last_read_seq, joined_at) VALUES (?, ?, 0, ?)");
    convs.forEach((id, g) => {
      c.run(id, users[g * 10]!, at, at, at);
      for (let k = 0; k < 10; k++) m.run(id, users[g * 10 + k]!, at);
    });
  })();
  return { at, users, convs };
}
