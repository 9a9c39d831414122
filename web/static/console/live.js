// Live updates: the API's Server-Sent Events stream when it is there, else polling.
// Every event is handed over as {kind, payload, at}; the console decides what to re-read.

const KINDS = ['unit.position', 'unit.status', 'unit.updated', 'incident.created',
  'incident.updated', 'assignment.created', 'assignment.released'];

export class Live {
  constructor({ url, onEvent, onPoll, onState, pollMs = 5000 }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onPoll = onPoll;
    this.onState = onState;
    this.pollMs = pollMs;
    this.source = null;
    this.timer = null;
    this.failures = 0;
  }

  start() {
    if (this.url && 'EventSource' in window) this.connect();
    else this.poll();
  }

  connect() {
    this.onState('connecting');
    const source = new EventSource(this.url, { withCredentials: true });
    this.source = source;
    const handle = (message) => {
      let data;
      try { data = JSON.parse(message.data); } catch (_) { return; }
      const event = data && typeof data.kind === 'string'
        ? data : { kind: message.type === 'message' ? 'message' : message.type, payload: data || {} };
      this.onEvent(event);
    };
    source.onmessage = handle;
    for (const kind of KINDS) source.addEventListener(kind, handle);
    source.onopen = () => {
      this.failures = 0;
      this.stopPolling();
      this.onState('sse');
      this.onPoll(); // catch up on anything missed while disconnected
    };
    source.onerror = () => {
      this.failures += 1;
      // EventSource retries on its own; after repeated failures (or when the server
      // refuses the stream) fall back to polling so the screen never goes stale.
      if (source.readyState === EventSource.CLOSED || this.failures >= 3) {
        source.close();
        this.source = null;
        this.poll();
        setTimeout(() => { if (!this.source) { this.stopPolling(); this.connect(); } }, 30000);
      }
    };
  }

  poll() {
    if (this.timer) return;
    this.onState('polling');
    const tick = async () => {
      try {
        await this.onPoll();
        this.onState('polling');
      } catch (_) {
        this.onState('down');
      }
    };
    this.timer = setInterval(tick, this.pollMs);
  }

  stopPolling() {
    if (this.timer) { clearInterval(this.timer); this.timer = null; }
  }
}
