import { runExecutorConformance } from "./conformance.ts";
import { FakeExecutor } from "./fake.ts";

runExecutorConformance("FakeExecutor", () => {
  const executor = new FakeExecutor(["echo"]);
  return Promise.resolve({
    executor,
    image: "echo",
    [Symbol.asyncDispose]: () => executor.close(),
  });
});
