// Request counters for the server's Prometheus endpoint: responses by status
// and a latency histogram, kept on the main thread (it sees every response).
// Only allocated when `metricsPath` is set, so the hot path pays nothing
// otherwise.

import type { ServerStats } from "./stats.ts";

/** Histogram bucket bounds in seconds (Prometheus' default buckets). */
const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Responses by status and their latency, rendered as Prometheus text. */
export class RequestMetrics {
  readonly #byStatus = new Map<number, number>();
  // One count per bucket plus +Inf, not cumulative until rendered.
  readonly #buckets = new Float64Array(BOUNDS.length + 1);
  #sum = 0;
  #count = 0;

  /** Records one response: its status and milliseconds since the request arrived. */
  record(status: number, milliseconds: number): void {
    this.#byStatus.set(status, (this.#byStatus.get(status) ?? 0) + 1);
    const seconds = milliseconds / 1000;
    let bucket = 0;
    while (bucket < BOUNDS.length && seconds > BOUNDS[bucket]!) bucket++;
    this.#buckets[bucket]!++;
    this.#sum += seconds;
    this.#count++;
  }

  /** The counters in the Prometheus text exposition format. */
  render(): string {
    let text =
      "# HELP ringpool_responses_total Responses sent, by status code.\n" +
      "# TYPE ringpool_responses_total counter\n";
    const statuses = [...this.#byStatus.keys()].sort((a, b) => a - b);
    for (const status of statuses) {
      text += `ringpool_responses_total{status="${status}"} ${
        this.#byStatus.get(status)
      }\n`;
    }
    text +=
      "# HELP ringpool_request_duration_seconds Time from accepting a request to handing its response to Deno.serve.\n" +
      "# TYPE ringpool_request_duration_seconds histogram\n";
    let cumulative = 0;
    for (let i = 0; i < BOUNDS.length; i++) {
      cumulative += this.#buckets[i]!;
      text += `ringpool_request_duration_seconds_bucket{le="${
        BOUNDS[i]
      }"} ${cumulative}\n`;
    }
    text +=
      `ringpool_request_duration_seconds_bucket{le="+Inf"} ${this.#count}\n` +
      `ringpool_request_duration_seconds_sum ${this.#sum}\n` +
      `ringpool_request_duration_seconds_count ${this.#count}\n`;
    return text;
  }
}

/**
 * The metrics endpoint's body in the Prometheus text exposition format: the
 * server's counters, then the request counters if they are kept.
 */
export function renderMetrics(
  stats: ServerStats,
  requestMetrics: RequestMetrics | undefined,
): string {
  let text =
    "# HELP ringpool_requests_queued Requests waiting for a worker.\n" +
    "# TYPE ringpool_requests_queued gauge\n" +
    `ringpool_requests_queued ${stats.queued}\n` +
    "# HELP ringpool_requests_in_flight Requests a worker is handling.\n" +
    "# TYPE ringpool_requests_in_flight gauge\n";
  for (const worker of stats.workers) {
    text +=
      `ringpool_requests_in_flight{worker="${worker.id}"} ${worker.inFlight}\n`;
  }
  text +=
    "# HELP ringpool_streams Requests whose response or body streams, off their slot.\n" +
    "# TYPE ringpool_streams gauge\n";
  for (const worker of stats.workers) {
    text += `ringpool_streams{worker="${worker.id}"} ${worker.streams}\n`;
  }
  text += "# HELP ringpool_websockets Open WebSockets.\n" +
    "# TYPE ringpool_websockets gauge\n";
  for (const worker of stats.workers) {
    text += `ringpool_websockets{worker="${worker.id}"} ${worker.sockets}\n`;
  }
  text +=
    "# HELP ringpool_websocket_messages_total WebSocket messages relayed.\n" +
    "# TYPE ringpool_websocket_messages_total counter\n" +
    `ringpool_websocket_messages_total{direction="in"} ${stats.messagesIn}\n` +
    `ringpool_websocket_messages_total{direction="out"} ${stats.messagesOut}\n` +
    "# HELP ringpool_requests_completed_total Requests answered by workers.\n" +
    "# TYPE ringpool_requests_completed_total counter\n" +
    `ringpool_requests_completed_total ${stats.completed}\n` +
    "# HELP ringpool_worker_restarts_total Workers replaced, by reason.\n" +
    "# TYPE ringpool_worker_restarts_total counter\n";
  for (const [reason, count] of Object.entries(stats.restarts)) {
    text += `ringpool_worker_restarts_total{reason="${reason}"} ${count}\n`;
  }
  return text + (requestMetrics?.render() ?? "");
}
