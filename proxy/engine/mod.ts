/**
 * The door of proxy/engine/ (style.md §3): the HTTP/1.1 engine on `node:net`/`Deno.Conn`, its
 * types and its strict head and chunked parsers. Files starting with `_` are private to the
 * folder.
 *
 * @module
 */
export * from "./chunked.ts";
export * from "./engine.ts";
export * from "./parse_head.ts";
export * from "./parse_response_head.ts";
export * from "./types.ts";
