import assert from "node:assert/strict";
import { mountPathProblem, networkNameProblem } from "./docker_fields.ts";

Deno.test("networkNameProblem() accepts Docker network names", () => {
  for (const name of ["mynet", "my-net_1.a", "host", "none", "bridge", "N", "0net"]) {
    assert.equal(networkNameProblem(name), null, name);
  }
});

Deno.test("networkNameProblem() refuses container:* and what Docker's name rule refuses", () => {
  for (
    const name of ["container:x", "container:plane-victim", "", "-net", "a/b", "a b", "a:b", "é"]
  ) {
    assert.match(networkNameProblem(name)!, /Invalid executable\.network_name/, name);
  }
});

Deno.test("mountPathProblem() accepts relative paths of plain components", () => {
  for (const path of ["data", "a/b/c", "room-1.v2", "with space", "a,b"]) {
    assert.equal(mountPathProblem(path), null, path);
  }
});

Deno.test("mountPathProblem() refuses ':', control characters and paths leaving the base", () => {
  for (const path of ["x:/etc", "a:b", "a\nb", "a\0b", "/etc", "", "a//b", "../x", "a/./b", "a/"]) {
    assert.match(mountPathProblem(path)!, /Invalid mount path/, JSON.stringify(path));
  }
  assert.match(mountPathProblem("x:/etc")!, /':'/);
});
