-- Initial schema: the tables of Plane 0.5 (behaviour doc §8) with their final column set,
-- plus the columns our extensions need (backend.created_at for listing).

create table controller (
    id varchar(255) primary key,
    first_seen timestamptz not null default now(),
    last_heartbeat timestamptz not null,
    is_online boolean not null,
    plane_version varchar(255) not null,
    plane_hash varchar(255) not null,
    ip inet
);
comment on table controller is 'One row per controller process; heartbeated every 7 s.';
comment on column controller.id is 'Controller name (co-...), random per process start.';
comment on column controller.first_seen is 'When this controller first registered.';
comment on column controller.last_heartbeat is 'Database time of the last heartbeat.';
comment on column controller.is_online is 'Self-reported; set false on graceful shutdown.';
comment on column controller.plane_version is 'Version the controller reports.';
comment on column controller.plane_hash is 'Build hash the controller reports.';
comment on column controller.ip is 'Client address of the controller as Postgres sees it (null over Unix sockets).';

create table node (
    id serial primary key,
    kind varchar(255) not null,
    name varchar(255) not null,
    cluster varchar(255),
    plane_version varchar(255) not null,
    plane_hash varchar(255) not null,
    controller varchar(255) references controller(id),
    ip inet not null,
    last_connection_start_time timestamptz
);
create unique index node_cluster_name on node (cluster, name);
comment on table node is 'Drones, proxies and DNS servers that have ever connected; never deleted.';
comment on column node.id is 'Stable node id, reused across reconnects; also the drone id.';
comment on column node.kind is 'Drone, Proxy or AcmeDnsServer, from the name prefix.';
comment on column node.name is 'Node name (dr-, px- or ns- prefix).';
comment on column node.cluster is 'Cluster the node serves; null for DNS servers.';
comment on column node.plane_version is 'Version from the socket handshake.';
comment on column node.plane_hash is 'Build hash from the socket handshake.';
comment on column node.controller is 'Controller holding the node''s socket; null when disconnected.';
comment on column node.ip is 'Peer address seen by the controller (informational).';
comment on column node.last_connection_start_time is 'Start of the current connection; guards offline marking against reconnect races.';

create table drone (
    id integer primary key references node(id),
    ready boolean not null,
    draining boolean not null default false,
    last_heartbeat timestamptz,
    last_local_time timestamptz,
    pool varchar(255) not null default ''
);
create index drone_last_heartbeat on drone (last_heartbeat);
comment on table drone is 'Scheduling state of drone nodes.';
comment on column drone.id is 'The drone''s node id.';
comment on column drone.ready is 'Set true whenever the drone connects.';
comment on column drone.draining is 'A draining drone receives no new backends; set by drain, cleared by undrain.';
comment on column drone.last_heartbeat is 'Database time of the last heartbeat.';
comment on column drone.last_local_time is 'The drone''s own clock at its last heartbeat; key deadlines are expressed in it.';
comment on column drone.pool is 'Pool label; a spawn names a pool and only drones of that pool are eligible.';

create table backend (
    id varchar(255) primary key,
    cluster varchar(255) not null,
    last_status varchar(255) not null,
    last_status_time timestamptz not null,
    last_status_number integer,
    state jsonb not null,
    cluster_address varchar(255),
    drone_id integer not null references drone(id),
    expiration_time timestamptz,
    last_keepalive timestamptz not null,
    allowed_idle_seconds integer,
    static_token varchar(256),
    subdomain varchar(255),
    created_at timestamptz not null default now()
);
create index backend_live_by_drone on backend (drone_id) where last_status != 'terminated';
create index backend_static_token on backend (static_token);
create index backend_cluster_created on backend (cluster, created_at, id);
comment on table backend is 'Every backend ever scheduled, with its latest state.';
comment on column backend.id is 'Backend id (14 characters of a-z0-9 unless given).';
comment on column backend.cluster is 'Cluster the backend runs in.';
comment on column backend.last_status is 'Latest status (lowercase).';
comment on column backend.last_status_time is 'Database time of the latest accepted status update.';
comment on column backend.last_status_number is 'Rank of last_status; updates apply only when strictly greater.';
comment on column backend.state is 'Latest full BackendState JSON.';
comment on column backend.cluster_address is 'ip:port while waiting or ready, else null.';
comment on column backend.drone_id is 'Drone the backend was scheduled on.';
comment on column backend.expiration_time is 'Lifetime limit; the sweeper soft-terminates after it.';
comment on column backend.last_keepalive is 'Creation time, then the time of the latest proxy keepalive.';
comment on column backend.allowed_idle_seconds is 'Idle limit in seconds; null for none.';
comment on column backend.static_token is 'Static connection token (s. prefix) when the spawn asked for one.';
comment on column backend.subdomain is 'Subdomain the backend is reachable on, if any.';
comment on column backend.created_at is 'When the backend was scheduled (for listing).';

