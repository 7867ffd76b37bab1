// W8's webhook receiver, in its own process so the W2 generator's flooded event loop does not delay
// it: POST records each event (first receipt per id, commit → receipt from data.created_at), GET
// /stats returns the counts and latency samples, POST /reset starts a new latency phase. Prints its
// port on the first stdout line.
const seen = new Set<string>();
let unique = 0;
let duplicates = 0;
let first = 0;
let last = 0;
let latencies: number[] = [];

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/stats") return Response.json({ unique, duplicates, first, last, latencies });
    if (path === "/reset") {
      latencies = [];
      return new Response(null, { status: 204 });
    }
    const event = (await request.json()) as { id: string; data: { created_at: string } };
    const at = Date.now();
    if (seen.has(event.id)) duplicates++;
    else {
      seen.add(event.id);
      unique++;
      first ||= at;
      last = at;
      latencies.push(at - Date.parse(event.data.created_at));
    }
    return new Response(null, { status: 204 });
  },
});
console.log(server.port);
