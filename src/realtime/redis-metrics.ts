// The broker's counters for /metrics (realtime/redis-bus.ts keeps them; each instance reports its own).
import { gauge } from "../modules/metrics/registry";

export interface BrokerStats {
  relayed: number;
  gapsRepaired: number;
  errors: number;
  resyncs: number;
}

/** The counters in Prometheus text, and whether the broker answers this instance's reader. */
export function brokerMetrics(stats: BrokerStats, up: boolean): string {
  const counter = (name: string, help: string, value: number) => gauge(name, help, [[{}, value]], "counter");
  return [
    counter("chat_broker_events_relayed_total", "Events from other instances relayed to this instance's sockets.", stats.relayed),
    counter("chat_broker_gaps_repaired_total", "Conversations whose missing revs were repaired from the database.", stats.gapsRepaired),
    counter("chat_broker_errors_total", "Broker commands or connections that failed.", stats.errors),
    counter("chat_broker_resyncs_total", "Broker outages after which local sockets were closed (1012) to resync.", stats.resyncs),
    gauge("chat_broker_up", "1 while the broker answers this instance's reader.", [[{}, up ? 1 : 0]]),
  ].join("\n");
}
