/**
 * A port the OS just handed out on `hostname`. The executors give it to a backend (a local
 * process, or a container on the host network) as `PORT`, and the backend binds it right after:
 * another process could take it in between, a small race accepted because the backend, not the
 * drone, must hold the socket. Tests take their ports from here too (`testing/free_port.ts`), so
 * there is one implementation.
 */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
