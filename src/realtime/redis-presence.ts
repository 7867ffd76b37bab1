// Who is online on the other instances, kept in memory because Hub.isOnline is synchronous (the
// change feed asks it per member while publishing).
//
// In Redis each instance keeps a set of its online users (`<prefix>:presence:<instance>`, users
// added and removed as they come and go) and its heartbeat in a sorted set
// (`<prefix>:instances`, score = expiry). Every heartbeat rewrites the instance's set whole,
// renews its expiry, drops instances whose heartbeat expired, and reads every other instance's
// set in the same script, replacing this instance's view of them. Between heartbeats the
// broker's `on`/`off` events keep the view current; a view that missed one is corrected by the
// next heartbeat, and an instance that died without a word drops out when its expiry passes.
// The script reads keys it does not declare: fine on one Redis (or a primary with replicas), not
// on Redis Cluster, where every instance would need a hash tag in the prefix.
import type { RedisConn } from "./redis-conn";

const HEARTBEAT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('DEL', KEYS[2])
for i = 4, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if id ~= ARGV[1] then
    local users = redis.call('SMEMBERS', ARGV[3] .. id)
    out[#out + 1] = id
    out[#out + 1] = tostring(#users)
    for _, u in ipairs(users) do out[#out + 1] = u end
  end
end
return out`;

export class ClusterPresence {
  /** Per other instance, its online users. */
  private readonly instances = new Map<string, Set<string>>();
  /** Per user, how many other instances have them online. */
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly conn: RedisConn,
    private readonly prefix: string,
    private readonly instanceId: string,
    private readonly ttlMs: number,
  ) {}

  private get ownKey() {
    return `${this.prefix}:presence:${this.instanceId}`;
  }

  /** Online on some other instance. */
  has(userId: string) {
    return (this.counts.get(userId) ?? 0) > 0;
  }

  /** Another instance said the user came (true) or went (false). */
  noteRemote(instanceId: string, userId: string, online: boolean) {
    let users = this.instances.get(instanceId);
    if (online) {
      if (!users) this.instances.set(instanceId, (users = new Set()));
      if (!users.has(userId)) {
        users.add(userId);
        this.counts.set(userId, (this.counts.get(userId) ?? 0) + 1);
      }
    } else if (users?.delete(userId)) this.decrement(userId);
  }

  /** Another instance stopped: its users are gone from it at once. */
  dropInstance(instanceId: string) {
    for (const userId of this.instances.get(instanceId) ?? []) this.decrement(userId);
    this.instances.delete(instanceId);
  }

  private decrement(userId: string) {
    const n = (this.counts.get(userId) ?? 1) - 1;
    if (n > 0) this.counts.set(userId, n);
    else this.counts.delete(userId);
  }

  /** Records this instance's own user coming or going (the heartbeat rewrites the set anyway). */
  async noteLocal(userId: string, online: boolean) {
    await this.conn.send(online ? "SADD" : "SREM", [this.ownKey, userId]);
  }

  /** Writes this instance's users and expiry, and replaces the view of the others with Redis's. */
  async heartbeat(localUsers: string[]) {
    const reply = (await this.conn.send("EVAL", [
      HEARTBEAT_SCRIPT,
      "2",
      `${this.prefix}:instances`,
      this.ownKey,
      this.instanceId,
      String(this.ttlMs),
      `${this.prefix}:presence:`,
      ...localUsers,
    ])) as string[] | null;
    this.clear();
    const flat = reply ?? [];
    for (let i = 0; i < flat.length; ) {
      const id = String(flat[i++]);
      const n = Number(flat[i++]);
      for (let k = 0; k < n; k++) this.noteRemote(id, String(flat[i++]), true);
      this.instances.set(id, this.instances.get(id) ?? new Set());
    }
  }

  /** Takes this instance out (on stop): its set and heartbeat are removed. */
  async leave() {
    await this.conn.send("ZREM", [`${this.prefix}:instances`, this.instanceId]);
    await this.conn.send("DEL", [this.ownKey]);
  }

  clear() {
    this.instances.clear();
    this.counts.clear();
  }
}