create table backend_state (
    id serial primary key,
    backend_id varchar(255) not null references backend(id),
    state jsonb not null,
    created_at timestamptz not null default now()
);
create index backend_state_backend_created on backend_state (backend_id, created_at);
comment on table backend_state is 'History of accepted state changes; the source of status stream replay.';
comment on column backend_state.id is 'Order of the change.';
comment on column backend_state.backend_id is 'Backend the state belongs to.';
comment on column backend_state.state is 'The BackendState JSON.';
comment on column backend_state.created_at is 'Database time of the change.';

create table backend_action (
    id varchar(255) primary key,
    backend_id varchar(255) not null references backend(id),
    drone_id integer not null references drone(id),
    action jsonb not null,
    created_at timestamptz not null default now(),
    acked_at timestamptz
);
create index backend_action_pending on backend_action (drone_id, created_at) where acked_at is null;
create index backend_action_backend on backend_action (backend_id);
create index backend_action_created on backend_action (created_at);
comment on table backend_action is 'Durable queue of actions for drones; re-sent until acked.';
comment on column backend_action.id is 'Action id (ak-...).';
comment on column backend_action.backend_id is 'Backend the action concerns.';
comment on column backend_action.drone_id is 'Drone that must apply it.';
comment on column backend_action.action is 'The full BackendActionMessage JSON.';
comment on column backend_action.created_at is 'When the action was queued.';
comment on column backend_action.acked_at is 'When the drone acked it; null while pending.';

create table backend_key (
    id varchar(255) primary key references backend(id),
    namespace varchar(255) not null,
    key_name varchar(255) not null,
    tag varchar(255) not null,
    expires_at timestamptz not null,
    fencing_token bigint not null,
    allow_renew boolean not null default true
);
create unique index backend_key_namespace_name on backend_key (namespace, key_name);
comment on table backend_key is 'Key leases: at most one live backend per (namespace, key name).';
comment on column backend_key.id is 'Backend holding the key.';
comment on column backend_key.namespace is 'Key namespace.';
comment on column backend_key.key_name is 'Key name.';
comment on column backend_key.tag is 'Tag a connect must match to reuse the backend.';
comment on column backend_key.expires_at is 'Lease expiry (database clock), renewed by the drone.';
comment on column backend_key.fencing_token is 'Increasing token given to the backend for fencing writes.';
comment on column backend_key.allow_renew is 'When false, renewals are refused and the backend terminates on its drone''s schedule.';

create table token (
    token varchar(255) primary key,
    backend_id varchar(255) not null references backend(id),
    expiration_time timestamptz not null,
    username varchar(1024),
    auth jsonb not null,
    secret_token varchar(255) not null
);
create index token_backend on token (backend_id);
create index token_expiration on token (expiration_time);
comment on table token is 'Dynamic connection tokens (1 hour).';
comment on column token.token is 'The connection token (43 base64url characters).';
comment on column token.backend_id is 'Backend the token routes to.';
comment on column token.expiration_time is 'Expiry; expired tokens are refused at lookup and cleaned up.';
comment on column token.username is 'User the token was minted for; the handle for revocation.';
comment on column token.auth is 'JSON forwarded to the backend as x-verified-user-data.';
comment on column token.secret_token is 'Per-token secret forwarded as x-verified-secret.';

create table event (
    id bigserial primary key,
    kind varchar(255) not null,
    key varchar(255),
    created_at timestamptz not null default now(),
    data jsonb not null
);
create index event_created on event (created_at);
comment on table event is 'Event log: every emitted event, announced by NOTIFY carrying only its id.';
comment on column event.id is 'Event id; listeners read rows by id and replay by id after reconnecting.';
comment on column event.kind is 'backend_state, backend_action or node_connection.';
comment on column event.key is 'Subscription key: backend id, drone id, or null.';
comment on column event.created_at is 'Database time of the event.';
comment on column event.data is 'Event payload JSON.';

create table acme_txt_entries (
    cluster varchar(255) primary key,
    leased_at timestamptz not null default now(),
    leased_by integer not null references node(id),
    txt_value varchar(255)
);
comment on table acme_txt_entries is 'Per-cluster ACME DNS-01 lease and TXT value.';
comment on column acme_txt_entries.cluster is 'Cluster the certificate is for.';
comment on column acme_txt_entries.leased_at is 'When the lease was taken; leases expire after one minute.';
comment on column acme_txt_entries.leased_by is 'Proxy node holding the lease.';
comment on column acme_txt_entries.txt_value is 'TXT value the DNS server answers.';
