/**
 * Token revocation (plane-0.5.md §2.4, decisions.md §2.4): delete a user's tokens for a backend
 * and, in the same transaction, emit a `token_revoked` event keyed by the backend's cluster so
 * that every controller instance tells its proxies of that cluster to drop them.
 */
import type { Database } from "./database.ts";
import { emitEvent } from "./events.ts";

/** Payload of `token_revoked` events (key = cluster). */
export interface TokenRevokedEvent {
  cluster: string;
  "backend_id": string;
  tokens: string[];
}

/**
 * Deletes every token of `user` for `backendId` and announces them. Tokens without a user and
 * static tokens cannot be revoked (plane-0.5.md §2.4). Returns the revoked tokens (empty when
 * none).
 */
export function revokeUserTokens(
  db: Database,
  backendId: string,
  user: string,
): Promise<string[]> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ token: string; cluster: string }>(
      `delete from token t using backend b
       where t.backend_id = $1 and t.username = $2 and b.id = t.backend_id
       returning t.token, b.cluster`,
      [backendId, user],
    );
    const first = rows[0];
    if (!first) return [];
    const tokens = rows.map((r) => r.token);
    const event: TokenRevokedEvent = { cluster: first.cluster, "backend_id": backendId, tokens };
    await emitEvent(tx, "token_revoked", first.cluster, event);
    return tokens;
  });
}
