/** A bounded tail of a backend's output: at most `maxLines` lines and `maxBytes` characters. */
import type { LogLine } from "./executor.ts";

export const DEFAULT_TAIL_LINES = 1000;
export const DEFAULT_TAIL_BYTES = 256 * 1024;
/** A single line longer than this is cut (a backend printing without newlines must not grow memory). */
const MAX_LINE = 16 * 1024;

export class LogTail {
  #lines: LogLine[] = [];
  #bytes = 0;
  #partial: Record<LogLine["stream"], string> = { stdout: "", stderr: "" };
  readonly maxLines: number;
  readonly maxBytes: number;
  #onLine: ((line: LogLine) => void) | null = null;

  constructor(maxLines = DEFAULT_TAIL_LINES, maxBytes = DEFAULT_TAIL_BYTES) {
    this.maxLines = maxLines;
    this.maxBytes = maxBytes;
  }

  /** Called for every complete line, for live relaying. */
  onLine(listener: ((line: LogLine) => void) | null): void {
    this.#onLine = listener;
  }

  /** Appends decoded output; complete lines enter the tail, the rest waits for its newline. */
  write(stream: LogLine["stream"], text: string, time: number = Date.now()): void {
    const parts = (this.#partial[stream] + text).split("\n");
    this.#partial[stream] = parts.pop()!.slice(0, MAX_LINE);
    for (const part of parts) this.#push({ stream, text: part.slice(0, MAX_LINE), time });
  }

  /** Flushes unterminated output (at process exit). */
  end(time: number = Date.now()): void {
    for (const stream of ["stdout", "stderr"] as const) {
      if (this.#partial[stream] !== "") this.#push({ stream, text: this.#partial[stream], time });
      this.#partial[stream] = "";
    }
  }

  lines(): LogLine[] {
    return [...this.#lines];
  }

  #push(line: LogLine) {
    this.#lines.push(line);
    this.#bytes += line.text.length;
    while (this.#lines.length > this.maxLines || this.#bytes > this.maxBytes) {
      const dropped = this.#lines.shift()!;
      this.#bytes -= dropped.text.length;
    }
    this.#onLine?.(line);
  }
}
