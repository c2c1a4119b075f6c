/**
 * The per-cluster ACME DNS-01 lease in `acme_txt_entries` (plane-0.5.md §10.3): one proxy of
 * a cluster at a time may run a certificate order; a lease is free once older than one minute.
 */
import type { Queryable } from "./database.ts";

/**
 * Takes the cluster's lease for `proxyId` if nobody holds one younger than a minute. As in
 * Plane, the holder re-requesting within the minute is refused too.
 */
export async function acquireCertLease(
  db: Queryable,
  cluster: string,
  proxyId: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `insert into acme_txt_entries (cluster, leased_at, leased_by) values ($1, now(), $2)
     on conflict (cluster) do update set leased_at = now(), leased_by = excluded.leased_by
     where acme_txt_entries.leased_at + interval '1 minute' < now()`,
    [cluster, proxyId],
  );
  return rowCount === 1;
}

/** Sets the TXT value the DNS server answers, only for the proxy holding the lease. */
export async function setCertTxtRecord(
  db: Queryable,
  cluster: string,
  proxyId: number,
  txtValue: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update acme_txt_entries set txt_value = $3 where cluster = $1 and leased_by = $2`,
    [cluster, proxyId, txtValue],
  );
  return rowCount === 1;
}

/** Drops the lease if `proxyId` holds it. */
export async function releaseCertLease(
  db: Queryable,
  cluster: string,
  proxyId: number,
): Promise<void> {
  await db.query(`delete from acme_txt_entries where cluster = $1 and leased_by = $2`, [
    cluster,
    proxyId,
  ]);
}

/**
 * The TXT value a DNS server answers for `cluster` (plane-0.5.md §10.2): whatever is stored,
 * regardless of the lease's age; null when there is none.
 */
export async function txtRecordOf(db: Queryable, cluster: string): Promise<string | null> {
  const { rows } = await db.query<{ txt_value: string | null }>(
    `select txt_value from acme_txt_entries where cluster = $1`,
    [cluster],
  );
  return rows[0]?.txt_value ?? null;
}
