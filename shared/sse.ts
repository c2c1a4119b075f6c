/**
 * A Server-Sent Events parser for streams read through `fetch` (HTML Standard §9.2.6, "event
 * stream interpretation"): text in, events out, no I/O, so it runs in Deno, Node and browsers
 * alike. Used by `client.ts` for the status and log streams.
 */

export interface SseEvent {
  /** The `event:` field, `"message"` when absent. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last event id seen so far in the stream (the `id:` field persists across events). */
  id: string;
}

/** Feeds decoded text in any chunking; returns the events each chunk completes. */
export class SseParser {
  #buffer = "";
  #data: string[] = [];
  #event = "";
  #lastId = "";
  /** A `\r` ended the previous chunk: a following `\n` belongs to the same line end. */
  #pendingCr = false;

  /** The id a reconnecting client sends as `Last-Event-ID` (empty before any `id:`). */
  get lastEventId(): string {
    return this.#lastId;
  }

  push(text: string): SseEvent[] {
    if (this.#pendingCr && text.startsWith("\n")) text = text.slice(1);
    this.#pendingCr = false;
    this.#buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const end = this.#buffer.search(/\r\n|\r|\n/);
      if (end < 0) break;
      const line = this.#buffer.slice(0, end);
      let next = end + 1;
      if (this.#buffer[end] === "\r") {
        if (this.#buffer[end + 1] === "\n") next = end + 2;
        else if (end + 1 === this.#buffer.length) this.#pendingCr = true;
      }
      this.#buffer = this.#buffer.slice(next);
      const event = this.#line(line);
      if (event) events.push(event);
    }
    return events;
  }

  #line(line: string): SseEvent | null {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.#data.push(value);
        break;
      case "event":
        this.#event = value;
        break;
      case "id":
        if (!value.includes("\0")) this.#lastId = value;
        break;
        // `retry` and unknown fields are ignored: reconnection timing is the client's choice.
    }
    return null;
  }

  #dispatch(): SseEvent | null {
    const data = this.#data;
    const event = this.#event || "message";
    this.#data = [];
    this.#event = "";
    if (data.length === 0) return null;
    return { event, data: data.join("\n"), id: this.#lastId };
  }
}
